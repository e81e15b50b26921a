#include "app/use_cases/read_presence.h"

#include <algorithm>
#include <iterator>

namespace parley {

static_assert(UseCase<ReadPresence>);

void ReadPresence::handle(const Command& cmd, Done<Reply> done) {
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return done(access.error());
  }
  auto online = s_.presence.online(cmd.room);
  if (s_.remote_presence) {
    // Both lists are sorted and unique: merge them into one.
    auto remote = s_.remote_presence->online(cmd.room);
    std::vector<std::string> all;
    all.reserve(online.size() + remote.size());
    std::set_union(online.begin(), online.end(), remote.begin(), remote.end(),
                   std::back_inserter(all));
    online = std::move(all);
  }
  done(Reply{std::move(online)});
}

}  // namespace parley

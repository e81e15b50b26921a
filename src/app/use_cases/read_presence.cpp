#include "app/use_cases/read_presence.h"

#include <algorithm>
#include <iterator>

#include "app/use_cases/room_access.h"

namespace parley {

static_assert(UseCase<ReadPresence>);

void ReadPresence::handle(const Command& cmd, Done<Reply> done) {
  with_access(s_, cmd.room, cmd.user, std::move(done),
              [this, cmd](Done<Reply> done) { list(cmd, std::move(done)); });
}

void ReadPresence::list(const Command& cmd, Done<Reply> done) {
  // The access check may have waited (a sync of the room's partition): the answer is read now
  // only if the ttl has not answered the command already.
  if (!claim_deadline(s_, cmd.deadline)) return done(expired_error());
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

#include "app/use_cases/read_history.h"

#include <algorithm>

#include "app/use_cases/room_access.h"

namespace parley {

static_assert(UseCase<ReadHistory>);

void ReadHistory::handle(const Command& cmd, Done<Reply> done) {
  if (cmd.before && *cmd.before < 1) {
    return done(make_error(Errc::bad_request, "before must be a seq >= 1"));
  }
  if (cmd.limit && *cmd.limit < 1) {
    return done(make_error(Errc::bad_request, "limit must be between 1 and 200"));
  }
  int limit = cmd.limit
                  ? static_cast<int>(std::min<int64_t>(*cmd.limit, s_.limits.history_max_limit))
                  : s_.limits.history_default_limit;
  auto read = [this, room = cmd.room, before = cmd.before.value_or(0), limit,
               done = std::move(done)](Status access) mutable {
    if (!access) return done(access.error());
    s_.history->read_before(room, before, limit, std::move(done));
  };
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return recheck_access(s_, cmd.room, cmd.user, std::move(read));
  }
  read(Ok{});
}

}  // namespace parley

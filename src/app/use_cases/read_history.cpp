#include "app/use_cases/read_history.h"

#include <algorithm>

namespace parley {

static_assert(UseCase<ReadHistory>);

void ReadHistory::handle(const Command& cmd, Done<Reply> done) {
  if (cmd.before && *cmd.before < 1) {
    return done(make_error(Errc::bad_request, "before must be a seq >= 1"));
  }
  if (cmd.limit && *cmd.limit < 1) {
    return done(make_error(Errc::bad_request, "limit must be between 1 and 200"));
  }
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return done(access.error());
  }
  int limit = cmd.limit
                  ? static_cast<int>(std::min<int64_t>(*cmd.limit, s_.limits.history_max_limit))
                  : s_.limits.history_default_limit;
  s_.history->read_before(cmd.room, cmd.before.value_or(0), limit, std::move(done));
}

}  // namespace parley

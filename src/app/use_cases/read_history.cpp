#include "app/use_cases/read_history.h"

#include <algorithm>

namespace parley {

static_assert(UseCase<ReadHistory>);

void ReadHistory::handle(const Command& cmd, Done<Reply> done) {
  if (cmd.before < 0) return done(make_error(Errc::bad_request, "before must be a positive seq"));
  if (cmd.limit < 0) return done(make_error(Errc::bad_request, "limit must be at least 1"));
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return done(access.error());
  }
  int limit = cmd.limit == 0 ? s_.limits.history_default_limit
                             : std::min(cmd.limit, s_.limits.history_max_limit);
  s_.log->read_before(cmd.room, cmd.before, limit, std::move(done));
}

}  // namespace parley

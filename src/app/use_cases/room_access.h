#pragma once
// The access check of every command on a room, when the directory says no. The directory
// follows the room store's change feed, which (in a cluster) may be a few milliseconds behind
// what another instance already acknowledged: a room created or an invitation made there. So
// before a room is refused, the store is asked to sync the room, and the directory is asked
// again. Only refusals pay for it; an allowed command never waits.
#include <functional>
#include <string>
#include <utility>

#include "app/services.h"

namespace parley {

/// Calls @p done with the directory's answer for (@p room, @p user) once the room store has
/// synced @p room. Call it after check_access refused. @p done may run on another thread.
inline void recheck_access(Services& s, std::string room, std::string user,
                           std::function<void(Status)> done) {
  if (!s.rooms) return done(s.directory.check_access(room, user));
  auto again = [&s, room, user = std::move(user), done = std::move(done)] {
    done(s.directory.check_access(room, user));
  };
  s.rooms->sync(std::move(room), std::move(again));
}

/// Calls @p allowed(done) if @p user may access @p room, asking again after a sync when the
/// directory refuses (recheck_access); otherwise answers @p done with the refusal.
template <typename T, typename Allowed>
void with_access(Services& s, const std::string& room, const std::string& user, Done<T> done,
                 Allowed allowed) {
  if (s.directory.check_access(room, user)) return allowed(std::move(done));
  recheck_access(s, room, user,
                 [done = std::move(done), allowed = std::move(allowed)](Status again) mutable {
                   if (!again) return done(again.error());
                   allowed(std::move(done));
                 });
}

}  // namespace parley

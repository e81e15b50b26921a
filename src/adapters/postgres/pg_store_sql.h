#pragma once
// What the files of PgStore share: how room kinds are stored, array parameters, running one
// statement for its effect, and the rate limit of repeated error logs. Internal to PgStore.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "adapters/postgres/pg_connection.h"
#include "domain/result.h"
#include "domain/room.h"

namespace parley::pg_store_detail {

// What a queued job holds, roughly (the job, its callback and captures); strings are added.
constexpr size_t kJobOverhead = 512;

inline int64_t kind_code(RoomKind k) {
  switch (k) {
    case RoomKind::public_room:
      return 0;
    case RoomKind::private_room:
      return 1;
    case RoomKind::direct:
      return 2;
  }
  return 0;
}

inline RoomKind kind_of(int64_t code) {
  if (code == 1) return RoomKind::private_room;
  if (code == 2) return RoomKind::direct;
  return RoomKind::public_room;
}

// At most one log line a second for a failure that may repeat per job.
inline bool log_now(std::atomic<int64_t>& last) {
  int64_t now = pg::steady_ms();
  int64_t prev = last.load(std::memory_order_relaxed);
  return now - prev >= 1000 && last.compare_exchange_strong(prev, now);
}

inline std::string int_array(const std::vector<int32_t>& v) {
  pg::TextArray a;
  for (int32_t x : v) a.add(int64_t{x});
  return a.take();
}

inline Status run(pg::Connection& c, const pg::Statement& s, const pg::Params& p) {
  auto r = c.exec(s, p);
  if (!r) return r.error();
  return Ok{};
}

}  // namespace parley::pg_store_detail

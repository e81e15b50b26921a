// ClusterLog's partitions: an instance reads a partition of the log only once a command of its
// clients needs a room there. Reading every partition would make every instance pay for every
// message of the cluster, whoever serves it (docs/scaling.md, "Capacity").
//
// The first command on a partition starts its load, on a reader thread: the partition's
// snapshot from PostgreSQL at the offset the persister stored (rooms, heads, the dedupe
// window), the partition added to the tail there, and a wait until the fold reached the log's
// end as it was then. A seq is its record's offset + 1 and the fold is deterministic, so the
// heads and decisions are the same as if this instance had read the partition all along. The
// commands that came meanwhile run after it, in the order they came (one connection's sends
// keep their order). A partition once read stays read.
#include <spdlog/spdlog.h>

#include "adapters/cluster/cluster_log.h"
#include "app/metrics.h"

namespace parley {

namespace {
// How long a load waits for the fold to reach the log's end before its commands go on (a long
// backlog past the persister); they are answered when their records are folded anyway.
constexpr int kLoadCatchUpMs = 30000;
}  // namespace

void ClusterLog::when_followed(int32_t partition, std::function<void(Status)> then) {
  if (followed_[partition].load(std::memory_order_acquire)) return then(Ok{});
  {
    std::lock_guard lock(follow_mu_);
    // Set only under follow_mu_, once the waiters ran: checked again here, it is final.
    if (followed_[partition].load(std::memory_order_acquire)) {
      // Fall through to run it outside the lock.
    } else {
      PartitionFollow& f = follows_[partition];
      f.waiters.push_back(std::move(then));
      if (f.loading) return;
      f.loading = true;
      readers_->run([this, partition] { start_following(partition); });
      return;
    }
  }
  then(Ok{});
}

void ClusterLog::start_following(int32_t partition) {
  Status loaded = load_partition(partition);
  if (!loaded) {
    spdlog::warn("log partition {}: cannot start reading it: {}", partition,
                 loaded.error().message);
  }
  // The waiters run in order, and those that come while they run too, before the partition is
  // marked read: a command that finds it read never overtakes one that waited.
  for (;;) {
    std::vector<std::function<void(Status)>> waiters;
    {
      std::lock_guard lock(follow_mu_);
      PartitionFollow& f = follows_[partition];
      if (f.waiters.empty()) {
        f.loading = false;
        if (loaded) {
          followed_[partition].store(true, std::memory_order_release);
          Metrics::global().log_partitions_read.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      waiters.swap(f.waiters);
    }
    for (auto& w : waiters) w(loaded);
  }
}

Status ClusterLog::load_partition(int32_t partition) {
  if (stopping_.load()) return make_error(Errc::unavailable, "the server is shutting down");
  if (!tail_) return make_error(Errc::unavailable, "the log is not followed yet");
  auto snapshots = store_->load_snapshots({partition}, options_.dedupe_window);
  if (!snapshots) return snapshots.error();
  if (snapshots->size() != 1) {
    return make_error(Errc::unavailable, "no snapshot of the log's partition");
  }
  PartitionSnapshot& snap = snapshots->front();
  const int64_t next = snap.next_offset;
  std::vector<Room> rooms = snap.rooms;
  // Read after the snapshot: the backlog ends at or past the snapshot's offset.
  auto end = producer_->high_watermark(kafka_.messages(), partition, kLoadCatchUpMs);
  if (!end) return end.error();
  {
    std::lock_guard fold_lock(fold_mu_);
    backlog_end_[static_cast<size_t>(partition)] = *end;
    {
      std::lock_guard lock(state_mu_);
      for (const auto& [room, seq] : snap.heads) heads_[room] = seq;
      index_floor_[partition] = next;
      folded_next_[partition] = next;
      tail_index_.erase(partition);
    }
    fold_.load(std::move(snap));
  }
  // The directory may have missed changes made since it was loaded (an invitation elsewhere).
  for (auto& room : rooms) {
    if (room_sink_) room_sink_(RoomChange::loaded(std::move(room)));
  }
  if (!tail_->add(partition, next)) {
    return make_error(Errc::unavailable, "the log's tail cannot read the partition");
  }
  spdlog::debug("log partition {}: reading from offset {}", partition, next);
  if (!catch_up(partition, kLoadCatchUpMs)) {
    // Its commands go on, and what is folded from now on is fanned out: a joiner may get
    // part of the backlog live (held, and deduplicated by seq, while it replays) rather than
    // miss any of it.
    spdlog::warn("log partition {}: not caught up within {} ms; going on", partition,
                 kLoadCatchUpMs);
    std::lock_guard fold_lock(fold_mu_);
    backlog_end_[static_cast<size_t>(partition)] = 0;
  }
  return Ok{};
}

}  // namespace parley

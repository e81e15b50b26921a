#include "adapters/cluster/persister.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "adapters/cluster/fold_driver.h"
#include "adapters/kafka/kafka_group_consumer.h"
#include "app/metrics.h"
#include "runtime/log_trace.h"

namespace parley {

Persister::Persister(PersisterOptions options, std::shared_ptr<PgStore> store)
    : options_(std::move(options)), store_(std::move(store)), fold_(options_.dedupe_window) {}

std::map<int32_t, int64_t> Persister::load(const std::vector<int32_t>& partitions,
                                           const std::atomic<bool>* stop) {
  std::map<int32_t, int64_t> start;
  for (;;) {
    auto snapshots = store_->load_snapshots(partitions, options_.dedupe_window);
    if (snapshots) {
      for (auto& snap : *snapshots) {
        start[snap.partition] = snap.next_offset;
        fold_.load(std::move(snap));
      }
      return start;
    }
    spdlog::warn("persister: cannot load partitions from PostgreSQL ({}); retrying",
                 snapshots.error().message);
    if (stop != nullptr && stop->load()) return start;
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_ms));
  }
}

// A partition this member now owns starts where PostgreSQL's copy of it ends, with the fold
// state of that copy: whatever an earlier owner stored, and nothing it did not.
std::map<int32_t, int64_t> Persister::assigned(const std::vector<int32_t>& partitions) {
  auto start = load(partitions, nullptr);
  spdlog::info("persister: assigned {} partitions", partitions.size());
  return start;
}

PersistBatch Persister::fold(const std::vector<Consumed>& records,
                             std::vector<StoredTrace>* traced) {
  PersistBatch batch;
  std::map<int32_t, OffsetAdvance> moved;
  for (const Consumed& c : records) {
    // Only a partition loaded from PostgreSQL: folding one from an empty state would refuse
    // its sends (no such room) and move its offset past messages never stored.
    if (!fold_.holds(c.partition)) continue;
    // Where this batch starts in the partition: PostgreSQL must still say so (the fence).
    if (moved.count(c.partition) == 0 && c.offset >= fold_.next_offset(c.partition)) {
      moved.emplace(c.partition, OffsetAdvance{c.partition, fold_.next_offset(c.partition), 0});
    }
    FoldStep step = fold_consumed(fold_, c);
    if (step.kind == FoldStep::Kind::already_folded) continue;
    if (step.kind != FoldStep::Kind::folded) continue;
    Folded& outcome = step.outcome;
    if (traced != nullptr && !c.trace.empty()) {
      bool stored = outcome.kind == Folded::Kind::message ||
                    outcome.kind == Folded::Kind::room_created ||
                    outcome.kind == Folded::Kind::member_added;
      if (stored) {
        traced->push_back(StoredTrace{c.trace, outcome.kind, step.record->room, outcome.message.seq,
                                      c.partition, c.offset});
      }
    }
    switch (outcome.kind) {
      case Folded::Kind::message:
        batch.messages.push_back(PersistedMessage{c.partition, std::move(outcome.message)});
        break;
      case Folded::Kind::room_created:
        batch.created_rooms.push_back(CreatedRoom{c.partition, std::move(outcome.room)});
        break;
      case Folded::Kind::member_added:
        batch.added_members.emplace_back(outcome.room.name, outcome.member);
        break;
      default:
        break;  // refusals, duplicates, expiries store nothing (the origin records expiries)
    }
  }
  for (auto& [partition, advance] : moved) {
    advance.to = fold_.next_offset(partition);
    batch.offsets.push_back(advance);
  }
  return batch;
}

Persister::Stored Persister::store(const PersistBatch& batch, KafkaGroupConsumer& consumer,
                                   const std::atomic<bool>& stop) {
  for (;;) {
    int64_t start = monotonic_ns();
    Status st = store_->persist(batch);
    if (st) {
      Metrics::global().storage_commit_seconds.observe(
          static_cast<uint64_t>(monotonic_ns() - start));
      return Stored::yes;
    }
    if (st.error().code == Errc::conflict) {
      // Another persister stored these partitions past where this one started (it owned them
      // while this one was paused or being revoked). This batch is stale: drop it, take the
      // partitions up again from PostgreSQL. If they are no longer ours, the next poll revokes
      // them; meanwhile any batch of ours is refused the same way.
      stale_batches_.fetch_add(1);
      std::vector<int32_t> partitions;
      for (const OffsetAdvance& a : batch.offsets) partitions.push_back(a.partition);
      spdlog::warn("persister: stale batch ({}); reloading {} partition(s)", st.error().message,
                   partitions.size());
      for (const auto& [p, offset] : load(partitions, &stop)) {
        if (Status s = consumer.seek(p, offset); !s) {
          // Not assigned any more (a revoke is on its way): the state is dropped then.
          spdlog::warn("persister: partition {}: {}", p, s.error().message);
        }
      }
      return Stored::stale;
    }
    spdlog::warn("persister: batch of {} messages not stored ({}); retrying", batch.messages.size(),
                 st.error().message);
    if (stop.load()) return Stored::stopping;
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_ms));
  }
}

void Persister::log_stored(const std::vector<StoredTrace>& traced) {
  for (const StoredTrace& t : traced) {
    LogTraceScope scope(t.trace);
    const char* what = t.kind == Folded::Kind::message        ? "message"
                       : t.kind == Folded::Kind::room_created ? "room"
                                                              : "member";
    spdlog::debug("persister: stored {} of {} (seq {}, partition {} offset {})", what, t.room,
                  t.seq, t.partition, t.offset);
  }
}

void Persister::run(const std::atomic<bool>& stop, const std::function<void()>& on_ready) {
  GroupCallbacks callbacks;
  callbacks.on_assigned = [this](const std::vector<int32_t>& partitions) {
    return assigned(partitions);
  };
  callbacks.on_revoked = [this](const std::vector<int32_t>& partitions) {
    for (int32_t p : partitions) {
      fold_.drop(p);
      Metrics::forget_lag(Metrics::global().persister_lag_records, p);  // another member's now
    }
    spdlog::info("persister: {} partitions revoked", partitions.size());
  };
  KafkaGroupConsumer consumer(options_.kafka, options_.kafka.messages(),
                              options_.kafka.topic_prefix + "parley.persister", callbacks);
  if (on_ready) on_ready();
  while (!stop.load()) {
    auto records = consumer.poll(options_.poll_ms, options_.max_batch);
    if (records.empty()) continue;
    // Which traced records each batch stored: debug lines, so collected only at debug.
    std::vector<StoredTrace> traced;
    bool debug = spdlog::should_log(spdlog::level::debug);
    PersistBatch batch = fold(records, debug ? &traced : nullptr);
    if (batch.empty()) continue;
    // The batch is kept until PostgreSQL takes it: nothing is polled (or committed) meanwhile.
    Stored stored = store(batch, consumer, stop);
    if (stored == Stored::stopping) break;
    if (stored == Stored::stale) continue;
    persisted_.fetch_add(batch.messages.size());
    log_stored(traced);
    std::map<int32_t, int64_t> next;
    for (const OffsetAdvance& a : batch.offsets) {
      next[a.partition] = a.to;
      if (int64_t high = consumer.high_watermark(a.partition); high >= 0) {
        Metrics::set_lag(Metrics::global().persister_lag_records, a.partition, high - a.to);
      }
    }
    if (Status st = consumer.commit(next); !st) {
      // PostgreSQL's offsets are the ones that count; Kafka's are a fallback.
      spdlog::warn("persister: offset commit failed: {}", st.error().message);
    }
  }
  consumer.close();
}

}  // namespace parley

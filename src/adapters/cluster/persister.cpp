#include "adapters/cluster/persister.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "adapters/kafka/kafka_group_consumer.h"
#include "adapters/kafka/record_codec.h"

namespace parley {

Persister::Persister(PersisterOptions options, std::shared_ptr<PgStore> store)
    : options_(std::move(options)), store_(std::move(store)), fold_(options_.dedupe_window) {}

// A partition this member now owns starts where PostgreSQL's copy of it ends, with the fold
// state of that copy: whatever an earlier owner stored, and nothing it did not.
std::map<int32_t, int64_t> Persister::assigned(const std::vector<int32_t>& partitions) {
  std::map<int32_t, int64_t> start;
  for (;;) {
    auto snapshots = store_->load_snapshots(partitions, options_.dedupe_window);
    if (snapshots) {
      for (auto& snap : *snapshots) {
        start[snap.partition] = snap.next_offset;
        fold_.load(std::move(snap));
      }
      spdlog::info("persister: assigned {} partitions", partitions.size());
      return start;
    }
    spdlog::warn("persister: cannot load partitions from PostgreSQL ({}); retrying",
                 snapshots.error().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_ms));
  }
}

PersistBatch Persister::fold(const std::vector<Consumed>& records) {
  PersistBatch batch;
  std::map<int32_t, int64_t> next;
  for (const Consumed& c : records) {
    next[c.partition] = c.offset + 1;
    auto record = decode_record(c.value);
    if (!record) {
      spdlog::warn("persister: partition {} offset {} is not a record ({}); skipped", c.partition,
                   c.offset, record.error().message);
      continue;
    }
    auto outcome = fold_.apply(LogPosition{c.partition, c.offset, c.timestamp_ms}, *record);
    if (!outcome) continue;
    switch (outcome->kind) {
      case Folded::Kind::message:
        batch.messages.push_back(PersistedMessage{c.partition, std::move(outcome->message)});
        break;
      case Folded::Kind::room_created:
        batch.created_rooms.push_back(CreatedRoom{c.partition, std::move(outcome->room)});
        break;
      case Folded::Kind::member_added:
        batch.added_members.emplace_back(outcome->room.name, outcome->member);
        break;
      default:
        break;  // refusals, duplicates, expiries store nothing (the origin records expiries)
    }
  }
  for (const auto& [partition, offset] : next) batch.next_offsets.emplace_back(partition, offset);
  return batch;
}

void Persister::run(const std::atomic<bool>& stop, const std::function<void()>& on_ready) {
  GroupCallbacks callbacks;
  callbacks.on_assigned = [this](const std::vector<int32_t>& partitions) {
    return assigned(partitions);
  };
  callbacks.on_revoked = [this](const std::vector<int32_t>& partitions) {
    for (int32_t p : partitions) fold_.drop(p);
    spdlog::info("persister: {} partitions revoked", partitions.size());
  };
  KafkaGroupConsumer consumer(options_.kafka, options_.kafka.messages(),
                              options_.kafka.topic_prefix + "parley.persister", callbacks);
  if (on_ready) on_ready();
  while (!stop.load()) {
    auto records = consumer.poll(options_.poll_ms, options_.max_batch);
    if (records.empty()) continue;
    PersistBatch batch = fold(records);
    // The batch is kept until PostgreSQL takes it: nothing is polled (or committed) meanwhile.
    for (;;) {
      Status st = store_->persist(batch);
      if (st) break;
      spdlog::warn("persister: batch of {} messages not stored ({}); retrying",
                   batch.messages.size(), st.error().message);
      if (stop.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_ms));
    }
    persisted_.fetch_add(batch.messages.size());
    std::map<int32_t, int64_t> next(batch.next_offsets.begin(), batch.next_offsets.end());
    if (Status st = consumer.commit(next); !st) {
      // PostgreSQL's offsets are the ones that count; Kafka's are a fallback.
      spdlog::warn("persister: offset commit failed: {}", st.error().message);
    }
  }
  consumer.close();
}

}  // namespace parley

// ClusterLog, its life and its fold: the snapshot from PostgreSQL, the tail, the fold of each
// batch and what it publishes (the directory's changes, the fan-out, the answers). The commands
// are in cluster_log_commands.cpp, the reads in cluster_log_reads.cpp.
#include "adapters/cluster/cluster_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "adapters/cluster/fold_driver.h"
#include "adapters/cluster/unknown_outcome.h"
#include "adapters/crypto/random_hex.h"
#include "adapters/kafka/kafka_range_reader.h"
#include "app/metrics.h"
#include "runtime/log_trace.h"

namespace parley {

namespace {

constexpr int kStartTimeoutMs = 15000;

// The log's tail fetches in batches (ClusterLogOptions::fetch_wait_ms).
constexpr const char* kLogTailFetchBytes = "16384";

const char* kind_name(Folded::Kind k) {
  switch (k) {
    case Folded::Kind::message:
      return "message";
    case Folded::Kind::duplicate:
      return "duplicate";
    case Folded::Kind::refused:
      return "refusal";
    case Folded::Kind::expired:
      return "expired command";
    case Folded::Kind::room_created:
      return "room creation";
    case Folded::Kind::member_added:
      return "new member";
    case Folded::Kind::room_exists:
      return "existing room";
  }
  return "record";
}

// One debug line per traced record folded, on every instance that folds it: where a command
// went, by its trace id. A level check only when debug is off (the delivery path).
void log_folded(const Consumed& c, const FoldStep& step) {
  if (c.trace.empty() || !spdlog::should_log(spdlog::level::debug)) return;
  LogTraceScope scope(c.trace);
  const Folded& f = step.outcome;
  spdlog::debug("log: folded {} in {} (partition {} offset {}, seq {}) from {}", kind_name(f.kind),
                step.record->room, c.partition, c.offset,
                f.kind == Folded::Kind::message ? f.message.seq : 0, step.record->origin);
}

}  // namespace

ClusterLog::ClusterLog(ClusterLogOptions options, KafkaOptions kafka,
                       std::shared_ptr<KafkaProducer> producer, std::shared_ptr<PgStore> store,
                       ClockPtr clock, BlockingExecutorPtr readers)
    : options_(std::move(options)),
      kafka_(std::move(kafka)),
      producer_(std::move(producer)),
      store_(std::move(store)),
      clock_(std::move(clock)),
      readers_(std::move(readers)),
      fold_(options_.dedupe_window),
      range_reader_(std::make_unique<KafkaRangeReader>(kafka_, kafka_.messages())) {}

ClusterLog::~ClusterLog() {
  stop();
}

void ClusterLog::load() {
  auto epoch = store_->shared_setting("epoch", [] { return random_hex(8); });
  if (!epoch) throw std::runtime_error("cannot read the cluster's epoch: " + epoch.error().message);
  epoch_ = *epoch;

  partitions_ = kafka_partition_count(producer_->handle(), kafka_.messages(), kStartTimeoutMs);
  if (partitions_ <= 0) {
    throw std::runtime_error("topic " + kafka_.messages() + " has no partitions (or no broker)");
  }
  std::vector<int32_t> all;
  for (int32_t p = 0; p < partitions_; ++p) all.push_back(p);
  // The rooms only (a window of 0): each partition's fold state is loaded when it is read.
  auto snapshots = store_->load_snapshots(all, 0);
  if (!snapshots) {
    throw std::runtime_error("cannot load the rooms from PostgreSQL: " + snapshots.error().message);
  }
  for (auto& snap : *snapshots) {
    loaded_rooms_.insert(loaded_rooms_.end(), std::make_move_iterator(snap.rooms.begin()),
                         std::make_move_iterator(snap.rooms.end()));
  }
  followed_ = std::make_unique<std::atomic<bool>[]>(static_cast<size_t>(partitions_));
  backlog_end_.assign(static_cast<size_t>(partitions_), 0);
}

void ClusterLog::follow() {
  TailCallbacks callbacks;
  callbacks.on_records = [this](std::vector<Consumed>&& batch) { fold_batch(std::move(batch)); };
  callbacks.on_error = [](int32_t partition, Errc, const std::string& error) {
    spdlog::error("log tail, partition {}: {}", partition, error);
  };
  callbacks.on_lag = [](int32_t partition, int64_t behind) {
    Metrics::set_lag(Metrics::global().fold_lag_records, partition, behind);
  };
  // Connected to every broker, not only to the leaders of the partitions it reads: when a
  // leader dies silently, the new leader's metadata comes over a connection already up, instead
  // of after a connection attempt to the dead one (seconds added to the failover).
  const std::vector<KafkaProperty> fetch = {
      {"fetch.min.bytes", kLogTailFetchBytes},
      {"fetch.wait.max.ms", std::to_string(options_.fetch_wait_ms)},
      {"enable.sparse.connections", "false"}};
  tail_ = std::make_unique<KafkaTail>(kafka_, kafka_.messages(), std::map<int32_t, int64_t>{},
                                      std::move(callbacks), kStartTimeoutMs, fetch,
                                      TailScope::given_partitions);
  sweeper_ = std::thread([this] { sweep_loop(); });
}

void ClusterLog::stop() {
  if (stopping_.exchange(true)) return;
  if (sweeper_.joinable()) sweeper_.join();
  if (tail_) tail_->stop();
  // Whatever still waits is answered: nobody else will.
  std::unordered_map<uint64_t, Pending> left;
  {
    std::lock_guard lock(pending_mu_);
    left.swap(pending_);
    deadlines_.clear();
  }
  for (auto& [request, p] : left) {
    Error e = unknown_outcome("the server is shutting down");
    if (p.on_send) p.on_send(e);
    if (p.on_room) p.on_room(e);
  }
}

bool ClusterLog::caught_up() const {
  // A partition the tail cannot read (its offset out of range) is not followed: not ready.
  return tail_ && tail_->caught_up() && tail_->stuck().empty();
}

int32_t ClusterLog::partition_of(const std::string& room) const {
  return kafka_partition_for_key(room, partitions_);
}

// ---- the fold -----------------------------------------------------------------------------

void ClusterLog::fold_batch(std::vector<Consumed>&& batch) {
  std::vector<Message> messages;
  std::vector<std::pair<uint64_t, Folded>> answers;
  std::vector<RoomChange> changes;
  std::vector<std::pair<int32_t, int64_t>> indexed;  // (partition, offset) of each message
  std::vector<RoomChange> own;                       // the changes this instance's commands made
  std::vector<TraceContext> own_traces;              // and their records' traces
  std::vector<size_t> quiet;        // messages of a loaded partition's backlog: no fan-out
  std::map<int32_t, int64_t> next;  // folded_next_, once the changes reached the directory
  // Decoding and folding take no lock a worker waits on, so a worker asking for a head never
  // waits behind a batch of JSON; fold_mu_ is only ever taken by a partition's load besides.
  // state_mu_ only publishes the products.
  uint64_t folded = 0;
  std::unique_lock fold_lock(fold_mu_);
  for (const Consumed& c : batch) {
    next[c.partition] = c.offset + 1;
    FoldStep step = fold_consumed(fold_, c);
    if (step.kind != FoldStep::Kind::folded) continue;
    ++folded;
    log_folded(c, step);
    Folded& outcome = step.outcome;
    // A loaded partition's backlog: what was committed before the load is no news here.
    const bool backlog = c.offset < backlog_end_[static_cast<size_t>(c.partition)];
    switch (outcome.kind) {
      case Folded::Kind::message:
        indexed.emplace_back(c.partition, c.offset);
        messages.push_back(outcome.message);
        if (backlog) quiet.push_back(messages.size() - 1);
        break;
      case Folded::Kind::room_created:
        changes.push_back(backlog ? RoomChange::loaded(outcome.room)
                                  : RoomChange::created(outcome.room));
        break;
      case Folded::Kind::member_added:
        changes.push_back(RoomChange::added(outcome.room.name, outcome.member));
        break;
      default:
        break;
    }
    if (step.record->origin == options_.origin) {
      bool changed =
          outcome.kind == Folded::Kind::room_created || outcome.kind == Folded::Kind::member_added;
      if (changed) {
        own.push_back(changes.back());
        own_traces.push_back(c.trace);
      }
      answers.emplace_back(step.record->request, std::move(outcome));
    }
  }
  fold_lock.unlock();
  count(Metrics::global().log_records_folded_total, folded);
  {
    std::lock_guard lock(state_mu_);
    for (size_t k = 0; k < messages.size(); ++k) {
      const Message& m = messages[k];
      heads_[m.room] = m.seq;
      auto& index = tail_index_[indexed[k].first][m.room];
      index.offsets.push_back(indexed[k].second);
      if (index.offsets.size() > options_.max_indexed_offsets) {
        index.floor = index.offsets.front() + 1;
        index.offsets.pop_front();
      }
    }
  }
  // The directory first, then the fan-out, then the senders: a sender that hears of its
  // message can read it back, and a creator can join its room at once.
  for (const auto& change : changes) {
    if (room_sink_) room_sink_(change);
  }
  for (size_t k = 0; k < own.size(); ++k) {
    // The events record that tells the other instances carries the command's trace.
    LogTraceScope scope(own_traces[k]);
    if (own_change_sink_) own_change_sink_(own[k]);
  }
  {
    std::lock_guard lock(state_mu_);
    for (const auto& [partition, offset] : next) folded_next_[partition] = offset;
  }
  folded_cv_.notify_all();
  if (!quiet.empty()) {
    // Nobody here joined these rooms before the load: every joiner replays up to a head
    // read after it.
    std::vector<Message> live;
    size_t q = 0;
    for (size_t k = 0; k < messages.size(); ++k) {
      if (q < quiet.size() && quiet[q] == k) {
        ++q;
      } else {
        live.push_back(std::move(messages[k]));
      }
    }
    messages.swap(live);
  }
  if (!messages.empty() && sink_) sink_(std::move(messages));
  for (auto& [request, outcome] : answers) answer(request, outcome);
}

void ClusterLog::on_committed(std::function<void(std::vector<Message>)> sink) {
  sink_ = std::move(sink);
}

std::vector<Room> ClusterLog::load_rooms() {
  return loaded_rooms_;
}

void ClusterLog::on_change(std::function<void(const RoomChange&)> sink) {
  room_sink_ = std::move(sink);
}

}  // namespace parley

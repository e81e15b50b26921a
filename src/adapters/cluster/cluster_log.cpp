#include "adapters/cluster/cluster_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "adapters/cluster/fold_driver.h"
#include "adapters/crypto/random_hex.h"
#include "adapters/kafka/kafka_range_reader.h"
#include "adapters/kafka/record_codec.h"

namespace parley {

namespace {

constexpr int kStartTimeoutMs = 15000;
constexpr int kTailReadTimeoutMs = 5000;
constexpr int kCatchUpMs = 2000;
// A page whose persisted offset the index was trimmed past (the persister moved on between
// the PostgreSQL page and the index) is read again: PostgreSQL then has what the index dropped.
constexpr int kPageAttempts = 4;

// The log may have taken the command, and nothing will tell this instance in time.
Error unknown_outcome(const std::string& why) {
  Error e = make_error(Errc::unavailable,
                       why +
                           "; its outcome is unknown (a send may be retried with the same "
                           "client_msg_id)");
  e.outcome_unknown = true;
  return e;
}

// A send record read back from the log, as the message the fold made of it.
Message message_of(const LogRecord& r, const Consumed& c) {
  return Message{r.room, c.offset + 1, r.msg_id, r.user, r.text, c.timestamp_ms, r.client_msg_id};
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
  auto snapshots = store_->load_snapshots(all, options_.dedupe_window);
  if (!snapshots) {
    throw std::runtime_error("cannot load the snapshot from PostgreSQL: " +
                             snapshots.error().message);
  }
  std::map<int32_t, int64_t> start;
  {
    std::lock_guard lock(state_mu_);
    for (auto& snap : *snapshots) {
      start[snap.partition] = snap.next_offset;
      index_floor_[snap.partition] = snap.next_offset;
      folded_next_[snap.partition] = snap.next_offset;
      for (const auto& [room, seq] : snap.heads) heads_[room] = seq;
      loaded_rooms_.insert(loaded_rooms_.end(), snap.rooms.begin(), snap.rooms.end());
      fold_.load(std::move(snap));
    }
  }
  start_ = std::move(start);
}

void ClusterLog::follow() {
  TailCallbacks callbacks;
  callbacks.on_records = [this](std::vector<Consumed>&& batch) { fold_batch(std::move(batch)); };
  callbacks.on_error = [](int32_t partition, Errc, const std::string& error) {
    spdlog::error("log tail, partition {}: {}", partition, error);
  };
  tail_ = std::make_unique<KafkaTail>(kafka_, kafka_.messages(), start_, std::move(callbacks),
                                      kStartTimeoutMs);
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

// ---- commands -----------------------------------------------------------------------------

uint64_t ClusterLog::submit(Pending pending) {
  std::lock_guard lock(pending_mu_);
  uint64_t request = ++next_request_;
  pending.record.origin = options_.origin;
  pending.record.request = request;
  pending.first_produced_ms = clock_->steady_ms();
  pending_.emplace(request, std::move(pending));
  return request;
}

void ClusterLog::produce(uint64_t request) {
  std::string key;
  std::string value;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(request);
    if (it == pending_.end()) return;
    key = it->second.record.room;
    value = encode_record(it->second.record);
    if (it->second.record.deadline_ms != 0)
      deadlines_.emplace(it->second.record.deadline_ms, request);
  }
  Status st = producer_->produce(kafka_.messages(), std::move(key), std::move(value),
                                 [this, request](const Delivery& d) { on_delivery(request, d); });
  if (!st) fail(request, st.error());
}

void ClusterLog::append(AppendRequest request, std::function<void(Result<Appended>)> done) {
  Pending p;
  p.record.kind = RecordKind::send;
  if (request.deadline) {
    int64_t now = clock_->steady_ms();
    // From here on this log answers the deadline: the fold decides whether the record made it,
    // by the broker's append time against the wall-clock deadline it carries.
    if (!request.deadline->claim(now)) {
      return done(make_error(Errc::timeout, "the command expired before it could be sent"));
    }
    p.record.deadline_ms = clock_->now_ms() + std::max<int64_t>(0, request.deadline->at_ms() - now);
  }
  p.record.room = std::move(request.room);
  p.record.user = std::move(request.from);
  p.record.text = std::move(request.text);
  p.record.client_msg_id = std::move(request.client_msg_id);
  p.record.msg_id = random_hex(8);
  p.on_send = std::move(done);
  produce(submit(std::move(p)));
}

void ClusterLog::create_room(Room room, bool if_absent, std::function<void(Status)> done) {
  Pending p;
  p.record.kind = room.kind == RoomKind::direct ? RecordKind::open_dm : RecordKind::create_room;
  p.record.room = room.name;
  p.record.user = room.created_by;
  p.record.is_private = room.kind == RoomKind::private_room;
  if (room.kind == RoomKind::direct) {
    for (const auto& m : room.members) {
      if (m != room.created_by) p.record.target = m;
    }
  }
  p.if_absent = if_absent;
  p.on_room = std::move(done);
  produce(submit(std::move(p)));
}

void ClusterLog::add_member(std::string room, std::string user, std::string invited_by,
                            std::function<void(Status)> done) {
  Pending p;
  p.record.kind = RecordKind::invite;
  p.record.room = std::move(room);
  p.record.target = std::move(user);
  p.record.user = std::move(invited_by);
  p.on_room = std::move(done);
  produce(submit(std::move(p)));
}

void ClusterLog::on_delivery(uint64_t request, const Delivery& d) {
  if (d.ok) {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(request);
    if (it != pending_.end()) {
      it->second.delivered = true;
      it->second.delivered_at = clock_->steady_ms();
    }
    return;  // the fold answers
  }
  int64_t deadline_ms = 0;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(request);
    if (it == pending_.end()) return;
    deadline_ms = it->second.record.deadline_ms;
    if (!d.not_persisted && !d.abandoned) {
      // It may be in the log: only the fold can tell. The sweeper gives up on it later.
      it->second.unknown_since = clock_->steady_ms();
      return;
    }
  }
  if (d.abandoned) {
    // The producer failed (fatal error) with it in flight: no report will ever come, and the
    // log may or may not hold it. Answered now, not after unknown_outcome_ms.
    return fail(request, unknown_outcome("the log's producer failed (" + d.error + ")"));
  }
  // Provably never appended: free to answer now.
  if (deadline_ms != 0 && clock_->now_ms() > deadline_ms) {
    return fail(request, make_error(Errc::timeout, "the log could not take it before its ttl"));
  }
  // Never queued again: a record produced anew would land behind the sends that came after it
  // (a connection's pipelined sends would change order). It was not applied; a retry is safe.
  fail(request, make_error(d.code == Errc::too_large ? Errc::too_large : Errc::unavailable,
                           "the log is unavailable: " + d.error));
}

bool ClusterLog::take(uint64_t request, Pending& out) {
  std::lock_guard lock(pending_mu_);
  auto it = pending_.find(request);
  if (it == pending_.end()) return false;
  out = std::move(it->second);
  pending_.erase(it);
  if (out.record.deadline_ms != 0) {
    auto [from, to] = deadlines_.equal_range(out.record.deadline_ms);
    for (auto d = from; d != to; ++d) {
      if (d->second == request) {
        deadlines_.erase(d);
        break;
      }
    }
  }
  return true;
}

void ClusterLog::fail(uint64_t request, Error error) {
  Pending p;
  if (!take(request, p)) return;
  if (p.on_send) p.on_send(std::move(error));
  if (p.on_room) p.on_room(std::move(error));
}

void ClusterLog::answer(uint64_t request, const Folded& f) {
  Pending p;
  if (!take(request, p)) return;  // answered already (the sweeper's ttl answer, a failure)
  using K = Folded::Kind;
  if (p.on_send) {
    switch (f.kind) {
      case K::message:
        return p.on_send(Appended{f.message, false});
      case K::duplicate:
        return p.on_send(Appended{f.message, true});
      case K::expired:
        return p.on_send(make_error(Errc::timeout, "the log took it after its ttl"));
      default:
        return p.on_send(f.error);
    }
  }
  if (!p.on_room) return;
  switch (f.kind) {
    case K::room_created:
    case K::member_added:
      return p.on_room(Ok{});
    case K::room_exists:
      return p.on_room(p.if_absent ? Status(Ok{})
                                   : Status(make_error(Errc::conflict, "room exists")));
    case K::expired:
      return p.on_room(make_error(Errc::timeout, "the log took it after its ttl"));
    default:
      if (f.error.code == Errc::conflict && p.if_absent) return p.on_room(Ok{});
      return p.on_room(f.error);
  }
}

// The broker may hold records long past their deadline while it is slow or away. At a
// deadline, what is still in librdkafka's queue is purged (it provably never reaches a broker,
// so `timeout` is safe; this producer carries only the log's records, so nothing else is
// dropped). A ttl command still unanswered ttl_grace_ms later (in flight, or taken but not
// folded here) is answered `unavailable`, outcome unknown. Any other command whose delivery
// failed but that may have been appended, or that was delivered but never folded here, is
// given up on after unknown_outcome_ms.
void ClusterLog::sweep_loop() {
  int64_t scanned_at = 0;
  while (!stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.sweep_interval_ms));
    int64_t wall = clock_->now_ms();
    int64_t steady = clock_->steady_ms();
    bool overdue = false;
    bool trim = false;
    std::vector<uint64_t> unknown;
    std::vector<uint64_t> late;
    {
      std::lock_guard lock(pending_mu_);
      // deadlines_ holds only unanswered commands, each for at most ttl_grace_ms past its
      // deadline: this walk is short.
      for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first < wall; ++it) {
        if (it->first + options_.ttl_grace_ms < wall) {
          late.push_back(it->second);
          continue;
        }
        if (it->first <= purged_through_) continue;
        auto p = pending_.find(it->second);
        if (p != pending_.end() && !p->second.delivered && p->second.unknown_since == 0) {
          overdue = true;
        }
      }
      purged_through_ = wall;
      // Giving up is a matter of seconds: the whole table is walked once a second only.
      if (steady - scanned_at >= 1000) {
        scanned_at = steady;
        trim = true;
        for (auto& [request, p] : pending_) {
          int64_t since = p.unknown_since != 0 ? p.unknown_since : p.delivered_at;
          if (since != 0 && steady - since > options_.unknown_outcome_ms) {
            unknown.push_back(request);
          }
        }
      }
    }
    if (overdue) producer_->purge_queued();
    if (trim) {
      // What the persister stored no longer needs the fold's offset index.
      store_->persisted_offsets([this](Result<std::map<int32_t, int64_t>> r) {
        if (!r) return;
        for (const auto& [partition, next] : *r) trim_index(partition, next);
      });
    }
    for (uint64_t request : late) {
      fail(request, unknown_outcome("the log did not confirm the command within its ttl"));
    }
    for (uint64_t request : unknown) {
      fail(request, unknown_outcome("the log did not confirm the command"));
    }
  }
}

// ---- the fold -----------------------------------------------------------------------------

void ClusterLog::fold_batch(std::vector<Consumed>&& batch) {
  std::vector<Message> messages;
  std::vector<std::pair<uint64_t, Folded>> answers;
  std::vector<RoomChange> changes;
  std::vector<std::pair<int32_t, int64_t>> indexed;  // (partition, offset) of each message
  std::map<int32_t, int64_t> next;  // folded_next_, once the changes reached the directory
  // The fold is the tail thread's alone: decoding and folding take no lock, so a worker asking
  // for a head never waits behind a batch of JSON. The lock only publishes the products.
  for (const Consumed& c : batch) {
    next[c.partition] = c.offset + 1;
    FoldStep step = fold_consumed(fold_, c);
    if (step.kind != FoldStep::Kind::folded) continue;
    folded_.fetch_add(1, std::memory_order_relaxed);
    Folded& outcome = step.outcome;
    switch (outcome.kind) {
      case Folded::Kind::message:
        indexed.emplace_back(c.partition, c.offset);
        messages.push_back(outcome.message);
        break;
      case Folded::Kind::room_created:
        changes.push_back(RoomChange::created(outcome.room));
        break;
      case Folded::Kind::member_added:
        changes.push_back(RoomChange::added(outcome.room.name, outcome.member));
        break;
      default:
        break;
    }
    if (step.record->origin == options_.origin) {
      answers.emplace_back(step.record->request, std::move(outcome));
    }
  }
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
  {
    std::lock_guard lock(state_mu_);
    for (const auto& [partition, offset] : next) folded_next_[partition] = offset;
  }
  folded_cv_.notify_all();
  if (!messages.empty() && sink_) sink_(std::move(messages));
  for (auto& [request, outcome] : answers) answer(request, outcome);
}

// ---- reads --------------------------------------------------------------------------------

int64_t ClusterLog::head_of(const std::string& room) const {
  std::lock_guard lock(state_mu_);
  auto it = heads_.find(room);
  return it == heads_.end() ? 0 : it->second;
}

void ClusterLog::head(std::string room, std::function<void(Result<int64_t>)> done) {
  done(head_of(room));
}

// What the persister stored no longer needs the index: PostgreSQL serves it. A read that got
// its PostgreSQL page before this trim notices (the floor passed its persisted offset) and
// reads the page again, so no read ever misses what the trim dropped.
void ClusterLog::trim_index(int32_t partition, int64_t persisted_next) {
  std::lock_guard lock(state_mu_);
  auto& floor = index_floor_[partition];
  if (persisted_next <= floor) return;
  floor = persisted_next;
  auto rooms = tail_index_.find(partition);
  if (rooms == tail_index_.end()) return;
  for (auto it = rooms->second.begin(); it != rooms->second.end();) {
    auto& offsets = it->second.offsets;
    auto keep = std::lower_bound(offsets.begin(), offsets.end(), persisted_next);
    offsets.erase(offsets.begin(), keep);
    it = offsets.empty() ? rooms->second.erase(it) : std::next(it);
  }
}

// A read sees every message acknowledged before it, whichever instance acknowledged it: it first
// waits (briefly) for this instance's tail to fold its partition up to the log's end as it is
// now. A send is acknowledged only once committed, so the high watermark covers it.
void ClusterLog::catch_up(int32_t partition) {
  auto high = producer_->high_watermark(kafka_.messages(), partition, kCatchUpMs);
  if (!high) return;  // Kafka away: read what this instance has
  std::unique_lock lock(state_mu_);
  folded_cv_.wait_for(lock, std::chrono::milliseconds(kCatchUpMs),
                      [&] { return stopping_.load() || folded_next_[partition] >= *high; });
}

void ClusterLog::sync(std::string room, std::function<void()> done) {
  readers_->run([this, room = std::move(room), done = std::move(done)] {
    catch_up(partition_of(room));
    done();
  });
}

// PostgreSQL holds every offset of the room's partition below its persisted offset; the room's
// messages past it are read from the log itself, at the offsets the fold indexed.
void ClusterLog::read_after(std::string room, int64_t after, int limit,
                            std::function<void(Result<Page>)> done) {
  read_page(std::move(room), after, limit, true, kPageAttempts, std::move(done));
}

void ClusterLog::read_before(std::string room, int64_t before, int limit,
                             std::function<void(Result<Page>)> done) {
  read_page(std::move(room), before, limit, false, kPageAttempts, std::move(done));
}

void ClusterLog::read_page(std::string room, int64_t bound, int limit, bool forward, int attempts,
                           std::function<void(Result<Page>)> done) {
  readers_->run([this, room = std::move(room), bound, limit, forward, attempts,
                 done = std::move(done)]() mutable {
    int32_t partition = partition_of(room);
    if (attempts == kPageAttempts) catch_up(partition);
    auto on_page = [this, room, bound, limit, forward, attempts,
                    done = std::move(done)](Result<PgPage> r) mutable {
      on_pg_page(std::move(room), bound, limit, forward, attempts, std::move(r), std::move(done));
    };
    if (forward) {
      store_->read_after(room, bound, limit, std::move(on_page), partition);
    } else {
      store_->read_before(room, bound, limit, std::move(on_page), partition);
    }
  });
}

// Which of the room's indexed offsets a page needs. after: the first `limit` at or past
// max(persisted, bound) (seq > bound). before: the last `limit` in [persisted, bound - 1)
// (seq < bound; bound 0 is the newest).
ClusterLog::TailPlan ClusterLog::plan_tail(const std::string& room, int64_t persisted,
                                           int64_t bound, int limit, bool forward) const {
  TailPlan plan;
  int32_t partition = partition_of(room);
  int64_t from = forward ? std::max(persisted, bound) : persisted;
  int64_t to = !forward && bound > 0 ? bound - 1 : INT64_MAX;
  if (to <= from) return plan;  // all of it is in PostgreSQL
  auto floor = index_floor_.find(partition);
  if (floor != index_floor_.end() && from < floor->second) {
    plan.stale = true;
    return plan;
  }
  auto rooms = tail_index_.find(partition);
  if (rooms == tail_index_.end()) return plan;
  auto it = rooms->second.find(room);
  if (it == rooms->second.end()) return plan;
  const RoomIndex& index = it->second;
  const auto& offsets = index.offsets;
  auto first = std::lower_bound(offsets.begin(), offsets.end(), from);
  auto last = std::lower_bound(first, offsets.end(), to);
  auto n = std::distance(first, last);
  auto take = std::min<std::ptrdiff_t>(n, std::max(limit, 0));
  if (forward) {
    if (from < index.floor) plan.gone = true;
    plan.offsets.assign(first, first + take);
    plan.more = take < n;
  } else {
    // Only the newest `limit` are needed: what the cap dropped matters if they do not suffice.
    if (take < limit && from < index.floor) plan.gone = true;
    plan.offsets.assign(last - take, last);
    plan.more = take < n || from < index.floor;
  }
  return plan;
}

void ClusterLog::on_pg_page(std::string room, int64_t bound, int limit, bool forward, int attempts,
                            Result<PgPage> r, std::function<void(Result<Page>)> done) {
  if (!r) return done(r.error());
  int64_t persisted = r->persisted_next_offset;
  int32_t partition = partition_of(room);
  trim_index(partition, persisted);
  Page page{std::move(r->messages), r->has_more};
  // after: PostgreSQL's messages all precede the log's, so a full page of them is the page.
  if (forward && page.has_more) return done(std::move(page));
  int want = forward ? limit - static_cast<int>(page.messages.size()) : limit;
  TailPlan plan;
  {
    std::lock_guard lock(state_mu_);
    plan = plan_tail(room, persisted, bound, want, forward);
  }
  if (plan.stale) {
    if (attempts > 1)
      return read_page(std::move(room), bound, limit, forward, attempts - 1, std::move(done));
    return done(make_error(Errc::unavailable, "the history moved while it was read; retry"));
  }
  if (plan.gone) {
    return done(
        make_error(Errc::unavailable, "this part of the history is not stored yet; retry shortly"));
  }
  auto merge = [forward, limit](Page page, std::vector<Message> tail, bool more) {
    if (forward) {
      page.messages.insert(page.messages.end(), std::make_move_iterator(tail.begin()),
                           std::make_move_iterator(tail.end()));
      page.has_more = more;
      return page;
    }
    // The newest `limit` of (stored, then the log's), oldest first.
    auto& all = page.messages;
    size_t keep = static_cast<size_t>(limit) - std::min(tail.size(), static_cast<size_t>(limit));
    if (all.size() > keep) {
      all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(keep));
      page.has_more = true;
    }
    page.has_more = page.has_more || more;
    all.insert(all.end(), std::make_move_iterator(tail.begin()),
               std::make_move_iterator(tail.end()));
    return page;
  };
  if (plan.offsets.empty()) return done(merge(std::move(page), {}, plan.more));
  // The log is read on a reader thread, not on PostgreSQL's.
  readers_->run([this, room = std::move(room), partition, plan = std::move(plan),
                 page = std::move(page), merge, done = std::move(done)]() mutable {
    if (read_hook_) read_hook_();
    auto tail = read_tail(room, partition, plan.offsets);
    if (!tail) return done(tail.error());
    done(merge(std::move(page), std::move(tail).value(), plan.more));
  });
}

// The messages at @p offsets, which the fold applied as the room's messages.
Result<std::vector<Message>> ClusterLog::read_tail(const std::string& room, int32_t partition,
                                                   const std::vector<int64_t>& offsets) {
  auto records = range_reader_->read_offsets(partition, offsets, kTailReadTimeoutMs);
  if (!records) return records.error();
  std::vector<Message> tail;
  tail.reserve(records->size());
  for (const Consumed& c : *records) {
    auto record = decode_record(c.value);
    if (c.key != room || !record || record->kind != RecordKind::send) {
      spdlog::error("log partition {} offset {}: indexed as a message of {}, but it is not",
                    partition, c.offset, room);
      continue;
    }
    tail.push_back(message_of(*record, c));
  }
  if (tail.size() != offsets.size()) {
    return make_error(Errc::unavailable, "the log no longer holds part of this history");
  }
  return tail;
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

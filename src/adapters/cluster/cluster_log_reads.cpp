// ClusterLog's reads: heads, history pages and resumes. PostgreSQL serves what the persister
// stored; past it the fold's per-room offset index says which records to read from Kafka.
// A refusal (not_found, forbidden) first waits for the room's partition (sync).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "adapters/cluster/cluster_log.h"
#include "adapters/kafka/kafka_range_reader.h"
#include "adapters/kafka/record_codec.h"

namespace parley {

namespace {

constexpr int kTailReadTimeoutMs = 5000;
constexpr int kCatchUpMs = 2000;
// A page whose persisted offset the index was trimmed past (the persister moved on between
// the PostgreSQL page and the index) is read again: PostgreSQL then has what the index dropped.
constexpr int kPageAttempts = 4;

// A send record read back from the log, as the message the fold made of it.
Message message_of(const LogRecord& r, const Consumed& c) {
  return Message{r.room, c.offset + 1, r.msg_id, r.user, r.text, c.timestamp_ms, r.client_msg_id};
}

}  // namespace

// ---- reads --------------------------------------------------------------------------------

int64_t ClusterLog::head_of(const std::string& room) const {
  std::lock_guard lock(state_mu_);
  auto it = heads_.find(room);
  return it == heads_.end() ? 0 : it->second;
}

void ClusterLog::head(std::string room, std::function<void(Result<int64_t>)> done) {
  int32_t partition = partition_of(room);
  when_followed(partition, [this, room = std::move(room), done = std::move(done)](Status read) {
    if (!read) return done(read.error());
    done(head_of(room));
  });
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
bool ClusterLog::catch_up(int32_t partition, int timeout_ms) {
  auto high = producer_->high_watermark(kafka_.messages(), partition, kCatchUpMs);
  if (!high) return false;  // Kafka away: read what this instance has
  std::unique_lock lock(state_mu_);
  return folded_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return stopping_.load() || folded_next_[partition] >= *high;
  }) && !stopping_.load();
}

void ClusterLog::sync(std::string room, std::function<void()> done) {
  int32_t partition = partition_of(room);
  when_followed(partition, [this, partition, done = std::move(done)](Status) {
    readers_->run([this, partition, done = std::move(done)] {
      catch_up(partition);
      done();
    });
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
  if (attempts < kPageAttempts) {
    return read_followed_page(std::move(room), bound, limit, forward, attempts, std::move(done));
  }
  // The index past the persisted offset is the fold's: the partition is read first.
  int32_t partition = partition_of(room);
  when_followed(partition, [this, room = std::move(room), bound, limit, forward, attempts,
                            done = std::move(done)](Status read) mutable {
    if (!read) return done(read.error());
    read_followed_page(std::move(room), bound, limit, forward, attempts, std::move(done));
  });
}

void ClusterLog::read_followed_page(std::string room, int64_t bound, int limit, bool forward,
                                    int attempts, std::function<void(Result<Page>)> done) {
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
    if (!c.authentic || c.key != room || !record || record->kind != RecordKind::send) {
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

}  // namespace parley

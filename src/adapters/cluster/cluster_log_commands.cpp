// ClusterLog's commands: each becomes a record produced to the log, waits for its delivery and
// for this instance's tail to fold it, and is answered with the fold's decision; the sweeper
// answers those that cannot wait any longer (a ttl past its grace, an outcome never known).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "adapters/cluster/cluster_log.h"
#include "adapters/cluster/unknown_outcome.h"
#include "adapters/crypto/random_hex.h"
#include "adapters/kafka/record_codec.h"
#include "runtime/log_trace.h"

namespace parley {

// ---- commands -----------------------------------------------------------------------------

uint64_t ClusterLog::submit(Pending pending) {
  std::lock_guard lock(pending_mu_);
  uint64_t request = ++next_request_;
  pending.record.origin = options_.origin;
  pending.record.request = request;
  pending.first_produced_ms = clock_->steady_ms();
  if (pending.record.deadline_ms != 0) deadlines_.emplace(pending.record.deadline_ms, request);
  pending_.emplace(request, std::move(pending));
  return request;
}

void ClusterLog::submit_when_followed(Pending pending) {
  int32_t partition = partition_of(pending.record.room);
  uint64_t request = submit(std::move(pending));
  when_followed(partition, [this, request](Status loaded) {
    if (loaded) return produce(request);
    // Nothing was produced: a retry is safe.
    fail(request, make_error(Errc::unavailable,
                             "cannot read the room's part of the log: " + loaded.error().message));
  });
}

void ClusterLog::produce(uint64_t request) {
  std::string key;
  std::string value;
  std::array<char, TraceContext::kHeaderChars> traceparent{};
  bool traced = false;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(request);
    if (it == pending_.end()) return;  // answered while it waited for its partition
    it->second.produced = true;
    key = it->second.record.room;
    value = encode_record(it->second.record);
    if (!it->second.trace.empty()) {
      traceparent = it->second.trace.header();
      traced = true;
    }
  }
  Status st = producer_->produce(
      kafka_.messages(), std::move(key), std::move(value),
      [this, request](const Delivery& d) { on_delivery(request, d); },
      traced ? std::string_view(traceparent.data(), traceparent.size()) : std::string_view{});
  if (!st) fail(request, st.error());
}

bool ClusterLog::claim_for_the_log(const DeadlinePtr& deadline, LogRecord& record) {
  if (!deadline) return true;
  int64_t now = clock_->steady_ms();
  // From here on this log answers the deadline: the fold decides whether the record made it,
  // by the broker's append time against the wall-clock deadline it carries.
  if (!deadline->claim(now)) return false;
  record.deadline_ms = clock_->now_ms() + std::max<int64_t>(0, deadline->at_ms() - now);
  return true;
}

void ClusterLog::append(AppendRequest request, std::function<void(Result<Appended>)> done) {
  Pending p;
  p.record.kind = RecordKind::send;
  if (!claim_for_the_log(request.deadline, p.record)) return done(expired_error());
  p.record.room = std::move(request.room);
  p.record.user = std::move(request.from);
  p.record.text = std::move(request.text);
  p.record.client_msg_id = std::move(request.client_msg_id);
  p.record.msg_id = random_hex(8);
  p.trace = request.trace;
  p.on_send = std::move(done);
  submit_when_followed(std::move(p));
}

void ClusterLog::create_room(Room room, bool if_absent, DeadlinePtr deadline,
                             std::function<void(Status)> done) {
  Pending p;
  if (!claim_for_the_log(deadline, p.record)) return done(expired_error());
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
  // RoomStore's calls carry no trace: the one of the command this worker is handling, if any
  // (the gateway's scope around its op handler), goes with the record.
  if (const TraceContext* t = LogTraceScope::current()) p.trace = *t;
  submit_when_followed(std::move(p));
}

void ClusterLog::add_member(std::string room, std::string user, std::string invited_by,
                            DeadlinePtr deadline, std::function<void(Status)> done) {
  Pending p;
  if (!claim_for_the_log(deadline, p.record)) return done(expired_error());
  p.record.kind = RecordKind::invite;
  p.record.room = std::move(room);
  p.record.target = std::move(user);
  p.record.user = std::move(invited_by);
  p.on_room = std::move(done);
  if (const TraceContext* t = LogTraceScope::current()) p.trace = *t;
  submit_when_followed(std::move(p));
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
    std::vector<uint64_t> unsent;  // past their deadline, still waiting for their partition
    {
      std::lock_guard lock(pending_mu_);
      // deadlines_ holds only unanswered commands, each for at most ttl_grace_ms past its
      // deadline: this walk is short.
      for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first < wall; ++it) {
        auto p = pending_.find(it->second);
        if (p != pending_.end() && !p->second.produced) {
          unsent.push_back(it->second);
          continue;
        }
        if (it->first + options_.ttl_grace_ms < wall) {
          late.push_back(it->second);
          continue;
        }
        if (it->first <= purged_through_) continue;
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
    // Never produced (and if its partition's load ends now, the fold finds it expired anyway).
    for (uint64_t request : unsent) {
      fail(request, make_error(Errc::timeout, "the log could not take it before its ttl"));
    }
    for (uint64_t request : late) {
      fail(request, unknown_outcome("the log did not confirm the command within its ttl"));
    }
    for (uint64_t request : unknown) {
      fail(request, unknown_outcome("the log did not confirm the command"));
    }
  }
}

}  // namespace parley

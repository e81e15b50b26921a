#include "app/cluster/cluster_presence.h"

#include <algorithm>
#include <iterator>
#include <tuple>

namespace parley {

namespace {

void sort_changes(std::vector<MemberChange>& changes) {
  std::sort(changes.begin(), changes.end(), [](const MemberChange& a, const MemberChange& b) {
    return std::tie(a.room, a.user, a.kind) < std::tie(b.room, b.user, b.kind);
  });
}

}  // namespace

ClusterPresence::ClusterPresence(Options options) : options_(std::move(options)) {}

bool ClusterPresence::add_remote(const Pair& pair) {
  Here& here = rooms_[pair.first][pair.second];
  const bool was_online = here.remote > 0 || here.local;
  ++here.remote;
  return !was_online;
}

bool ClusterPresence::remove_remote(const Pair& pair) {
  auto room = rooms_.find(pair.first);
  if (room == rooms_.end()) return false;
  auto user = room->second.find(pair.second);
  if (user == room->second.end() || user->second.remote == 0) return false;
  --user->second.remote;
  const bool still_online = user->second.remote > 0 || user->second.local;
  erase_if_gone(pair.first, pair.second);
  return !still_online;
}

void ClusterPresence::erase_if_gone(const std::string& room, const std::string& user) {
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return;
  auto u = r->second.find(user);
  if (u != r->second.end() && u->second.remote == 0 && !u->second.local) r->second.erase(u);
  if (r->second.empty()) rooms_.erase(r);
}

ClusterPresence::Instances::iterator ClusterPresence::touch(const std::string& instance,
                                                            int64_t now_ms) {
  auto it = instances_.find(instance);
  if (it == instances_.end()) {
    if (instances_.size() >= options_.max_instances) {
      ++dropped_heartbeats_;
      return instances_.end();
    }
    it = instances_.emplace(instance, Instance{}).first;
    it->second.last_seen_ms = now_ms;
  }
  it->second.last_seen_ms = std::max(it->second.last_seen_ms, now_ms);
  return it;
}

void ClusterPresence::gap(Instance& inst) {
  if (inst.synced) ++gaps_;
  inst.synced = false;
}

bool ClusterPresence::ask(Instance& inst, int64_t now_ms) {
  if (inst.synced) return false;
  if (inst.asked && now_ms - inst.asked_ms < options_.ask_every_ms) return false;
  inst.asked = true;
  inst.asked_ms = now_ms;
  return true;
}

ClusterPresence::Update ClusterPresence::delta(const std::string& instance, int64_t now_ms,
                                               uint64_t seq, std::vector<Pair> joined,
                                               std::vector<Pair> left) {
  Update u;
  if (instance == options_.self) return u;
  std::lock_guard lock(mutex_);
  const bool fresh = instances_.find(instance) == instances_.end();
  auto it = touch(instance, now_ms);
  if (it == instances_.end()) return u;
  Instance& inst = it->second;
  if (fresh && seq == 1) inst.synced = true;     // seen from the publisher's first (empty) state
  if (inst.synced && seq <= inst.seq) return u;  // seen already
  if (inst.synced && seq != inst.seq + 1) gap(inst);
  inst.seq = std::max(inst.seq, seq);
  // Applied even unsynced: it is the publisher's word on these pairs, newer than what is held.
  for (const Pair& pair : left) {
    if (inst.online.erase(pair) == 0) continue;
    --entries_;
    if (remove_remote(pair))
      u.changes.push_back({MemberChange::Kind::left, pair.first, pair.second});
  }
  for (Pair& pair : joined) {
    if (inst.online.count(pair)) continue;
    if (entries_ + snap_entries_ >= options_.max_entries) {
      ++dropped_entries_;
      continue;
    }
    if (add_remote(pair))
      u.changes.push_back({MemberChange::Kind::joined, pair.first, pair.second});
    inst.online.insert(std::move(pair));
    ++entries_;
  }
  sort_changes(u.changes);
  u.ask_snapshot = ask(inst, now_ms);
  return u;
}

ClusterPresence::Update ClusterPresence::heartbeat(const std::string& instance, int64_t now_ms,
                                                   uint64_t seq) {
  Update u;
  if (instance == options_.self) return u;
  std::lock_guard lock(mutex_);
  const bool fresh = instances_.find(instance) == instances_.end();
  auto it = touch(instance, now_ms);
  if (it == instances_.end()) return u;
  Instance& inst = it->second;
  if (fresh && seq == 0) inst.synced = true;  // it never had anyone online
  // Its deltas precede its heartbeat: another number means some were missed.
  if (inst.synced && seq != inst.seq) gap(inst);
  u.ask_snapshot = ask(inst, now_ms);
  return u;
}

ClusterPresence::Update ClusterPresence::snapshot(const std::string& instance, int64_t now_ms,
                                                  Chunk chunk) {
  Update u;
  if (instance == options_.self) return u;
  std::lock_guard lock(mutex_);
  auto it = touch(instance, now_ms);
  if (it == instances_.end()) return u;
  Instance& inst = it->second;
  auto drop_partial = [&] {
    snap_entries_ -= inst.snap_pairs.size();
    inst.snap_pairs = {};
    inst.snap_next = 0;
  };
  // Asked for by another instance: the set held is already this one.
  if (inst.synced && chunk.seq == inst.seq) return u;
  if (chunk.index == 0) {
    drop_partial();
    inst.snap_id = chunk.id;
  }
  if (chunk.id != inst.snap_id || chunk.index != inst.snap_next || chunk.index >= chunk.count) {
    drop_partial();  // a chunk missed (or the middle of a snapshot seen first): ask again
    gap(inst);
    u.ask_snapshot = ask(inst, now_ms);
    return u;
  }
  const size_t room =
      options_.max_entries > snap_entries_ ? options_.max_entries - snap_entries_ : 0;
  if (chunk.pairs.size() > room) {
    dropped_entries_ += chunk.pairs.size() - room;
    chunk.pairs.resize(room);
  }
  snap_entries_ += chunk.pairs.size();
  inst.snap_pairs.insert(inst.snap_pairs.end(), std::make_move_iterator(chunk.pairs.begin()),
                         std::make_move_iterator(chunk.pairs.end()));
  if (++inst.snap_next < chunk.count) return u;
  std::vector<Pair> whole = std::move(inst.snap_pairs);
  snap_entries_ -= whole.size();
  inst.snap_pairs = {};
  inst.snap_next = 0;
  u.changes = replace_locked(inst, std::move(whole));
  inst.synced = true;
  inst.seq = chunk.seq;
  return u;
}

std::vector<MemberChange> ClusterPresence::replace(const std::string& instance, int64_t now_ms,
                                                   std::vector<Pair> online) {
  if (instance == options_.self) return {};
  std::lock_guard lock(mutex_);
  auto it = touch(instance, now_ms);
  if (it == instances_.end()) return {};
  return replace_locked(it->second, std::move(online));
}

std::vector<MemberChange> ClusterPresence::replace_locked(Instance& inst,
                                                          std::vector<Pair> online) {
  std::vector<MemberChange> changes;
  std::sort(online.begin(), online.end());
  online.erase(std::unique(online.begin(), online.end()), online.end());

  const size_t others = entries_ - inst.online.size();
  const size_t budget = options_.max_entries > others ? options_.max_entries - others : 0;
  if (online.size() > budget) {
    dropped_entries_ += online.size() - budget;
    online.resize(budget);  // sorted: the same pairs are kept each time
  }

  // Both sets are sorted: one merge walk finds what vanished and what appeared.
  auto i = inst.online.begin();
  size_t j = 0;
  while (i != inst.online.end() || j < online.size()) {
    if (j == online.size() || (i != inst.online.end() && *i < online[j])) {
      if (remove_remote(*i)) changes.push_back({MemberChange::Kind::left, i->first, i->second});
      ++i;
    } else if (i == inst.online.end() || online[j] < *i) {
      if (add_remote(online[j])) {
        changes.push_back({MemberChange::Kind::joined, online[j].first, online[j].second});
      }
      ++j;
    } else {
      ++i;
      ++j;
    }
  }
  entries_ = others + online.size();
  // Sorted input: each insertion at the end is amortized constant.
  inst.online = std::set<Pair>(std::make_move_iterator(online.begin()),
                               std::make_move_iterator(online.end()));
  return changes;
}

void ClusterPresence::remove_instance(Instances::iterator it, std::vector<MemberChange>& changes) {
  for (const Pair& pair : it->second.online) {
    if (remove_remote(pair)) changes.push_back({MemberChange::Kind::left, pair.first, pair.second});
  }
  entries_ -= it->second.online.size();
  snap_entries_ -= it->second.snap_pairs.size();
  instances_.erase(it);
}

std::vector<MemberChange> ClusterPresence::expire(int64_t now_ms) {
  std::vector<MemberChange> changes;
  std::lock_guard lock(mutex_);
  for (auto it = instances_.begin(); it != instances_.end();) {
    auto next = std::next(it);
    if (now_ms - it->second.last_seen_ms > options_.timeout_ms) remove_instance(it, changes);
    it = next;
  }
  sort_changes(changes);  // instances_ has no order; the events should not depend on it
  return changes;
}

std::vector<MemberChange> ClusterPresence::forget(const std::string& instance) {
  std::vector<MemberChange> changes;
  std::lock_guard lock(mutex_);
  auto it = instances_.find(instance);
  if (it != instances_.end()) remove_instance(it, changes);
  return changes;
}

bool ClusterPresence::local_joined(const std::string& room, const std::string& user) {
  std::lock_guard lock(mutex_);
  Here& here = rooms_[room][user];
  const bool was_online = here.remote > 0 || here.local;
  here.local = true;
  return !was_online;
}

bool ClusterPresence::local_left(const std::string& room, const std::string& user) {
  std::lock_guard lock(mutex_);
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return false;
  auto u = r->second.find(user);
  if (u == r->second.end() || !u->second.local) return false;
  u->second.local = false;
  const bool still_online = u->second.remote > 0;
  erase_if_gone(room, user);
  return !still_online;
}

std::vector<std::string> ClusterPresence::online(const std::string& room) const {
  std::vector<std::string> users;
  std::lock_guard lock(mutex_);
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return users;
  for (const auto& [user, here] : r->second) {
    if (here.remote > 0) users.push_back(user);
  }
  return users;
}

bool ClusterPresence::online_remotely(const std::string& room, const std::string& user) const {
  std::lock_guard lock(mutex_);
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return false;
  auto u = r->second.find(user);
  return u != r->second.end() && u->second.remote > 0;
}

size_t ClusterPresence::live_instances(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(
      std::count_if(instances_.begin(), instances_.end(), [&](const auto& entry) {
        return now_ms - entry.second.last_seen_ms <= options_.timeout_ms;
      }));
}

uint64_t ClusterPresence::dropped_heartbeats() const {
  std::lock_guard lock(mutex_);
  return dropped_heartbeats_;
}

uint64_t ClusterPresence::gaps() const {
  std::lock_guard lock(mutex_);
  return gaps_;
}

uint64_t ClusterPresence::dropped_entries() const {
  std::lock_guard lock(mutex_);
  return dropped_entries_;
}

size_t ClusterPresence::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

}  // namespace parley

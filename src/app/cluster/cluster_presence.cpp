#include "app/cluster/cluster_presence.h"

#include <algorithm>
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

std::vector<MemberChange> ClusterPresence::heartbeat(const std::string& instance, int64_t now_ms,
                                                     std::vector<Pair> online) {
  std::vector<MemberChange> changes;
  if (instance == options_.self) return changes;
  std::sort(online.begin(), online.end());
  online.erase(std::unique(online.begin(), online.end()), online.end());

  std::lock_guard lock(mutex_);
  auto it = instances_.find(instance);
  if (it == instances_.end()) {
    if (instances_.size() >= options_.max_instances) {
      ++dropped_heartbeats_;
      return changes;
    }
    it = instances_.emplace(instance, Instance{now_ms, {}}).first;
  }
  Instance& inst = it->second;
  inst.last_seen_ms = std::max(inst.last_seen_ms, now_ms);

  const size_t others = entries_ - inst.online.size();
  const size_t budget = options_.max_entries > others ? options_.max_entries - others : 0;
  if (online.size() > budget) {
    dropped_entries_ += online.size() - budget;
    online.resize(budget);  // sorted: the same pairs are kept each time
  }

  // Both sets are sorted: one merge walk finds what vanished and what appeared.
  const std::vector<Pair>& old = inst.online;
  size_t i = 0, j = 0;
  while (i < old.size() || j < online.size()) {
    if (j == online.size() || (i < old.size() && old[i] < online[j])) {
      if (remove_remote(old[i])) {
        changes.push_back({MemberChange::Kind::left, old[i].first, old[i].second});
      }
      ++i;
    } else if (i == old.size() || online[j] < old[i]) {
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
  inst.online = std::move(online);
  return changes;
}

void ClusterPresence::remove_instance(std::unordered_map<std::string, Instance>::iterator it,
                                      std::vector<MemberChange>& changes) {
  for (const Pair& pair : it->second.online) {
    if (remove_remote(pair)) changes.push_back({MemberChange::Kind::left, pair.first, pair.second});
  }
  entries_ -= it->second.online.size();
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

uint64_t ClusterPresence::dropped_entries() const {
  std::lock_guard lock(mutex_);
  return dropped_entries_;
}

size_t ClusterPresence::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

}  // namespace parley

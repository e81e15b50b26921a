#include "app/presence.h"

namespace parley {

bool Presence::add(const std::string& room, const std::string& user,
                   const std::function<void()>& on_first) {
  std::lock_guard lock(mutex_);
  if (++rooms_[room][user] != 1) return false;
  if (on_first) on_first();
  return true;
}

bool Presence::remove(const std::string& room, const std::string& user,
                      const std::function<void()>& on_last) {
  std::lock_guard lock(mutex_);
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return false;
  auto u = r->second.find(user);
  if (u == r->second.end()) return false;
  if (--u->second > 0) return false;
  r->second.erase(u);
  if (r->second.empty()) rooms_.erase(r);
  if (on_last) on_last();
  return true;
}

std::vector<std::string> Presence::online(const std::string& room) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> users;
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return users;
  for (const auto& [user, count] : r->second) users.push_back(user);
  return users;
}

}  // namespace parley

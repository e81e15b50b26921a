#include "gateway/session_registry.h"

namespace parley {

SessionRegistry::Attached SessionRegistry::attach(const std::shared_ptr<Client>& client,
                                                  int64_t now_ms) {
  std::lock_guard lock(mutex_);
  expire(now_ms);
  Entry& e = sessions_[client->session];
  Attached out;
  out.previous = e.current.lock();
  if (out.previous && out.previous != client) out.previous->taken_over = true;
  e.current = client;
  for (auto& [at, frame] : e.pending) {
    if (now_ms - at <= keep_ms_) out.pending.push_back(std::move(frame));
  }
  e.pending.clear();
  return out;
}

void SessionRegistry::detach(const Client& client, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(client.session);
  if (it == sessions_.end()) return;
  auto current = it->second.current.lock();
  if (current && current.get() != &client) return;  // taken over: the new connection stays
  it->second.current.reset();
  it->second.idle_since_ms = now_ms;
  if (it->second.pending.empty()) sessions_.erase(it);
}

std::shared_ptr<Client> SessionRegistry::route(const std::string& session, const Frame& frame,
                                               int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Entry& e = sessions_[session];
  if (auto current = e.current.lock(); current && current->open) return current;
  if (e.pending.size() >= max_pending_) e.pending.pop_front();
  e.pending.emplace_back(now_ms, frame);
  e.idle_since_ms = now_ms;
  return nullptr;
}

void SessionRegistry::expire(int64_t now_ms) {
  // A sweep per second at most, so attach stays cheap.
  if (now_ms - last_sweep_ms_ < 1000) return;
  last_sweep_ms_ = now_ms;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    bool idle = it->second.current.expired() && now_ms - it->second.idle_since_ms > keep_ms_;
    it = idle ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace parley

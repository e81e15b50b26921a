#include "gateway/session_registry.h"

#include <functional>

#include "app/metrics.h"
#include "runtime/log_trace.h"

namespace parley {

size_t SessionRegistry::KeyHash::operator()(const Key& k) const {
  size_t h = std::hash<std::string>{}(k.user);
  return h ^ (std::hash<std::string>{}(k.session) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

SessionRegistry::SessionRegistry(SessionLimits limits) : limits_(limits) {}

// A connection that can still be written to. A closing one sends nothing more, so its session
// counts as offline and results wait for the next connection.
bool SessionRegistry::live(const std::shared_ptr<Client>& c) {
  return c && c->open && !c->closing;
}

SessionRegistry::Attached SessionRegistry::attach(const std::shared_ptr<Client>& client,
                                                  int64_t now_ms) {
  std::lock_guard lock(mutex_);
  sweep(now_ms);
  Entry& e = sessions_[Key{client->user, client->session}];
  Attached out;
  out.previous = e.current.lock();
  if (out.previous && out.previous != client) out.previous->taken_over = true;
  e.current = client;
  e.confirmed = false;
  out.pending = drain(e, now_ms);
  return out;
}

std::vector<Frame> SessionRegistry::drain(Entry& e, int64_t now_ms,
                                          std::vector<TraceContext>* traces) {
  std::vector<Frame> out;
  out.reserve(e.count);
  while (e.count > 0) {
    // A result past keep_ms that the sweep has not reached yet is dropped here, as if swept.
    if (now_ms - e.first->at_ms <= limits_.keep_ms) {
      out.push_back(e.first->frame);
      if (traces != nullptr) traces->push_back(e.first->trace);
    }
    pop_oldest(e, &e);
  }
  return out;
}

void SessionRegistry::detach(const Client& client, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  sweep(now_ms);
  auto it = sessions_.find(Key{client.user, client.session});
  if (it == sessions_.end()) return;
  auto current = it->second.current.lock();
  if (current && current.get() != &client) return;  // taken over: the new connection stays
  it->second.current.reset();
  if (it->second.count == 0) sessions_.erase(it);
}

std::shared_ptr<Client> SessionRegistry::route(const std::string& user, const std::string& session,
                                               const Frame& frame, int64_t now_ms, bool keep) {
  std::lock_guard lock(mutex_);
  sweep(now_ms);
  Key key{user, session};
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    if (auto current = it->second.current.lock(); live(current)) return current;
  }
  if (!keep) return nullptr;
  size_t charged = (frame ? frame->size() : 0) + kResultOverhead;
  // A result that alone exceeds a cap would evict everything and still not fit: dropped.
  if (charged > limits_.max_pending_bytes_per_session ||
      charged > limits_.max_pending_bytes_total || charged > limits_.max_pending_bytes_per_user)
    return nullptr;
  // A session never seen keeps its results too: in a cluster the result of a command can reach
  // this instance before the session reconnects here.
  if (it == sessions_.end()) it = sessions_.emplace(std::move(key), Entry{}).first;
  Entry& e = it->second;
  while (e.count > 0 && (e.count >= limits_.max_pending_per_session ||
                         e.bytes + charged > limits_.max_pending_bytes_per_session)) {
    pop_oldest(e, &e);
  }
  // Over the user's cap, its own oldest results go, whichever of its sessions holds them.
  for (auto u = users_.find(user);
       u != users_.end() && u->second.bytes + charged > limits_.max_pending_bytes_per_user;
       u = users_.find(user)) {
    pop_oldest(*u->second.order.front()->owner, &e);
  }
  // The globally oldest results go first, whichever session holds them (this one included).
  while (total_bytes_ + charged > limits_.max_pending_bytes_total) {
    pop_oldest(*items_.front().owner, &e);
  }
  push(e, it->first, now_ms, charged, frame);
  return nullptr;
}

void SessionRegistry::confirm(const std::string& user, const std::string& session,
                              uint64_t connection) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(Key{user, session});
  if (it == sessions_.end()) return;
  auto current = it->second.current.lock();
  if (current && current->id == connection) it->second.confirmed = true;
}

SessionRegistry::Released SessionRegistry::release(const std::string& user,
                                                   const std::string& session, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  sweep(now_ms);
  Released out;
  auto it = sessions_.find(Key{user, session});
  if (it == sessions_.end()) return out;
  Entry& e = it->second;
  auto current = e.current.lock();
  if (current && current->open && !e.confirmed) return out;  // its own claim is the newer one
  e.current.reset();
  e.confirmed = false;
  if (current && current->open) {
    current->taken_over = true;
    out.previous = current;
  }
  out.pending = drain(e, now_ms, &out.traces);
  forget_if_idle(e, it->first);
  return out;
}

std::vector<Frame> SessionRegistry::take_pending(const std::string& user,
                                                 const std::string& session, int64_t now_ms,
                                                 std::vector<TraceContext>* traces) {
  std::lock_guard lock(mutex_);
  sweep(now_ms);
  auto it = sessions_.find(Key{user, session});
  if (it == sessions_.end()) return {};
  auto out = drain(it->second, now_ms, traces);
  forget_if_idle(it->second, it->first);
  return out;
}

size_t SessionRegistry::pending_bytes() const {
  std::lock_guard lock(mutex_);
  return total_bytes_;
}

size_t SessionRegistry::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void SessionRegistry::push(Entry& e, const Key& key, int64_t now_ms, size_t charged,
                           const Frame& frame) {
  // Kept in the scope of the command it answers (Replies::route): its trace stays with it.
  auto it = items_.insert(
      items_.end(),
      Item{&e, &key, items_.end(), {}, now_ms, charged, frame, LogTraceScope::current_or_none()});
  UserResults& u = users_[key.user];
  it->in_user = u.order.insert(u.order.end(), it);
  u.bytes += charged;
  if (e.count == 0) {
    e.first = it;
  } else {
    e.last->next_in_session = it;
  }
  e.last = it;
  ++e.count;
  e.bytes += charged;
  total_bytes_ += charged;
  Metrics::global().results_kept.fetch_add(1, std::memory_order_relaxed);
}

void SessionRegistry::pop_oldest(Entry& e, const Entry* keep) {
  auto it = e.first;
  const Key& key = *it->key;
  e.first = it->next_in_session;
  --e.count;
  e.bytes -= it->charged;
  total_bytes_ -= it->charged;
  Metrics::global().results_kept.fetch_sub(1, std::memory_order_relaxed);
  auto u = users_.find(key.user);
  u->second.order.erase(it->in_user);
  u->second.bytes -= it->charged;
  if (u->second.order.empty()) users_.erase(u);
  items_.erase(it);
  if (&e != keep) forget_if_idle(e, key);
}

void SessionRegistry::forget_if_idle(Entry& e, const Key& key) {
  if (e.count > 0) return;
  auto current = e.current.lock();
  if (current && current->open) return;  // connected (or still closing): detach forgets it
  sessions_.erase(sessions_.find(key));
}

void SessionRegistry::sweep(int64_t now_ms) {
  // items_ is in arrival order, so the expired results are at its front. Bounded per call;
  // each call keeps at most one result, so the sweep keeps up, and the caps bound the rest.
  for (int n = 0; n < kSweepPerCall && !items_.empty(); ++n) {
    const Item& oldest = items_.front();
    if (now_ms - oldest.at_ms <= limits_.keep_ms) break;
    pop_oldest(*oldest.owner, nullptr);
  }
}

}  // namespace parley

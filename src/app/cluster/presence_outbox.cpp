#include "app/cluster/presence_outbox.h"

namespace parley {

void PresenceOutbox::change(Pair pair, bool online) {
  const bool was = online_.count(pair) > 0;
  if (was == online) return;
  // Remember the state as of the last take once: a later change of the same pair nets out.
  pending_.try_emplace(pair, was);
  if (online) {
    online_.insert(std::move(pair));
  } else {
    online_.erase(pair);
  }
}

void PresenceOutbox::joined(const std::string& room, const std::string& user) {
  change({room, user}, true);
}

void PresenceOutbox::left(const std::string& room, const std::string& user) {
  change({room, user}, false);
}

std::vector<PresenceOutbox::Delta> PresenceOutbox::take_deltas() {
  std::vector<Delta> out;
  size_t bytes = 0;
  for (auto& [pair, was] : pending_) {
    const bool now = online_.count(pair) > 0;
    if (now == was) continue;  // joined and left (or left and came back) between two takes
    if (out.empty() || (bytes + cost(pair) > chunk_bytes_ && bytes > 0)) {
      out.push_back(Delta{++seq_, {}, {}});
      bytes = 0;
    }
    bytes += cost(pair);
    (now ? out.back().joined : out.back().left).push_back(pair);
  }
  pending_.clear();
  return out;
}

PresenceOutbox::Snapshot PresenceOutbox::snapshot() {
  Snapshot snap{++snapshots_, seq_, {{}}};
  size_t bytes = 0;
  auto add = [&](const Pair& pair) {
    if (bytes + cost(pair) > chunk_bytes_ && bytes > 0) {
      snap.chunks.emplace_back();
      bytes = 0;
    }
    bytes += cost(pair);
    snap.chunks.back().push_back(pair);
  };
  // As of seq_: a pair changed since the last take counts as it was then.
  for (const Pair& pair : online_) {
    auto p = pending_.find(pair);
    if (p == pending_.end() || p->second) add(pair);
  }
  for (const auto& [pair, was] : pending_) {
    if (was && !online_.count(pair)) add(pair);
  }
  return snap;
}

}  // namespace parley

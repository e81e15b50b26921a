#include "gateway/fan_out.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "app/metrics.h"
#include "gateway/codec.h"
#include "gateway/subscription.h"

namespace parley {

FanOut::FanOut(Services& services, WorkerPool& pool)
    : s_(services), pool_(pool), workers_(static_cast<size_t>(pool.size())) {}

void FanOut::add_client(const std::shared_ptr<Client>& client) {
  workers_[client->worker].clients.emplace(client->id, client);
}

void FanOut::remove_client(const Client& client) {
  workers_[client.worker].clients.erase(client.id);
}

void FanOut::subscribe(Client& client, const std::string& room) {
  auto& worker = workers_[client.worker];
  auto& clients = worker.rooms[room];
  if (clients.empty()) worker.interest.add(room);
  clients.push_back(&client);
  Metrics::global().room_subscriptions.fetch_add(1, std::memory_order_relaxed);
}

void FanOut::unsubscribe(Client& client, const std::string& room) {
  auto& local = workers_[client.worker].rooms;
  if (auto r = local.find(room); r != local.end()) {
    auto removed = std::erase(r->second, &client);
    Metrics::global().room_subscriptions.fetch_sub(static_cast<int64_t>(removed),
                                                   std::memory_order_relaxed);
    if (r->second.empty()) {
      local.erase(r);
      workers_[client.worker].interest.remove(room);
    }
  }
}

void FanOut::publish(std::vector<Message> messages) {
  // Runs on the log's thread: encode each message once, then hand the same bytes to the workers
  // that may have a subscriber of its room. The log published the heads before this call, and a
  // joiner counts itself in before it reads the head: the fence makes one of the two see the
  // other, so a message is either posted here or inside the joiner's replay.
  struct Item {
    std::string room;
    int64_t seq;
    int64_t ts;  // the log's timestamp, unix ms
    Frame frame;
    uint64_t workers;  // bit w: worker w may have a subscriber
  };
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto batch = std::make_shared<std::vector<Item>>();
  uint64_t any = 0;
  for (auto& m : messages) {
    uint64_t workers = interested_workers(m.room);
    if (workers == 0) continue;
    any |= workers;
    Frame f = make_frame(codec::message_frame(m));
    batch->push_back(Item{std::move(m.room), m.seq, m.ts, std::move(f), workers});
  }
  for (int w = 0; w < pool_.size(); ++w) {
    if ((any & worker_bit(w)) == 0) continue;
    pool_.post(w, [this, w, batch] {
      for (const auto& item : *batch) {
        if ((item.workers & worker_bit(w)) == 0) continue;
        if (deliver_local(w, item.room, item.seq, item.frame, 0) > 0) observe_fanout(item.ts);
      }
    });
  }
}

void FanOut::close_all(uint16_t code, const std::string& reason) {
  for (int w = 0; w < pool_.size(); ++w) {
    pool_.post(w, [this, w, code, reason] {
      for (auto& [id, client] : workers_[w].clients) client->close(code, reason);
    });
  }
}

void FanOut::member_joined(const std::string& room, const std::string& user, uint64_t origin) {
  publish_event(room, make_frame(codec::event_frame("member.joined", room, user)), origin);
}

void FanOut::member_left(const std::string& room, const std::string& user, uint64_t origin) {
  publish_event(room, make_frame(codec::event_frame("member.left", room, user)), origin);
}

void FanOut::typing(const std::string& room, const std::string& user, uint64_t origin) {
  publish_event(room, make_frame(codec::event_frame("typing", room, user)), origin);
}

void FanOut::room_created(const Room& room) {
  // Every connection hears of it; each one's send queue bounds what this costs (and the room
  // quota bounds how often one user can cause it).
  Frame frame = make_frame(codec::event_frame("room.created", room.name, room.created_by));
  for (int w = 0; w < pool_.size(); ++w) {
    pool_.post(w, [this, w, frame] {
      for (auto& [id, client] : workers_[w].clients) client->send(frame);
    });
  }
}

uint64_t FanOut::worker_bit(int worker) {
  // Workers 63 and up share the last bit: when it is set, each of them looks in its own map.
  return uint64_t{1} << std::min(worker, 63);
}

uint64_t FanOut::interested_workers(const std::string& room) const {
  uint64_t bits = 0;
  for (int w = 0; w < pool_.size(); ++w) {
    if (workers_[w].interest.maybe(room)) bits |= worker_bit(w);
  }
  return bits;
}

void FanOut::publish_event(const std::string& room, Frame frame, uint64_t except_client) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (int w = 0; w < pool_.size(); ++w) {
    if (!workers_[w].interest.maybe(room)) continue;
    pool_.post(w, [this, w, room, frame, except_client] {
      deliver_local(w, room, 0, frame, except_client);
    });
  }
}

void FanOut::observe_fanout(int64_t ts_ms) {
  // The log's timestamp is wall-clock milliseconds, taken where the log accepted the message
  // (this process's storage writer, or the instance that produced it to Kafka).
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  int64_t waited_us = now_us - ts_ms * 1000;
  Metrics::global().send_fanout_seconds.observe(
      static_cast<uint64_t>(std::max<int64_t>(0, waited_us)) * 1000);
}

uint64_t FanOut::deliver_local(int worker, const std::string& room, int64_t seq, const Frame& frame,
                               uint64_t except_client) {
  auto it = workers_[worker].rooms.find(room);
  if (it == workers_[worker].rooms.end()) return 0;
  uint64_t delivered = 0;
  for (Client* c : it->second) {
    if (c->id == except_client) continue;
    auto sit = c->rooms.find(room);
    if (sit == c->rooms.end()) continue;
    switch (offer(*c, sit->second, seq, frame, s_.limits.send_queue_bytes)) {
      case Offer::sent:
        ++delivered;
        break;
      case Offer::overflow:
        count(Metrics::global().slow_consumer_closes_total);
        c->close(kClosePolicy, "too slow to keep up; resume with since");
        break;
      case Offer::held:
      case Offer::skipped:
        break;
    }
  }
  count(Metrics::global().deliveries_total, delivered);
  return delivered;
}

}  // namespace parley

#pragma once
// Fan-out: who on this instance hears what. Each worker keeps its own room -> connections map,
// touched only on that worker, so delivery takes no lock: a committed message is encoded once,
// and the same bytes are posted to every worker with a subscriber of its room, which hands them
// to its own connections.
// Also the gateway's side of the RoomEvents port (member events, typing, room.created).
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/services.h"
#include "gateway/client.h"
#include "gateway/room_interest.h"
#include "runtime/worker_pool.h"

namespace parley {

class FanOut final : public RoomEvents {
 public:
  FanOut(Services& services, WorkerPool& pool);

  // On the client's worker.
  void add_client(const std::shared_ptr<Client>& client);
  void remove_client(const Client& client);
  /// @p client hears @p room's traffic from now on (its subscription decides what it gets).
  void subscribe(Client& client, const std::string& room);
  void unsubscribe(Client& client, const std::string& room);

  /// Committed messages, from the log's thread: encoded once, delivered by every worker.
  void publish(std::vector<Message> messages);
  /// Closes every connection with @p code, from any thread.
  void close_all(uint16_t code, const std::string& reason);

  // RoomEvents: from any thread.
  void member_joined(const std::string& room, const std::string& user, uint64_t origin) override;
  void member_left(const std::string& room, const std::string& user, uint64_t origin) override;
  void typing(const std::string& room, const std::string& user, uint64_t origin) override;
  void room_created(const Room& room) override;

 private:
  struct WorkerState {
    std::unordered_map<std::string, std::vector<Client*>> rooms;
    std::unordered_map<uint64_t, std::shared_ptr<Client>> clients;
    RoomInterest interest;  // what `rooms` holds, readable from the log's thread
  };

  static uint64_t worker_bit(int worker);
  /// Bit w set: worker w may have a subscriber of @p room.
  uint64_t interested_workers(const std::string& room) const;
  void publish_event(const std::string& room, Frame frame, uint64_t except_client);
  /// @return how many connections it was sent to.
  uint64_t deliver_local(int worker, const std::string& room, int64_t seq, const Frame& frame,
                         uint64_t except_client);
  static void observe_fanout(int64_t ts_ms);

  Services& s_;
  WorkerPool& pool_;
  std::vector<WorkerState> workers_;
};

}  // namespace parley

#pragma once
// RoomEvents that records what the use cases announced, for their unit tests.
#include <mutex>
#include <string>
#include <vector>

#include "app/ports/room_events.h"

namespace parley::fakes {

class FakeRoomEvents final : public RoomEvents {
 public:
  struct Event {
    std::string name;  // member.joined, member.left, typing, room.created
    std::string room;
    std::string user;
    uint64_t origin = 0;
  };

  void member_joined(const std::string& room, const std::string& user, uint64_t origin) override {
    add({"member.joined", room, user, origin});
  }
  void member_left(const std::string& room, const std::string& user, uint64_t origin) override {
    add({"member.left", room, user, origin});
  }
  void typing(const std::string& room, const std::string& user, uint64_t origin) override {
    add({"typing", room, user, origin});
  }
  void room_created(const Room& room) override {
    add({"room.created", room.name, room.created_by, 0});
  }

  std::vector<Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  void add(Event e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
  }
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

}  // namespace parley::fakes

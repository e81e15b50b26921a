#pragma once
// RoomStore in memory. Answers synchronously, on the caller's thread. Like the SQLite store,
// a member can only be added to a room that exists, and every change it makes reaches the change
// feed before the caller's `done`. Rooms `put` by a test are not fed (made "elsewhere").
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/ports/clock.h"
#include "app/ports/room_store.h"

namespace parley::fakes {

class FakeRoomStore final : public RoomStore {
 public:
  explicit FakeRoomStore(ClockPtr clock) : clock_(std::move(clock)) {}

  std::vector<Room> load_rooms() override {
    std::lock_guard lock(mutex_);
    std::vector<Room> out;
    for (const auto& [name, room] : rooms_) out.push_back(room);
    return out;
  }

  void create_room(Room room, bool if_absent, DeadlinePtr deadline,
                   std::function<void(Status)> done) override {
    Status st = Ok{};
    std::optional<RoomChange> change;
    {
      std::lock_guard lock(mutex_);
      ++creates_;
      if (fail_) {
        st = *fail_;
      } else if (expired(deadline)) {
        st = expired_error();
      } else if (rooms_.count(room.name) > 0) {
        if (!if_absent) st = make_error(Errc::conflict, "room exists: " + room.name);
      } else {
        auto name = room.name;
        rooms_.emplace(std::move(name), room);
        change = RoomChange::created(std::move(room));
      }
    }
    if (change && sink_) sink_(*change);
    done(std::move(st));
  }

  void add_member(std::string room, std::string user, std::string /*invited_by*/,
                  DeadlinePtr deadline, std::function<void(Status)> done) override {
    Status st = Ok{};
    std::optional<RoomChange> change;
    {
      std::lock_guard lock(mutex_);
      auto it = rooms_.find(room);
      if (fail_) {
        st = *fail_;
      } else if (expired(deadline)) {
        st = expired_error();
      } else if (it == rooms_.end()) {
        st = make_error(Errc::unavailable, "no such room: " + room);
      } else {
        it->second.members.insert(user);
        change = RoomChange::added(room, std::move(user));
      }
    }
    if (change && sink_) sink_(*change);
    done(std::move(st));
  }

  void on_change(std::function<void(const RoomChange&)> sink) override { sink_ = std::move(sink); }

  // Test controls.
  void put(Room room) {
    std::lock_guard lock(mutex_);
    auto name = room.name;
    rooms_[name] = std::move(room);
  }
  std::optional<Room> room(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(name);
    return it == rooms_.end() ? std::nullopt : std::optional<Room>(it->second);
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return rooms_.size();
  }
  int creates() const {
    std::lock_guard lock(mutex_);
    return creates_;
  }
  /// Every later call fails with @p e (nullopt: back to normal).
  void fail_with(std::optional<Error> e) {
    std::lock_guard lock(mutex_);
    fail_ = std::move(e);
  }

 private:
  // Claimed at the moment of applying, as the real stores do.
  bool expired(const DeadlinePtr& deadline) const {
    return !claim_deadline(deadline, clock_->steady_ms());
  }

  ClockPtr clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Room> rooms_;
  std::optional<Error> fail_;
  int creates_ = 0;
  std::function<void(const RoomChange&)> sink_;
};

}  // namespace parley::fakes

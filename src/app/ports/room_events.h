#pragma once
// Ephemeral room traffic: what the connections joined to a room are told, never stored and
// never given a seq. The gateway's fan-out implements it; the use cases decide when to tell.
// `origin` names the connection the event comes from (it is not told of its own event); 0 = none.
#include <cstdint>
#include <memory>
#include <string>

#include "domain/room.h"

namespace parley {

class RoomEvents {
 public:
  virtual ~RoomEvents() = default;
  virtual void member_joined(const std::string& room, const std::string& user, uint64_t origin) = 0;
  virtual void member_left(const std::string& room, const std::string& user, uint64_t origin) = 0;
  virtual void typing(const std::string& room, const std::string& user, uint64_t origin) = 0;
  /// A public room was created: every connection hears of it.
  virtual void room_created(const Room& room) = 0;
};

using RoomEventsPtr = std::shared_ptr<RoomEvents>;

}  // namespace parley

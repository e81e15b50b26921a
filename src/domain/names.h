#pragma once
// The naming rules of the protocol: which room, user, session and request ids are valid.
#include <string>
#include <string_view>

namespace parley {

bool valid_user_name(std::string_view name);     // 1-32 of [A-Za-z0-9_.-]
bool valid_room_name(std::string_view name);     // 1-64 of [A-Za-z0-9_.-] (user-created rooms)
bool valid_password(std::string_view password);  // 8-1024 bytes
bool valid_session_id(std::string_view id);      // 8-64 of [A-Za-z0-9_-]
bool valid_request_id(std::string_view id);      // 1-64 chars
bool is_dm_room(std::string_view room);
// Any name a room can have: user-created or dm:<a>:<b>.
bool valid_any_room_name(std::string_view room);
// The room of two users' direct messages: names sorted, so both sides get the same id.
std::string dm_room_name(std::string_view a, std::string_view b);

}  // namespace parley

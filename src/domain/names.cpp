#include "domain/names.h"

#include <algorithm>

namespace parley {
namespace {

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool all_name_chars(std::string_view s) {
  return std::all_of(s.begin(), s.end(), name_char);
}

}  // namespace

bool valid_user_name(std::string_view name) {
  return !name.empty() && name.size() <= 32 && all_name_chars(name);
}

bool valid_room_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && all_name_chars(name);
}

bool valid_password(std::string_view password) {
  return password.size() >= 8 && password.size() <= 1024;
}

bool valid_session_id(std::string_view id) {
  return id.size() >= 8 && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c != '.' && name_char(c); });
}

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 64;
}

bool is_dm_room(std::string_view room) {
  return room.substr(0, 3) == "dm:";
}

bool valid_any_room_name(std::string_view room) {
  if (!is_dm_room(room)) return valid_room_name(room);
  auto rest = room.substr(3);
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  auto a = rest.substr(0, colon);
  auto b = rest.substr(colon + 1);
  return valid_user_name(a) && valid_user_name(b) && a < b;
}

std::string dm_room_name(std::string_view a, std::string_view b) {
  if (b < a) std::swap(a, b);
  std::string room = "dm:";
  room.append(a).append(":").append(b);
  return room;
}

}  // namespace parley

// libFuzzer target for the HTTP history query (parley::parse_history_target in
// src/gateway/http_api.*): the request target of `GET /api/rooms/<room>/messages?before=&limit=`
// -> the percent-decoded room and the two integers. Each input is used two ways:
// 1. as a request target: the answer is `bad_request` or `not_found`, or a room that is a valid
//    room name; and the query written back as a canonical target parses to the same query;
// 2. as a room name, put into a target percent-encoded (hex case, which bytes and the
//    parameters chosen by a hash of the input): it parses back to exactly that room and those
//    parameters if the name is valid, and is refused with `not_found` if it is not.
// Build: cmake -DPARLEY_FUZZ=ON (see cmake/fuzz.cmake); run: scripts/run-fuzz http_query_fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "domain/names.h"
#include "gateway/http_api.h"

namespace {

using parley::Errc;
using parley::HistoryQuery;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool same(const HistoryQuery& a, const HistoryQuery& b) {
  return a.room == b.room && a.before == b.before && a.limit == b.limit;
}

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// @p room percent-encoded: every byte that must be, and the others too when @p all is set.
std::string encode(std::string_view room, bool all, bool lower_hex) {
  const char* hex = lower_hex ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string out;
  for (char c : room) {
    if (unreserved(c) && !all) {
      out.push_back(c);
    } else {
      auto b = static_cast<unsigned char>(c);
      out += {'%', hex[b >> 4], hex[b & 15]};
    }
  }
  return out;
}

std::string target(const HistoryQuery& q, bool all, bool lower_hex, bool empty_absent) {
  std::string t = "/api/rooms/" + encode(q.room, all, lower_hex) + "/messages";
  char sep = '?';
  auto param = [&](const char* key, const std::optional<int64_t>& v) {
    if (!v && !empty_absent) return;
    t += sep;
    t += key;
    t += '=';
    if (v) t += std::to_string(*v);
    sep = '&';
  };
  param("before", q.before);
  param("limit", q.limit);
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t h = 14695981039346656037ULL;  // FNV-1a
  for (uint8_t b : in) h = (h ^ b) * 1099511628211ULL;

  // 1. The input as a request target.
  auto r = parley::parse_history_target(in);
  if (r) {
    check(parley::valid_any_room_name(r->room), "accepted a room name no room can have");
    auto again = parley::parse_history_target(target(*r, h & 1, h & 2, h & 4));
    check(again.ok() && same(*again, *r), "the query written back parsed differently");
  } else {
    Errc c = r.error().code;
    check(c == Errc::bad_request || c == Errc::not_found, "refused with an unexpected code");
  }

  // 2. The input as a room name.
  HistoryQuery q{std::string(in), std::nullopt, std::nullopt};
  uint64_t g = h * 6364136223846793005ULL + 1442695040888963407ULL;
  if (g & 8) q.before = static_cast<int64_t>(g >> 1) >> (g % 64);  // any sign and size
  if (g & 16) q.limit = static_cast<int64_t>(g) >> (g >> 58);
  auto back = parley::parse_history_target(target(q, h & 1, h & 2, h & 4));
  if (parley::valid_any_room_name(q.room)) {
    check(back.ok(), "a valid room name was refused");
    check(same(*back, q), "a valid room name or its parameters came back changed");
  } else {
    check(!back.ok() && back.error().code == Errc::not_found,
          "an invalid room name was not refused with not_found");
  }
  return 0;
}

#pragma once
// JSON in and out: the only place that knows how protocol frames are spelled.
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "domain/message.h"
#include "domain/result.h"
#include "domain/trace_context.h"

namespace parley::codec {

// The largest `ttl_ms` taken (24 h); above it a command is `bad_request` (docs/protocol.md).
inline constexpr int64_t kMaxTtlMs = 86'400'000;

// A command frame, checked for shape: an object with a string `type` and a valid `id`.
struct Request {
  std::string op;
  std::string id;
  std::optional<int64_t> ttl_ms;
  // `traceparent`: present at all (then the result echoes the one parley used), and the
  // caller's trace if it was a valid W3C traceparent (an invalid one is replaced, not refused).
  bool has_traceparent = false;
  std::optional<TraceContext> traceparent;
  boost::json::object body;
};

/// Parses a command frame. On error, @p id_out holds the request id if one could be read.
Result<Request> parse_request(std::string_view text, std::string& id_out);

// Typed field access; a wrong type or a missing required field is `bad_request`.
Result<std::string> required_string(const boost::json::object& o, std::string_view key);
Result<std::optional<std::string>> optional_string(const boost::json::object& o,
                                                   std::string_view key);
Result<std::optional<int64_t>> optional_int(const boost::json::object& o, std::string_view key);
Result<bool> optional_bool(const boost::json::object& o, std::string_view key, bool fallback);

boost::json::object message_object(const Message& m);
std::string message_frame(const Message& m);
std::string welcome_frame(std::string_view session, std::string_view user,
                          std::string_view instance, std::string_view epoch);
std::string ok_frame(std::string_view id, boost::json::object fields = {});
std::string error_frame(std::string_view id, const Error& e,
                        std::string_view traceparent = {});  // id, traceparent empty: omitted
std::string event_frame(std::string_view event, std::string_view room, std::string_view user);
/// `{"error":{"code","message"}}` for HTTP error bodies.
std::string http_error_body(const Error& e);

}  // namespace parley::codec

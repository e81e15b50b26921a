#include "gateway/codec.h"

#include <boost/json.hpp>
#include <cmath>

#include "domain/names.h"

namespace parley::codec {
namespace json = boost::json;

namespace {

Error bad(std::string message) {
  return make_error(Errc::bad_request, std::move(message));
}

}  // namespace

Result<Request> parse_request(std::string_view text, std::string& id_out) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return bad("malformed JSON: " + ec.message());
  if (!v.is_object()) return bad("a command must be a JSON object");
  auto& o = v.as_object();
  // Read the id first, so that even a bad command gets a result the client can match.
  const json::value* id = o.if_contains("id");
  if (id && id->is_string() && valid_request_id(id->as_string())) id_out = id->as_string();
  const json::value* type = o.if_contains("type");
  if (!type || !type->is_string()) return bad("missing field: type");
  if (!id) return bad("missing field: id");
  if (!id->is_string() || !valid_request_id(id->as_string())) {
    return bad("id must be a string of 1-64 chars");
  }
  Request r;
  r.op = type->as_string();
  r.id = id_out;
  if (const json::value* ttl = o.if_contains("ttl_ms")) {
    if (!ttl->is_int64() && !ttl->is_uint64()) return bad("ttl_ms must be an integer >= 1");
    int64_t n = ttl->is_int64()
                    ? ttl->as_int64()
                    : static_cast<int64_t>(std::min<uint64_t>(ttl->as_uint64(), INT64_MAX));
    if (n < 1) return bad("ttl_ms must be an integer >= 1");
    // The cap keeps every deadline (now + ttl, in ms) far from overflow, and a command that
    // may wait a day is no ttl anyway (docs/protocol.md).
    if (n > kMaxTtlMs) return bad("ttl_ms must be at most 86400000 (24 h)");
    r.ttl_ms = n;
  }
  // Bounded: parse_traceparent takes exactly 55 chars, so nothing longer is ever copied.
  if (const json::value* tp = o.if_contains("traceparent")) {
    r.has_traceparent = true;
    if (tp->is_string()) r.traceparent = parse_traceparent(tp->as_string());
  }
  r.body = std::move(o);
  return r;
}

Result<std::string> required_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return bad("missing field: " + std::string(key));
  if (!v->is_string()) return bad(std::string(key) + " must be a string");
  return std::string(v->as_string());
}

Result<std::optional<std::string>> optional_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return bad(std::string(key) + " must be a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<int64_t>> optional_int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64()) return bad(std::string(key) + " is out of range");
  if (v->is_double()) {
    double d = v->as_double();
    // Range-check before the cast: converting an out-of-range double is undefined.
    if (std::isfinite(d) && d >= -9.2e18 && d <= 9.2e18 && d == std::trunc(d)) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return bad(std::string(key) + " must be an integer");
}

Result<bool> optional_bool(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) return bad(std::string(key) + " must be true or false");
  return v->as_bool();
}

json::object message_object(const Message& m) {
  json::object o{{"type", "message"}, {"room", m.room}, {"seq", m.seq}, {"msg_id", m.msg_id},
                 {"from", m.from},    {"text", m.text}, {"ts", m.ts}};
  if (!m.client_msg_id.empty()) o["client_msg_id"] = m.client_msg_id;
  return o;
}

std::string message_frame(const Message& m) {
  return json::serialize(message_object(m));
}

std::string welcome_frame(std::string_view session, std::string_view user,
                          std::string_view instance, std::string_view epoch) {
  return json::serialize(json::object{{"type", "welcome"},
                                      {"session", session},
                                      {"user", user},
                                      {"instance", instance},
                                      {"epoch", epoch}});
}

std::string ok_frame(std::string_view id, json::object fields) {
  json::object o{{"type", "result"}, {"id", id}, {"ok", true}};
  for (auto& [k, v] : fields) o[k] = std::move(v);
  return json::serialize(o);
}

namespace {

json::object error_object(const Error& e) {
  json::object o{{"code", wire_name(e.code)}, {"message", e.message}};
  if (e.outcome_unknown) o["outcome"] = "unknown";
  return o;
}

}  // namespace

std::string error_frame(std::string_view id, const Error& e, std::string_view traceparent) {
  json::object o{{"type", "result"}};
  if (!id.empty()) o["id"] = id;
  o["ok"] = false;
  o["error"] = error_object(e);
  if (!traceparent.empty()) o["traceparent"] = traceparent;
  return json::serialize(o);
}

std::string event_frame(std::string_view event, std::string_view room, std::string_view user) {
  return json::serialize(
      json::object{{"type", "event"}, {"event", event}, {"room", room}, {"user", user}});
}

std::string http_error_body(const Error& e) {
  return json::serialize(json::object{{"error", error_object(e)}});
}

}  // namespace parley::codec

#include "adapters/kafka/record_codec.h"

#include <boost/json.hpp>
#include <limits>

namespace parley {

namespace json = boost::json;

namespace {

const char* kind_code(RecordKind k) {
  switch (k) {
    case RecordKind::send:
      return "s";
    case RecordKind::create_room:
      return "c";
    case RecordKind::invite:
      return "i";
    case RecordKind::open_dm:
      return "d";
  }
  return "s";
}

std::optional<RecordKind> kind_from(std::string_view c) {
  if (c == "s") return RecordKind::send;
  if (c == "c") return RecordKind::create_room;
  if (c == "i") return RecordKind::invite;
  if (c == "d") return RecordKind::open_dm;
  return std::nullopt;
}

json::object record_object(const LogRecord& r) {
  json::object o;
  o["k"] = kind_code(r.kind);
  auto put = [&o](const char* key, const std::string& v) {
    if (!v.empty()) o[key] = v;
  };
  put("r", r.room);
  put("u", r.user);
  put("t", r.text);
  put("c", r.client_msg_id);
  put("m", r.msg_id);
  put("g", r.target);
  if (r.is_private) o["p"] = true;
  if (r.deadline_ms != 0) o["d"] = r.deadline_ms;
  put("o", r.origin);
  if (r.request != 0) o["q"] = r.request;
  return o;
}

Error bad(std::string what) {
  return make_error(Errc::bad_request, std::move(what));
}

bool get_string(const json::object& o, const char* key, std::string& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  out.assign(v->get_string().data(), v->get_string().size());
  return true;
}

bool get_int64(const json::object& o, const char* key, int64_t& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return true;
  if (v->is_int64()) {
    out = v->get_int64();
    return true;
  }
  if (v->is_uint64() && v->get_uint64() <= uint64_t(std::numeric_limits<int64_t>::max())) {
    out = int64_t(v->get_uint64());
    return true;
  }
  return false;
}

bool get_uint64(const json::object& o, const char* key, uint64_t& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return true;
  if (v->is_uint64()) {
    out = v->get_uint64();
    return true;
  }
  if (v->is_int64() && v->get_int64() >= 0) {
    out = uint64_t(v->get_int64());
    return true;
  }
  return false;
}

Result<LogRecord> record_from(const json::value& v) {
  if (!v.is_object()) return bad("record: not an object");
  const json::object& o = v.get_object();
  LogRecord r;
  const json::value* k = o.if_contains("k");
  if (k == nullptr || !k->is_string()) return bad("record: no kind");
  auto kind = kind_from(std::string_view(k->get_string().data(), k->get_string().size()));
  if (!kind) return bad("record: unknown kind");
  r.kind = *kind;
  if (!get_string(o, "r", r.room) || !get_string(o, "u", r.user) || !get_string(o, "t", r.text) ||
      !get_string(o, "c", r.client_msg_id) || !get_string(o, "m", r.msg_id) ||
      !get_string(o, "g", r.target) || !get_string(o, "o", r.origin)) {
    return bad("record: a text field is not a string");
  }
  if (const json::value* p = o.if_contains("p")) {
    if (!p->is_bool()) return bad("record: p is not a bool");
    r.is_private = p->get_bool();
  }
  if (!get_int64(o, "d", r.deadline_ms)) return bad("record: d is not an integer");
  if (!get_uint64(o, "q", r.request)) return bad("record: q is not an unsigned integer");
  return r;
}

Result<json::value> parse(std::string_view bytes) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(bytes.data(), bytes.size()), ec);
  if (ec) return bad("not JSON: " + ec.message());
  return v;
}

}  // namespace

std::string encode_record(const LogRecord& record) {
  return json::serialize(record_object(record));
}

Result<LogRecord> decode_record(std::string_view bytes) {
  auto v = parse(bytes);
  if (!v) return v.error();
  return record_from(*v);
}

}  // namespace parley

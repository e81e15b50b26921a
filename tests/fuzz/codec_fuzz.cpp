// libFuzzer target for the JSON command decoder (src/gateway/codec.*): codec::parse_request on
// any frame text, then the typed field accessors on every field of what it returns. Checked:
// - a refused frame is `bad_request`, and the id it reports back is empty or a valid request id;
// - an accepted frame has a string `type`, a valid `id` (the one reported back) and a `ttl_ms`
//   that is absent or >= 1, and its body still holds them;
// - each accessor gives a value of the right type that matches the JSON, or `bad_request`:
//   required_string/optional_string a string equal to the field, optional_int an integer equal
//   to the field (an int64, or a double with an integral value), optional_bool a bool;
// - an ok or error frame built from the request serialises to JSON that parses back.
// Build: cmake -DPARLEY_FUZZ=ON (see cmake/fuzz.cmake); run: scripts/run-fuzz codec_fuzz.
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "domain/names.h"
#include "gateway/codec.h"

namespace {

namespace codec = parley::codec;
namespace json = boost::json;
using parley::Errc;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

template <typename R>
void check_refusal(const R& r) {
  check(r.error().code == Errc::bad_request,
        "an accessor refused with a code other than bad_request");
  check(!r.error().message.empty(), "a refusal without a message");
}

// The fields the protocol's commands read, plus every key the frame has.
const std::vector<std::string> kKnownFields = {"type",  "id",      "ttl_ms",        "room",
                                               "since", "text",    "client_msg_id", "before",
                                               "limit", "private", "user",          "session"};

// Checks every accessor on @p key; adds what a handler could echo from it (the typed value) to
// @p echo.
void check_accessors(const json::object& body, const std::string& key, json::object& echo) {
  const json::value* v = body.if_contains(key);
  bool absent = !v || v->is_null();

  auto req = codec::required_string(body, key);
  if (req) {
    echo[key] = *req;
    check(v && v->is_string() && *req == std::string_view(v->as_string()),
          "required_string gave a value that is not the field's string");
  } else {
    check_refusal(req);
    check(!v || !v->is_string(), "required_string refused a string field");
  }

  auto opt = codec::optional_string(body, key);
  if (opt) {
    if (*opt) {
      check(v && v->is_string() && **opt == std::string_view(v->as_string()),
            "optional_string gave a value that is not the field's string");
    } else {
      check(absent, "optional_string gave nothing for a present field");
    }
  } else {
    check_refusal(opt);
    check(!absent && !v->is_string(), "optional_string refused an absent or string field");
  }

  auto n = codec::optional_int(body, key);
  if (n) {
    if (*n) {
      echo[key] = **n;
      check(v != nullptr, "optional_int gave a value for an absent field");
      if (v->is_int64()) {
        check(**n == v->as_int64(), "optional_int changed an int64");
      } else {
        check(v->is_double(), "optional_int accepted a field that is not a number");
        double d = v->as_double();
        check(std::isfinite(d) && d == std::trunc(d), "optional_int accepted a fraction");
        check(static_cast<double>(**n) == d, "optional_int changed a double's value");
      }
    } else {
      check(absent, "optional_int gave nothing for a present field");
    }
  } else {
    check_refusal(n);
    check(!absent && !v->is_int64(), "optional_int refused an absent or int64 field");
  }

  for (bool fallback : {false, true}) {
    auto b = codec::optional_bool(body, key, fallback);
    if (b) {
      check(absent ? *b == fallback : (v->is_bool() && *b == v->as_bool()),
            "optional_bool gave a value that is not the field's");
      if (!absent) echo[key] = *b;
    } else {
      check_refusal(b);
      check(!absent && !v->is_bool(), "optional_bool refused an absent or bool field");
    }
  }
}

bool reparses_as_object(const std::string& frame, json::object* out = nullptr) {
  json::error_code ec;
  json::value v = json::parse(frame, ec);
  if (ec || !v.is_object()) return false;
  if (out) *out = std::move(v.as_object());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string id;
  auto r = codec::parse_request(text, id);
  check(id.empty() || parley::valid_request_id(id), "reported id is not a valid request id");
  if (!r) {
    check(r.error().code == Errc::bad_request,
          "a frame refused with a code other than bad_request");
    check(reparses_as_object(codec::error_frame(id, r.error())), "error frame is not JSON");
    return 0;
  }
  const codec::Request& req = *r;
  check(req.id == id && parley::valid_request_id(req.id), "accepted frame without a valid id");
  check(!req.ttl_ms || *req.ttl_ms >= 1, "accepted ttl_ms < 1");
  const json::value* type = req.body.if_contains("type");
  check(type && type->is_string() && req.op == std::string_view(type->as_string()),
        "op is not the body's type");
  const json::value* body_id = req.body.if_contains("id");
  check(body_id && body_id->is_string() && req.id == std::string_view(body_id->as_string()),
        "id is not the body's id");

  json::object echo;
  for (const auto& key : kKnownFields) check_accessors(req.body, key, echo);
  for (const auto& kv : req.body) check_accessors(req.body, std::string(kv.key()), echo);

  // A result built from the typed values (as the handlers build theirs) parses back to them.
  // (Not the raw values: Boost.JSON reads 1e999 as infinity and writes that as `Infinity`.)
  echo.erase("type");
  echo.erase("id");
  echo.erase("ok");
  json::object result;
  check(reparses_as_object(codec::ok_frame(req.id, echo), &result), "ok frame is not JSON");
  for (const auto& kv : echo) {
    const json::value* back = result.if_contains(kv.key());
    check(back && (*back == kv.value() ||
                   (back->is_number() && kv.value().is_number() &&
                    back->to_number<double>() == kv.value().to_number<double>())),
          "a field of the ok frame came back changed");
  }
  return 0;
}

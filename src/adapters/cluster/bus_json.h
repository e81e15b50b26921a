#pragma once
// The small JSON values of the results and events topics, read the same way by both buses:
// a record without a valid MAC, or whose value is not a recent JSON object, is skipped; a
// missing field reads as empty.
#include <boost/json.hpp>
#include <optional>
#include <string>

#include "adapters/kafka/consumed.h"

namespace parley::bus_json {

/// The record's value as an object, or nullopt if it is not authentic, is older than
/// @p max_age_ms at @p now_ms or is not a JSON object.
inline std::optional<boost::json::object> recent_object(const Consumed& c, int64_t now_ms,
                                                        int64_t max_age_ms) {
  if (!c.authentic) return std::nullopt;  // counted and logged by the reader
  if (now_ms - c.timestamp_ms > max_age_ms) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(c.value, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

/// The string field @p key of @p o, empty if absent or not a string.
inline std::string text(const boost::json::object& o, const char* key) {
  const boost::json::value* f = o.if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

}  // namespace parley::bus_json

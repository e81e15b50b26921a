#pragma once
// The error codes of the wire protocol, and the one table that maps them to wire names
// and HTTP statuses. Everything below the gateway speaks Errc; only codecs see strings.
#include <string_view>

namespace parley {

enum class Errc {
  bad_request,
  unauthenticated,
  forbidden,
  not_found,
  conflict,
  too_large,
  rate_limited,
  timeout,
  unavailable,
  internal,
};

constexpr std::string_view wire_name(Errc e) {
  switch (e) {
    case Errc::bad_request:
      return "bad_request";
    case Errc::unauthenticated:
      return "unauthenticated";
    case Errc::forbidden:
      return "forbidden";
    case Errc::not_found:
      return "not_found";
    case Errc::conflict:
      return "conflict";
    case Errc::too_large:
      return "too_large";
    case Errc::rate_limited:
      return "rate_limited";
    case Errc::timeout:
      return "timeout";
    case Errc::unavailable:
      return "unavailable";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

constexpr int http_status(Errc e) {
  switch (e) {
    case Errc::bad_request:
      return 400;
    case Errc::unauthenticated:
      return 401;
    case Errc::forbidden:
      return 403;
    case Errc::not_found:
      return 404;
    case Errc::conflict:
      return 409;
    case Errc::too_large:
      return 413;
    case Errc::rate_limited:
      return 429;
    case Errc::timeout:
      return 504;
    case Errc::unavailable:
      return 503;
    case Errc::internal:
      return 500;
  }
  return 500;
}

}  // namespace parley

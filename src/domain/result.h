#pragma once
// Result<T>: a value or an Error, for the hot path where exceptions are not used.
// A small stand-in for C++23 std::expected (the toolchain here is C++20).
#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "domain/errc.h"

namespace parley {

struct Error {
  Errc code = Errc::internal;
  std::string message;
  // `unavailable` from a cluster that cannot know whether the log took the command: the wire
  // error carries "outcome":"unknown" (a send may be retried with the same client_msg_id).
  bool outcome_unknown = false;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message), false};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that yields nothing but success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace parley

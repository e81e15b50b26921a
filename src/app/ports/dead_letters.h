#pragma once
// Where commands that expired before they could be applied are recorded, with the reason.
#include <cstdint>
#include <memory>
#include <string>

namespace parley {

struct DeadLetter {
  std::string session;
  std::string user;
  std::string op;
  std::string payload;  // the command as the client sent it
  std::string reason;
  int64_t at_ms = 0;
};

class DeadLetters {
 public:
  virtual ~DeadLetters() = default;
  /// Records @p letter durably (fire and forget: a failure is logged by the adapter).
  virtual void record(DeadLetter letter) = 0;
};

using DeadLettersPtr = std::shared_ptr<DeadLetters>;

}  // namespace parley

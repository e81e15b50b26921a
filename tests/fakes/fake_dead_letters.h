#pragma once
// DeadLetters that keeps what it is given, in order.
#include <mutex>
#include <vector>

#include "app/ports/dead_letters.h"

namespace parley::fakes {

class FakeDeadLetters final : public DeadLetters {
 public:
  void record(DeadLetter letter) override {
    std::lock_guard lock(mutex_);
    letters_.push_back(std::move(letter));
  }
  std::vector<DeadLetter> letters() const {
    std::lock_guard lock(mutex_);
    return letters_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<DeadLetter> letters_;
};

}  // namespace parley::fakes

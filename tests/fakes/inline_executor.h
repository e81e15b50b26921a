#pragma once
// BlockingExecutor that runs each job at once, on the caller's thread.
#include <functional>

#include "app/ports/blocking_executor.h"

namespace parley::fakes {

class InlineExecutor final : public BlockingExecutor {
 public:
  void run(std::function<void()> job) override {
    ++runs;
    job();
  }
  int runs = 0;
};

}  // namespace parley::fakes

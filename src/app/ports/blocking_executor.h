#pragma once
// Somewhere to run blocking work (password hashing) that must never run on an event loop.
#include <functional>
#include <memory>

namespace parley {

class BlockingExecutor {
 public:
  virtual ~BlockingExecutor() = default;
  /// Runs @p job on another thread, some time later.
  virtual void run(std::function<void()> job) = 0;
};

using BlockingExecutorPtr = std::shared_ptr<BlockingExecutor>;

}  // namespace parley

#pragma once
// BlockingExecutor over a few TaskThreads, used round robin (password hashing).
#include <atomic>
#include <memory>
#include <vector>

#include "app/ports/blocking_executor.h"
#include "runtime/task_thread.h"

namespace parley {

class ThreadPoolExecutor final : public BlockingExecutor {
 public:
  explicit ThreadPoolExecutor(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.push_back(std::make_unique<TaskThread>());
      threads_.back()->start();
    }
  }
  void run(std::function<void()> job) override {
    threads_[next_++ % threads_.size()]->post(std::move(job));
  }
  void stop() {
    for (auto& t : threads_) t->stop();
  }

 private:
  std::vector<std::unique_ptr<TaskThread>> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace parley

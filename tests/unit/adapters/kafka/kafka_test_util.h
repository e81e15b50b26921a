#pragma once
// Shared by the Kafka adapter tests: waiting for callbacks, unique topic prefixes.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/kafka/kafka_producer.h"

namespace parley::kafka_test {

inline std::string unique_prefix(const std::string& name) {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" + name + ".";
}

// Collects delivery reports; wait() returns once @p count came or the timeout passed.
class Deliveries {
 public:
  DeliveryCallback callback() {
    return [this](const Delivery& d) {
      std::lock_guard lock(mu_);
      got_.push_back(d);
      cv_.notify_all();
    };
  }
  bool wait(size_t count, int timeout_ms = 10000) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [&] { return got_.size() >= count; });
  }
  std::vector<Delivery> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> got_;
};

inline bool eventually(const std::function<bool()>& pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace parley::kafka_test

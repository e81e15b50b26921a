#pragma once
// Helpers of the tests that drive the real SQLite storage: waiting for callbacks from its
// threads (never by sleeping), recording what the committed sink got, a temporary directory.
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/message.h"

namespace parley::testsupport {

using namespace std::chrono_literals;

constexpr auto kWait = 30s;  // generous: only reached if something is broken

// Runs an asynchronous call and waits for its one answer (the fakes answer at once, SQLite on
// its own threads). Throws rather than hang, so a lost callback fails the test.
template <typename R, typename Start>
R await(Start start) {
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  start([promise](R r) { promise->set_value(std::move(r)); });
  if (future.wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error("no answer within the time limit");
  }
  return future.get();
}

// Counts down to zero, so a test can wait for many callbacks from many threads.
class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void count_down() {
    std::lock_guard lock(mutex_);
    if (--count_ == 0) cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return count_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_;
};

// What the on_committed sink received.
class Committed {
 public:
  std::function<void(std::vector<Message>)> sink() {
    return [this](std::vector<Message> batch) {
      std::lock_guard lock(mutex_);
      ++calls_;
      for (auto& m : batch) messages_.push_back(std::move(m));
      cv_.notify_all();
    };
  }
  bool wait_for(size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return messages_.size() >= n; });
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  int calls_ = 0;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "parley-contract-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace parley::testsupport

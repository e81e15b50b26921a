#pragma once
// What the storage fault and bound tests share: the answers of many jobs, each kept under the
// name of its job, and a gate that holds the writer (or the reader) thread inside a completion
// so that a test decides what the next batch holds, or can fill a queue that nothing drains.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "adapters/sqlite/sqlite_storage.h"
#include "contract/storage_test_support.h"

namespace parley::testsupport {

struct Answer {
  int count = 0;  // how many times the job was answered: exactly once, or the test fails
  bool ok = false;
  Error error;
  Message message;  // of an append that succeeded
  bool duplicate = false;
};

class Answers {
 public:
  std::function<void(Result<Appended>)> append(const std::string& key) {
    expect_one();
    return [this, key](Result<Appended> r) {
      record(key, [&](Answer& a) {
        a.ok = r.ok();
        if (r.ok()) {
          a.message = r->message;
          a.duplicate = r->duplicate;
        } else {
          a.error = r.error();
        }
      });
    };
  }
  std::function<void(Status)> status(const std::string& key) {
    expect_one();
    return [this, key](Status st) {
      record(key, [&](Answer& a) {
        a.ok = st.ok();
        if (!st.ok()) a.error = st.error();
      });
    };
  }
  template <typename R>
  std::function<void(R)> read(const std::string& key) {
    expect_one();
    return [this, key](R r) {
      record(key, [&](Answer& a) {
        a.ok = r.ok();
        if (!r.ok()) a.error = r.error();
      });
    };
  }
  /// Waits until every job handed a callback was answered at least once.
  bool wait_all() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return answered_ >= expected_; });
  }
  std::map<std::string, Answer> all() {
    std::lock_guard lock(mutex_);
    return answers_;
  }
  Answer get(const std::string& key) {
    std::lock_guard lock(mutex_);
    return answers_[key];
  }
  size_t answered() {
    std::lock_guard lock(mutex_);
    return answered_;
  }

 private:
  void expect_one() {
    std::lock_guard lock(mutex_);
    ++expected_;
  }
  template <typename Fill>
  void record(const std::string& key, Fill fill) {
    std::lock_guard lock(mutex_);
    Answer& a = answers_[key];
    ++a.count;
    fill(a);
    ++answered_;
    cv_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, Answer> answers_;
  size_t expected_ = 0;
  size_t answered_ = 0;
};

// Holds a storage thread inside the completion of one job until opened (or destroyed).
class Gate {
 public:
  ~Gate() { open(); }

  /// Parks the writer thread: a user is created and its completion waits for open().
  bool hold_writer(SqliteStorage& storage, const std::string& user) {
    storage.create_user(user, "gate", [this](Status) { park(); });
    return wait_parked();
  }
  /// Parks the reader thread the same way, in the completion of a read.
  bool hold_reader(SqliteStorage& storage) {
    storage.head("gate", [this](Result<int64_t>) { park(); });
    return wait_parked();
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  void park() {
    std::unique_lock lock(mutex_);
    parked_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool wait_parked() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return parked_; });
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  bool parked_ = false;
  bool open_ = false;
};

}  // namespace parley::testsupport

#pragma once
// The queue in front of a storage thread, bounded in jobs and in (estimated) bytes: whatever
// clients send, the storage holds at most that much waiting work. A push past a bound is
// refused at once and the job stays with the caller, who answers it `unavailable`; nothing
// ever waits for room, so no event loop blocks on storage.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace parley::sqlite {

struct QueueUsage {
  size_t jobs = 0;
  size_t bytes = 0;
};

enum class Push { queued, full, stopped };

template <typename Job>
class JobQueue {
 public:
  JobQueue(size_t max_jobs, size_t max_bytes) : max_jobs_(max_jobs), max_bytes_(max_bytes) {}

  /// Queues @p job, which holds about @p bytes. Unless the answer is `queued`, @p job is left
  /// untouched for the caller to answer.
  Push push(std::unique_ptr<Job>& job, size_t bytes) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return Push::stopped;
      // bytes_ <= max_bytes_ always holds, so the subtraction cannot wrap.
      if (items_.size() >= max_jobs_ || bytes > max_bytes_ - bytes_) return Push::full;
      items_.push_back(Item{std::move(job), bytes});
      bytes_ += bytes;
    }
    cv_.notify_one();
    return Push::queued;
  }

  /// Waits for work, then moves up to @p max jobs, oldest first, to the end of @p out.
  /// False once the queue is stopped and empty: the consumer is done.
  bool pop(std::vector<std::unique_ptr<Job>>& out, size_t max) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return stopped_ || !items_.empty(); });
    if (items_.empty()) return false;
    for (size_t n = 0; n < max && !items_.empty(); ++n) {
      bytes_ -= items_.front().bytes;
      out.push_back(std::move(items_.front().job));
      items_.pop_front();
    }
    return true;
  }

  /// Refuses every push from now on; pop still hands out what is queued.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  /// Takes what is still queued without waiting (for a queue that has no consumer).
  std::vector<std::unique_ptr<Job>> take_all() {
    std::vector<std::unique_ptr<Job>> out;
    std::lock_guard lock(mutex_);
    for (auto& item : items_) out.push_back(std::move(item.job));
    items_.clear();
    bytes_ = 0;
    return out;
  }

  QueueUsage usage() const {
    std::lock_guard lock(mutex_);
    return QueueUsage{items_.size(), bytes_};
  }

 private:
  struct Item {
    std::unique_ptr<Job> job;
    size_t bytes;
  };

  const size_t max_jobs_;
  const size_t max_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  size_t bytes_ = 0;
  bool stopped_ = false;
};

}  // namespace parley::sqlite

#pragma once
// A bounded pool of PostgreSQL connections: N worker threads, each owning one connection, behind
// one job queue bounded in jobs and in (estimated) bytes. A job that does not fit is answered
// `unavailable` at once on the caller's thread; nothing ever waits for room, so no event loop
// blocks on PostgreSQL. While the server is down the workers answer jobs `unavailable` quickly:
// connects time out after 2 s and a shared backoff refuses further connects for a while.
//
// healthy() (for /readyz) is fed by a probe thread with its own connection that runs `select 1`
// every second: it turns false within about 3 s of the server going away and true again on its
// own when the server is back (the probe's success also ends the workers' backoff).
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/postgres/pg_connection.h"
#include "adapters/sqlite/job_queue.h"  // header-only, storage-agnostic bounded queue
#include "domain/result.h"
#include "runtime/log_trace.h"

namespace parley::pg {

struct PgPoolOptions {
  std::string conninfo;
  int workers = 4;
  size_t max_jobs = 65536;
  size_t max_bytes = size_t{64} << 20;
  ConnOptions connection = {};
  int probe_interval_ms = 1000;
  int healthy_for_ms = 3000;  // healthy(): a probe succeeded at most this long ago
};

// One unit of work for a worker: run() on its connection, or fail() if it never gets that far
// (queue full, pool stopped). Exactly one of them is called, once.
class PgJob {
 public:
  virtual ~PgJob() = default;
  virtual void run(Connection& connection) = 0;
  virtual void fail(const Error& error) = 0;
};

using QueueUsage = sqlite::QueueUsage;

class PgPool {
 public:
  explicit PgPool(PgPoolOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  /// Starts the workers and the probe. Connects lazily: a server that is down is no error here.
  void start();
  /// Lets the workers finish what is queued, then stops them; later jobs are answered
  /// `unavailable`.
  void stop();

  /// Queues @p job (about @p bytes big), or calls its fail() at once if it does not fit.
  void submit(std::unique_ptr<PgJob> job, size_t bytes);

  /// Runs @p fn (Result<T>(Connection&)) on a worker and hands its result to @p done, which
  /// runs on that worker (or at once on this thread with `unavailable` if refused).
  template <typename T, typename Fn>
  void submit(size_t bytes, Fn fn, std::function<void(Result<T>)> done);

  /// True when a `select 1` succeeded within the last healthy_for_ms.
  bool healthy() const;
  QueueUsage queue() const { return queue_.usage(); }
  /// The backoff of this pool's connections, for other connections to the same server.
  const std::shared_ptr<Backoff>& backoff() const { return backoff_; }
  const PgPoolOptions& options() const { return options_; }

 private:
  template <typename T, typename Fn>
  class FnJob;

  void worker_loop();
  void probe_loop();
  Error refused(sqlite::Push why);

  PgPoolOptions options_;
  std::shared_ptr<Backoff> backoff_ = std::make_shared<Backoff>();
  sqlite::JobQueue<PgJob> queue_;
  std::vector<std::thread> workers_;
  std::thread probe_;
  std::mutex probe_mutex_;
  std::condition_variable probe_cv_;
  bool stopping_ = false;
  bool started_ = false;
  std::atomic<int64_t> last_ok_ms_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<int64_t> refused_logged_at_{0};
};

// The trace of the command that queued a job goes with it: the job and its completion run in
// that command's log scope, so a record its completion makes (an invitation or a dm after the
// user lookup) carries the command's trace, and so do its log lines.
template <typename T, typename Fn>
class PgPool::FnJob final : public PgJob {
 public:
  FnJob(Fn fn, std::function<void(Result<T>)> done) : fn_(std::move(fn)), done_(std::move(done)) {
    if (const TraceContext* t = LogTraceScope::current()) trace_ = *t;
  }
  void run(Connection& c) override {
    LogTraceScope scope(trace_);
    done_(fn_(c));
  }
  void fail(const Error& e) override {
    LogTraceScope scope(trace_);
    done_(e);
  }

 private:
  Fn fn_;
  std::function<void(Result<T>)> done_;
  TraceContext trace_{};
};

template <typename T, typename Fn>
void PgPool::submit(size_t bytes, Fn fn, std::function<void(Result<T>)> done) {
  submit(std::make_unique<FnJob<T, Fn>>(std::move(fn), std::move(done)), bytes);
}

}  // namespace parley::pg

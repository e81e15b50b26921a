#include "adapters/postgres/pg_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace parley::pg {
namespace {

// The probe's own statement; a cheap round trip through the executor.
constexpr Statement kProbe{"parley_probe", "SELECT 1", false};

Error stopped_error() {
  return make_error(Errc::unavailable, "postgres pool is stopped");
}

}  // namespace

PgPool::PgPool(PgPoolOptions options)
    : options_(std::move(options)), queue_(options_.max_jobs, options_.max_bytes) {}

PgPool::~PgPool() {
  stop();
}

void PgPool::start() {
  if (started_) return;
  started_ = true;
  int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
  probe_ = std::thread([this] { probe_loop(); });
}

void PgPool::stop() {
  queue_.stop();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
  {
    std::lock_guard lock(probe_mutex_);
    stopping_ = true;
  }
  probe_cv_.notify_all();
  if (probe_.joinable()) probe_.join();
  // Left only if the workers never ran: answer those jobs rather than drop their callbacks.
  for (auto& job : queue_.take_all()) job->fail(stopped_error());
}

Error PgPool::refused(sqlite::Push why) {
  if (why == sqlite::Push::stopped) return stopped_error();
  uint64_t n = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t now = steady_ms();
  int64_t prev = refused_logged_at_.load(std::memory_order_relaxed);
  if (now - prev >= 1000 && refused_logged_at_.compare_exchange_strong(prev, now)) {
    spdlog::warn("postgres queue full: {} jobs refused since start", n);
  }
  return make_error(Errc::unavailable, "postgres is overloaded, retry");
}

void PgPool::submit(std::unique_ptr<PgJob> job, size_t bytes) {
  sqlite::Push pushed = queue_.push(job, bytes);
  if (pushed != sqlite::Push::queued) job->fail(refused(pushed));
}

void PgPool::worker_loop() {
  Connection connection(options_.conninfo, options_.connection, backoff_);
  std::vector<std::unique_ptr<PgJob>> jobs;
  while (queue_.pop(jobs, 1)) {
    for (auto& job : jobs) job->run(connection);
    jobs.clear();
  }
}

bool PgPool::healthy() const {
  int64_t ok = last_ok_ms_.load(std::memory_order_relaxed);
  return ok != 0 && steady_ms() - ok <= options_.healthy_for_ms;
}

void PgPool::probe_loop() {
  // Its own connection and no backoff: it must try every interval to notice the server's return.
  ConnOptions o = options_.connection;
  o.query_timeout_ms = std::min(o.query_timeout_ms, 2000);
  Connection connection(options_.conninfo, o);
  bool was_up = true;  // log the first failure, and every change after it
  std::unique_lock lock(probe_mutex_);
  while (!stopping_) {
    lock.unlock();
    auto r = connection.exec(kProbe);
    if (r) {
      last_ok_ms_.store(steady_ms(), std::memory_order_relaxed);
      backoff_->succeeded();  // the workers may reconnect at once
      if (!was_up) spdlog::info("postgres is reachable again");
      was_up = true;
    } else if (was_up) {
      spdlog::warn("postgres probe failed: {}", r.error().message);
      was_up = false;
    }
    lock.lock();
    probe_cv_.wait_for(lock, std::chrono::milliseconds(options_.probe_interval_ms),
                       [this] { return stopping_; });
  }
}

}  // namespace parley::pg

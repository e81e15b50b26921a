#include "cli/bench/fleet.h"

#include "cli/bench/retry_schedule.h"

namespace parley::bench {

namespace {
constexpr size_t kParallelConnects = 128;
// A server guarded by --max-connects-per-sec books every refused attempt a later slot: its
// Retry-After is honoured, a bounded number of times.
constexpr int kMaxToldRetries = 20;
}  // namespace

awaitable<bool> Fleet::open(size_t n, std::chrono::milliseconds timeout, TextHandler on_text,
                            CloseHandler on_close, std::string& error) {
  auto ex = co_await net::this_coro::executor;
  size_t first = conns_.size();
  for (size_t i = 0; i < n; ++i) conns_.push_back(std::make_shared<WsClient>(ex));
  size_t next = first;
  size_t running = 0;
  auto worker = [&]() -> awaitable<void> {
    while (next < conns_.size() && error.empty()) {
      size_t i = next++;
      auto conn = conns_[i];
      auto outcome = co_await conn->connect(target_of(i), path_of(i), timeout);
      RetrySchedule retry(RetryOn::told);
      while (!outcome.ok && retry.retries() < kMaxToldRetries) {
        auto wait = retry.after(outcome, jitter_draw());
        if (!wait) break;
        co_await sleep_for(*wait);
        conns_[i] = conn = std::make_shared<WsClient>(ex);
        outcome = co_await conn->connect(target_of(i), path_of(i), timeout);
      }
      if (!outcome.ok) {
        error =
            "connection " + std::to_string(i) + " to " + target_of(i).url() + ": " + outcome.reason;
        break;
      }
      conn->start_reading(
          [on_text, i](std::string_view f) { on_text(i, f); },
          [on_close, i](int code, const std::string& why) { on_close(i, code, why); });
    }
    --running;
  };
  for (size_t w = 0; w < std::min(kParallelConnects, n); ++w) {
    ++running;
    net::co_spawn(ex, worker(), net::detached);
  }
  co_await wait_until([&] { return running == 0; }, SteadyClock::time_point::max());
  co_return error.empty();
}

size_t Fleet::open_count() const {
  size_t n = 0;
  for (const auto& c : conns_) n += c->is_open() ? 1 : 0;
  return n;
}

void Fleet::abort_all() {
  for (auto& c : conns_) c->abort();
}

void Fleet::reset_all() {
  for (auto& c : conns_) c->reset();
}

awaitable<void> Fleet::close() {
  abort_all();
  co_await wait_until(
      [&] {
        for (const auto& c : conns_) {
          if (c->is_reading()) return false;
        }
        return true;
      },
      SteadyClock::time_point::max());
}

}  // namespace parley::bench

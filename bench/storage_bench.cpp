// Group commit: how many sends per second the SQLite message log makes durable when many
// clients send at once. Each "client" keeps a window of sends in flight, as a WebSocket client
// pipelining sends would; every send is answered only after its transaction committed.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "adapters/sqlite/sqlite_storage.h"
#include "app/metrics.h"
#include "cli/system_clock.h"

namespace {

using namespace parley;

void BM_GroupCommitSends(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const bool full_sync = state.range(1) != 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("parley-bench-" + std::to_string(getpid()) + "-" + std::to_string(clients));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uint64_t commits_before = Metrics::global().commits_total.load();
  int64_t total = 0;
  {
    SqliteStorage storage({(dir / "bench.db").string(), full_sync},
                          std::make_shared<SystemClock>());
    storage.start();
    const int per_iteration = clients == 1 ? 200 : 4000;
    for (auto _ : state) {
      std::mutex m;
      std::condition_variable cv;
      int done = 0;
      std::atomic<int> next{0};
      // Every client has one send in flight: the next is issued from the previous one's answer.
      std::function<void(int)> send_one = [&](int client) {
        int k = next.fetch_add(1);
        if (k >= per_iteration) return;
        storage.append({"room" + std::to_string(client % 8), "user" + std::to_string(client),
                        std::string(100, 'x'), "", nullptr},
                       [&, client](Result<Appended> r) {
                         if (!r) state.SkipWithError("append failed");
                         send_one(client);
                         // Notify under the lock: once it is released this callback touches
                         // nothing of the iteration, which may then end.
                         std::lock_guard lock(m);
                         ++done;
                         cv.notify_one();
                       });
      };
      for (int c = 0; c < clients; ++c) send_one(c);
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return done >= per_iteration; });
      total += per_iteration;
    }
    storage.stop();
  }
  uint64_t commits = Metrics::global().commits_total.load() - commits_before;
  state.SetItemsProcessed(total);
  state.counters["sends_per_commit"] = commits ? static_cast<double>(total) / commits : 0;
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_GroupCommitSends)
    ->ArgNames({"clients", "fsync"})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Args({16, 1})
    ->Args({256, 1})
    ->Args({1000, 1})
    ->Args({256, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

// What one delivery costs the WebSocket session that writes it: a fan-out queues one shared
// frame on each of N sessions (as FanOut does through Client::send), the worker's flush task
// writes them, one write a socket, to N loopback TCP connections. Only that part is timed: the
// frames are read back on the client ends with the timer paused. The kernel's TCP work for both
// ends of a loopback connection is in the figure, as it is in the server's CPU.
#include <benchmark/benchmark.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "adapters/ws/websocket_session.h"
#include "fakes/fake_services.h"
#include "gateway/gateway.h"
#include "runtime/worker_pool.h"

namespace {

using namespace parley;
using tcp = boost::asio::ip::tcp;
using Session = WebSocketSession<tcp::socket>;

// N sessions on worker 0 of a pool whose loop this thread runs (poll), and the client end of
// each connection.
class Sessions {
 public:
  explicit Sessions(int n) {
    gateway_.start();
    auto& io = pool_.context(0);
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    for (int i = 0; i < n; ++i) {
      auto client = std::make_unique<tcp::socket>(io);
      client->connect(acceptor.local_endpoint());
      auto session = std::make_shared<Session>(acceptor.accept(), gateway_, 0);
      // 100 connections a user: under the per-user connection limit (256).
      session->start("bench-" + std::to_string(i / 100), "bench-session-" + std::to_string(i));
      sessions_.push_back(std::move(session));
      clients_.push_back(std::move(client));
    }
    io.poll();
  }
  ~Sessions() {
    // The sessions read the hang-ups and close; then the loop has nothing left of them.
    for (auto& c : clients_) c->close();
    for (int i = 0; i < 100 && pool_.context(0).poll() > 0; ++i) {
    }
  }

  // One fan-out of @p frame: queued on every session, then flushed by the worker's loop.
  void deliver(const Frame& frame) {
    for (auto& s : sessions_) s->send(frame);
    pool_.context(0).poll();
  }

  // Reads @p bytes from every client end (blocking); how many it got in all.
  size_t read_back(size_t bytes) {
    std::string buffer(bytes, '\0');
    size_t total = 0;
    for (auto& c : clients_) {
      size_t got = 0;
      while (got < bytes) {
        ssize_t n = ::recv(c->native_handle(), buffer.data() + got, bytes - got, 0);
        if (n <= 0) return total;  // closed: the figure is wrong, and the counter shows it
        got += static_cast<size_t>(n);
      }
      total += got;
    }
    return total;
  }

 private:
  fakes::FakeServices services_;
  WorkerPool pool_{1};
  Gateway gateway_{services_.services, pool_, "bench"};
  std::vector<std::shared_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<tcp::socket>> clients_;
};

void BM_FanOutWrite(benchmark::State& state) {
  Sessions sessions(static_cast<int>(state.range(0)));
  Frame frame = make_frame(std::string(state.range(1), 'x'));
  size_t wire = 2 + frame->size();  // a text frame's header below 126 bytes is 2 bytes
  size_t received = 0;
  for (auto _ : state) {
    sessions.deliver(frame);
    state.PauseTiming();
    received += sessions.read_back(wire);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  // 1 when every delivery reached its client whole.
  state.counters["received"] = static_cast<double>(received) /
                               static_cast<double>(wire * state.iterations() * state.range(0));
}
BENCHMARK(BM_FanOutWrite)->Args({100, 100})->Args({1000, 100});

}  // namespace

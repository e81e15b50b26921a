#include "adapters/ws/ws_server.h"

#include <spdlog/spdlog.h>

#include <boost/url.hpp>
#include <cerrno>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>

#include "adapters/ws/http_session.h"
#include "adapters/ws/session_id.h"
#include "adapters/ws/tls_context.h"
#include "runtime/worker_pool.h"

namespace parley {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// Out of descriptors (or kernel memory), accepting again at once fails again at once: the
// pending connection stays in the backlog and the acceptor spins. Pause instead.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kAcceptLogEvery = std::chrono::seconds(1);

}  // namespace

struct WsServer::Impl {
  Gateway& gateway;
  HttpApi& api;
  WorkerPool& pool;
  TlsSettings tls_settings;
  std::unique_ptr<TlsContext> tls{};  // null: plain http and ws
  // TLS handshakes in progress (held by HandshakeSlot, which may outlive this).
  std::shared_ptr<std::atomic<size_t>> handshakes = std::make_shared<std::atomic<size_t>>(0);
  std::chrono::steady_clock::time_point last_refusal_log{};
  uint64_t refusals_unlogged = 0;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_pause{ioc};
  // Accept errors logged at most once per kAcceptLogEvery; the others are counted.
  std::chrono::steady_clock::time_point last_accept_log{};
  uint64_t accept_errors_unlogged = 0;

  void accept() {
    int worker = pool.next();
    // The socket is created on its worker's context: the connection lives there from now on.
    acceptor.async_accept(
        pool.context(worker), [this, worker](beast::error_code ec, tcp::socket s) {
          if (ec == asio::error::operation_aborted) return;
          if (!ec) {
            s.set_option(tcp::no_delay(true), ec);
            if (tls) {
              start_tls(worker, std::move(s));
            } else {
              asio::post(pool.context(worker), [this, worker, s = std::move(s)]() mutable {
                std::make_shared<HttpSession<beast::tcp_stream>>(beast::tcp_stream(std::move(s)),
                                                                 gateway, api, worker)
                    ->run();
              });
            }
            return accept();
          }
          log_accept_error(ec);
          if (!out_of_resources(ec)) return accept();  // e.g. a connection reset in the backlog
          // Every descriptor is in use: the connection stays in the backlog and accepting at
          // once would fail at once, a spinning core. Retry once connections may have closed.
          accept_pause.expires_after(kAcceptPause);
          accept_pause.async_wait([this](beast::error_code wait_ec) {
            if (!wait_ec) accept();
          });
        });
  }

  // A TLS handshake costs the server an asymmetric-key operation: past max_handshakes in
  // progress the connection is closed at once, before any TLS work. The others time out like
  // idle HTTP clients (handshake_timeout_ms).
  void start_tls(int worker, tcp::socket s) {
    if (handshakes->fetch_add(1, std::memory_order_relaxed) >= tls_settings.max_handshakes) {
      handshakes->fetch_sub(1, std::memory_order_relaxed);
      beast::error_code ignored;
      s.close(ignored);
      log_refusal();
      return;
    }
    HandshakeSlot slot(handshakes);
    auto context = tls->current();
    asio::post(pool.context(worker),
               [this, worker, s = std::move(s), context, slot = std::move(slot)]() mutable {
                 std::make_shared<HttpSession<TlsStream>>(
                     TlsStream(std::move(s), *context), gateway, api, worker,
                     std::chrono::milliseconds(tls_settings.handshake_timeout_ms), std::move(slot))
                     ->run();
               });
  }

  void log_refusal() {
    auto now = std::chrono::steady_clock::now();
    if (last_refusal_log != std::chrono::steady_clock::time_point{} &&
        now - last_refusal_log < kAcceptLogEvery) {
      ++refusals_unlogged;
      return;
    }
    spdlog::warn(
        "TLS: {} handshakes in progress (--tls-max-handshakes): connection closed ({} more since "
        "the last one logged)",
        tls_settings.max_handshakes, refusals_unlogged);
    last_refusal_log = now;
    refusals_unlogged = 0;
  }

  static bool out_of_resources(const beast::error_code& ec) {
    if (ec.category() != boost::system::system_category()) return false;
    int e = ec.value();
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
  }

  void log_accept_error(const beast::error_code& ec) {
    auto now = std::chrono::steady_clock::now();
    if (last_accept_log != std::chrono::steady_clock::time_point{} &&
        now - last_accept_log < kAcceptLogEvery) {
      ++accept_errors_unlogged;
      return;
    }
    spdlog::warn("accept: {}{} ({} more accept errors since the last one logged)", ec.message(),
                 out_of_resources(ec) ? "; pausing accepts for 100 ms at a time" : "",
                 accept_errors_unlogged);
    last_accept_log = now;
    accept_errors_unlogged = 0;
  }
};

WsServer::WsServer(Gateway& gateway, HttpApi& api, WorkerPool& pool, const TlsSettings& tls)
    : impl_(new Impl{gateway, api, pool, tls}) {
  if (!ws::init_session_ids()) throw std::runtime_error("libsodium failed to initialise");
  if (tls.enabled()) {
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      throw std::runtime_error("--tls-cert and --tls-key go together");
    }
    impl_->tls = std::make_unique<TlsContext>(tls.cert_file, tls.key_file);
    spdlog::info("TLS: serving {}", impl_->tls->describe());
  }
}

void WsServer::reload_tls() {
  if (!impl_->tls) {
    spdlog::info("SIGHUP: no TLS certificate to reload");
    return;
  }
  if (auto error = impl_->tls->reload(); !error.empty()) {
    spdlog::error("TLS reload failed, still serving the previous certificate: {}", error);
    return;
  }
  spdlog::info("TLS reloaded: new connections get {}", impl_->tls->describe());
}

WsServer::~WsServer() = default;

uint16_t WsServer::listen(const std::string& host, uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->accept();
  return impl_->acceptor.local_endpoint().port();
}

void WsServer::run() {
  impl_->ioc.run();
}

void WsServer::stop() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_pause.cancel();
    impl_->ioc.stop();
  });
}

}  // namespace parley

#pragma once
// Namespace aliases and the completion token every coroutine here uses: as_tuple keeps errors as
// values, so a refused connection or a dropped socket never throws.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <functional>

namespace parley::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
using net::awaitable;
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using SteadyClock = std::chrono::steady_clock;

/// Waits (polling every few ms: for set-up phases, not the hot path) until @p done() is true or
/// @p deadline passes; returns done().
inline awaitable<bool> wait_until(std::function<bool()> done, SteadyClock::time_point deadline) {
  net::steady_timer timer(co_await net::this_coro::executor);
  while (!done() && SteadyClock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(use_tuple);
  }
  co_return done();
}

inline awaitable<void> sleep_for(SteadyClock::duration d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(use_tuple);
}

}  // namespace parley::bench

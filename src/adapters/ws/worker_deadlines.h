#pragma once
// The connections' deadlines of one worker (the keepalive tick, the hard close) on one Asio
// timer per kind instead of one timer and one parked wait per connection (72 + 93 bytes each).
// Every deadline of a kind is "now plus the same duration", so appending keeps a kind's list in
// due order, and one timer for its head serves them all: a deadline fires when a timer of its own
// would have, not on a wheel's coarser slots. Touched only on the worker's thread.
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>

namespace parley {

// Asio's default socket and timer carry an any_io_executor (56 bytes, and each wait they park
// carries two more): typed on the worker's io_context executor they carry 8. Every connection
// lives on one worker's io_context.
using WorkerExecutor = boost::asio::io_context::executor_type;
using WorkerTimer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, WorkerExecutor>;

/// One connection's place in a deadline list: linked while armed. The owner unlinks it before it
/// goes (DeadlineList::cancel).
struct DeadlineHook {
  DeadlineHook* prev = nullptr;
  DeadlineHook* next = nullptr;
  std::chrono::steady_clock::time_point due{};
  void (*fire)(DeadlineHook&) = nullptr;
  bool linked() const { return next != nullptr; }
};

class DeadlineList {
 public:
  using Clock = std::chrono::steady_clock;
  explicit DeadlineList(WorkerExecutor executor) : timer_(executor) {
    head_.prev = head_.next = &head_;
  }
  DeadlineList(const DeadlineList&) = delete;
  DeadlineList& operator=(const DeadlineList&) = delete;

  /// Calls @p fire(hook) at @p due (unlinked first), replacing what @p hook was armed for.
  void arm(DeadlineHook& hook, Clock::time_point due, void (*fire)(DeadlineHook&)) {
    cancel(hook);
    hook.due = due;
    hook.fire = fire;
    // From the tail: the place is the tail itself unless the clock's readings went backwards.
    DeadlineHook* after = head_.prev;
    while (after != &head_ && after->due > due) after = after->prev;
    hook.prev = after;
    hook.next = after->next;
    after->next->prev = &hook;
    after->next = &hook;
    if (!waiting_ || head_.next->due < timer_due_) wait();
  }

  static void cancel(DeadlineHook& hook) {
    if (!hook.linked()) return;
    hook.prev->next = hook.next;
    hook.next->prev = hook.prev;
    hook.prev = hook.next = nullptr;
  }

  /// Unlinks every hook (the io_context is going away: its connections are destroyed next).
  void clear() {
    while (head_.next != &head_) cancel(*head_.next);
    timer_.cancel();
  }

 private:
  void wait() {
    waiting_ = true;
    timer_due_ = head_.next->due;
    timer_.expires_at(timer_due_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // re-armed for an earlier head (that wait is pending), or shut down
      waiting_ = false;
      auto now = Clock::now();
      // A fired hook may re-arm itself (at the tail, due later than now) or cancel others.
      while (head_.next != &head_ && head_.next->due <= now) {
        DeadlineHook& hook = *head_.next;
        cancel(hook);
        hook.fire(hook);
      }
      if (head_.next != &head_ && !waiting_) wait();
    });
  }

  DeadlineHook head_;  // sentinel of a circular list, due order
  WorkerTimer timer_;
  bool waiting_ = false;
  Clock::time_point timer_due_{};
};

/// The worker's deadline lists: an Asio service of its io_context, so they live as long as it and
/// are cleared (shutdown) before the io_context destroys the connections' pending operations.
class WorkerDeadlines : public boost::asio::execution_context::service {
 public:
  using key_type = WorkerDeadlines;
  static inline boost::asio::execution_context::id id;

  explicit WorkerDeadlines(boost::asio::execution_context& context)
      : service(context),
        keepalive(static_cast<boost::asio::io_context&>(context).get_executor()),
        hard_close(static_cast<boost::asio::io_context&>(context).get_executor()) {}

  DeadlineList keepalive;
  DeadlineList hard_close;

 private:
  void shutdown() override {
    keepalive.clear();
    hard_close.clear();
  }
};

}  // namespace parley

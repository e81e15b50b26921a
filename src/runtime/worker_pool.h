#pragma once
// Thread per core: N workers, each one thread running its own io_context. A connection lives
// on one worker for its whole life; other threads reach a worker only by posting to it.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace parley {

class WorkerPool {
 public:
  explicit WorkerPool(int workers);
  ~WorkerPool();

  int size() const { return static_cast<int>(contexts_.size()); }
  boost::asio::io_context& context(int worker) { return *contexts_[worker]; }
  /// The worker for the next new connection (round robin).
  int next() { return static_cast<int>(next_++ % contexts_.size()); }

  template <typename F>
  void post(int worker, F&& f) {
    boost::asio::post(*contexts_[worker], std::forward<F>(f));
  }

  void start();
  /// Stops every loop and joins the threads.
  void stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  unsigned next_ = 0;
};

}  // namespace parley

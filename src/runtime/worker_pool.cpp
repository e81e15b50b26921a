#include "runtime/worker_pool.h"

namespace parley {

WorkerPool::WorkerPool(int workers) {
  for (int i = 0; i < workers; ++i) {
    // concurrency hint 1: each context is run by exactly one thread (Asio still locks its queue
    // for posts from other threads: one lock per posted batch, none per delivery).
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

WorkerPool::~WorkerPool() {
  stop();
}

void WorkerPool::start() {
  for (auto& ctx : contexts_) {
    threads_.emplace_back([c = ctx.get()] { c->run(); });
  }
}

void WorkerPool::stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace parley

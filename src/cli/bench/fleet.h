#pragma once
// The generator's WebSocket connections: connection i belongs to user i % users and goes to
// server i % servers (members spread round-robin over a cluster). Opened a bounded number at a
// time so that the server's accept backlog, not the generator, decides what a storm looks like.
// An upgrade refused with 503 and Retry-After (--max-connects-per-sec) is tried again when told.
#include <memory>
#include <string>
#include <vector>

#include "cli/bench/target.h"
#include "cli/bench/users.h"
#include "cli/bench/ws_client.h"

namespace parley::bench {

class Fleet {
 public:
  using TextHandler = std::function<void(size_t conn, std::string_view frame)>;
  using CloseHandler = std::function<void(size_t conn, int close_code, const std::string& why)>;

  Fleet(std::vector<Target> targets, const Users& users)
      : targets_(std::move(targets)), users_(users) {}

  /// Opens @p n connections and starts reading them; false (and @p error) when one fails.
  awaitable<bool> open(size_t n, std::chrono::milliseconds timeout, TextHandler on_text,
                       CloseHandler on_close, std::string& error);
  WsClient& at(size_t i) { return *conns_[i]; }
  size_t size() const { return conns_.size(); }
  size_t open_count() const;
  void abort_all();
  /// Drops every connection at once with a reset (a reconnect storm's start).
  void reset_all();
  /// Drops every connection and waits until no handler can run any more.
  awaitable<void> close();

  const Target& target_of(size_t i) const { return targets_[i % targets_.size()]; }
  size_t user_of(size_t i) const { return i % users_.size(); }
  std::string path_of(size_t i) const { return "/ws?token=" + users_.tokens[user_of(i)]; }

 private:
  std::vector<Target> targets_;
  const Users& users_;
  std::vector<std::shared_ptr<WsClient>> conns_;
};

}  // namespace parley::bench

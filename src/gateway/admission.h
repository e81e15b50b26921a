#pragma once
// From a text frame to a command on its way: decode it, hold the connection to its flood limits
// (commands per second, commands and bytes awaiting results), arm its time-to-live, queue it
// behind a barrier if one is up, then hand it to the handler of its op.
#include <functional>
#include <string_view>
#include <unordered_map>

#include "app/services.h"
#include "gateway/command.h"
#include "gateway/replies.h"
#include "runtime/worker_pool.h"

namespace parley {

// How admission treats one op.
struct OpSpec {
  std::function<void(const CommandPtr&)> handler;
  // Barriers (create_room, invite, dm) change rooms: later commands of the connection wait
  // for their result, so "create, then join" works even pipelined.
  bool barrier = false;
  // Whether the op claims its deadline itself when it applies (send in the log's
  // transaction, the room changes in the room store's, join and history when their read is
  // back, typing and presence past their access check). Others claim at dispatch. An op that
  // may wait on storage before it applies must claim late: claimed at dispatch, it could only
  // be answered after the wait, past its ttl.
  bool claims_deadline = false;
  // Reads (join, history) bring a page back from storage: a connection has at most
  // Admission::kMaxReadsPerConnection of them in flight, the rest wait, so what it can make the
  // server hold in pages is bounded.
  bool heavy = false;
};

class Admission {
 public:
  using Op = OpSpec;
  static constexpr size_t kMaxReadsPerConnection = 4;

  Admission(Services& services, WorkerPool& pool, Replies& replies);

  /// Registers the handler of @p name. Call before serving.
  void add_op(std::string_view name, Op op);

  /// One text frame of @p client; on its worker.
  void on_frame(const std::shared_ptr<Client>& client, std::string_view text);

 private:
  void dispatch(const CommandPtr& cmd);
  const Op* find(std::string_view name) const;
  bool must_wait(const Client& client, const CommandPtr& cmd) const;
  void drain(Client& client);
  void arm_deadline(const CommandPtr& cmd);
  void answered(const CommandPtr& cmd);

  Services& s_;
  WorkerPool& pool_;
  Replies& replies_;
  std::unordered_map<std::string_view, Op> ops_;
};

}  // namespace parley

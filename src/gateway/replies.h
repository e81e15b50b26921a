#pragma once
// Every command gets exactly one result, and results belong to the session: a result that
// completes after its connection dropped or was taken over goes to the session's current
// connection, or waits in the session registry for its return.
#include <boost/json/object.hpp>
#include <functional>

#include "app/services.h"
#include "gateway/command.h"
#include "gateway/session_registry.h"
#include "runtime/worker_pool.h"

namespace parley {

class Replies {
 public:
  Replies(Services& services, WorkerPool& pool, SessionRegistry& sessions)
      : s_(services), pool_(pool), sessions_(sessions) {}

  /// Runs once per command, as it is answered (admission's bookkeeping: in-flight counts,
  /// barriers). Set once, before serving.
  void on_answered(std::function<void(const CommandPtr&)> hook) { on_answered_ = std::move(hook); }

  /// Both run on the command's worker; a command already answered is left alone.
  void ok(const CommandPtr& cmd, boost::json::object fields = {});
  void error(const CommandPtr& cmd, const Error& e);

  /// A result to the session's current connection here; else, in a cluster, to the instance
  /// of the session's last claim if that is another one; else kept by the registry for the
  /// session's return (and forwarded if it claims elsewhere).
  void route(const std::string& user, const std::string& session, const Frame& frame);

 private:
  void deliver(const CommandPtr& cmd, Frame frame);
  void dead_letter(const CommandPtr& cmd, const std::string& reason);

  Services& s_;
  WorkerPool& pool_;
  SessionRegistry& sessions_;
  std::function<void(const CommandPtr&)> on_answered_;
};

}  // namespace parley

#pragma once
// The one seam between transport and core. The transport opens a connection here once its
// user is authenticated, hands over each text frame, and reports its close; the gateway's parts
// do the rest:
//   Admission      frame -> command: decoding, flood limits, ttl, barriers (admission.h)
//   ops/           one handler per op, each calling its use case (ops/ops.h)
//   Subscriptions  join / replay / live: no gap, no duplicate (subscription.h)
//   FanOut         per-worker delivery of committed messages and room events (fan_out.h)
//   Replies        one result per command, routed to its session (replies.h)
//   SessionRegistry  sessions of (user, id) and the results waiting for them
//
// Threading: every method taking a Client runs on that client's worker. Completions from
// storage threads are posted back to the worker before they touch any client state.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "app/connect_gate.h"
#include "app/services.h"
#include "gateway/admission.h"
#include "gateway/client.h"
#include "gateway/fan_out.h"
#include "gateway/ops/ops.h"
#include "gateway/replies.h"
#include "gateway/session_registry.h"
#include "gateway/subscription.h"
#include "runtime/worker_pool.h"

namespace parley {

class Gateway {
 public:
  /// The results kept per session are capped at half the send queue whatever @p session_limits
  /// says, so a reconnecting session's backlog always fits behind its welcome.
  Gateway(Services& services, WorkerPool& pool, std::string instance,
          SessionLimits session_limits = {});

  /// Subscribes the fan-out to the message log. Call once before serving.
  void start();

  /// The user named by @p token; any thread.
  Result<std::string> authenticate(const std::string& token) const;
  /// Whether @p user may open one more connection (checked before the upgrade; `open`
  /// enforces it again, since upgrades race). Any thread.
  Status admit(const std::string& user) const;
  /// Whether one more upgrade may start now (--max-connects-per-sec), before any
  /// authentication: 0 if so, else the seconds after which to retry. Any thread.
  int64_t admit_connect();

  /// A new connection on @p worker: sends the welcome, takes the session over, then sends the
  /// results that waited for the session. A connection over the connection limits is closed.
  std::shared_ptr<Client> open(int worker, std::string user, std::string session,
                               std::weak_ptr<FrameSink> sink);
  /// One text frame from @p client.
  void on_frame(const std::shared_ptr<Client>& client, std::string_view text);
  /// The connection is gone (closed, failed or taken over).
  void on_close(const std::shared_ptr<Client>& client);
  /// Results @p client's transport dropped unsent: they go to its session after all.
  void return_results(const std::shared_ptr<Client>& client, std::vector<Frame> results);

  /// Closes every connection with 1001 (going away); returns at once, the closes follow.
  void shutdown();

  Services& services() { return s_; }
  const std::string& instance() const { return instance_; }
  const SessionRegistry& sessions() const { return sessions_; }

 private:
  Status admit_locked(const std::string& user) const;

  Services& s_;
  WorkerPool& pool_;
  std::string instance_;
  std::atomic<uint64_t> next_client_id_{1};

  SessionRegistry sessions_;
  std::shared_ptr<FanOut> fan_out_;
  Replies replies_;
  Admission admission_;
  Subscriptions subscriptions_;
  OpContext ops_;

  // Connections per user, for the per-user cap. Touched at open and close only.
  mutable std::mutex connections_mutex_;
  std::unordered_map<std::string, size_t> connections_;
  size_t total_connections_ = 0;
  ConnectGate connect_gate_;
};

}  // namespace parley

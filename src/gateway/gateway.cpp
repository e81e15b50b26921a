#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "app/metrics.h"
#include "runtime/log_format.h"
#include "runtime/log_trace.h"
#include "runtime/trace_ids.h"

namespace parley {

namespace {
// A reconnecting session gets its welcome, then the results kept for it: they must fit in its
// send queue, or it would be closed as a slow consumer before it read a thing.
SessionLimits within_send_queue(SessionLimits limits, size_t send_queue_bytes) {
  limits.max_pending_bytes_per_session =
      std::min(limits.max_pending_bytes_per_session, send_queue_bytes / 2);
  return limits;
}
}  // namespace

Gateway::Gateway(Services& services, WorkerPool& pool, std::string instance,
                 SessionLimits session_limits)
    : s_(services),
      pool_(pool),
      instance_(std::move(instance)),
      sessions_(within_send_queue(session_limits, services.limits.send_queue_bytes)),
      fan_out_(std::make_shared<FanOut>(services, pool)),
      replies_(services, pool, sessions_),
      admission_(services, pool, replies_),
      subscriptions_(services, pool, *fan_out_, replies_),
      ops_(services, pool, replies_, subscriptions_),
      connect_gate_(services.limits.connects_per_second, 0) {
  s_.events = fan_out_;
  register_ops(admission_, ops_);
}

void Gateway::start() {
  s_.log->on_committed(
      [this](std::vector<Message> messages) { fan_out_->publish(std::move(messages)); });
  if (!s_.sessions) return;
  SessionBus::Handlers handlers;
  handlers.result = [this](const std::string& user, const std::string& session, std::string f) {
    replies_.route(user, session, make_frame(std::move(f)));
  };
  handlers.claimed = [this](const std::string& user, const std::string& session,
                            const std::string& instance) {
    auto released = sessions_.release(user, session, s_.clock->steady_ms());
    // What was kept here goes where the session is now, and is not kept twice.
    for (size_t k = 0; k < released.pending.size(); ++k) {
      // Each goes on in the trace of the command it answers, not the claim's.
      LogTraceScope scope(released.traces[k]);
      if (const Frame& frame = released.pending[k]) {
        s_.sessions->publish_result(user, session, *frame, instance);
      }
    }
    if (auto previous = released.previous) {
      pool_.post(previous->worker, [previous] {
        previous->close(kCloseSessionTakenOver, "session taken over by a newer connection");
      });
    }
  };
  handlers.confirmed = [this](const std::string& user, const std::string& session,
                              uint64_t connection) {
    sessions_.confirm(user, session, connection);
  };
  s_.sessions->subscribe(std::move(handlers));
}

Result<std::string> Gateway::authenticate(const std::string& token) const {
  if (token.empty()) return make_error(Errc::unauthenticated, "missing token");
  return s_.tokens->verify(token, s_.clock->now_ms());
}

int64_t Gateway::admit_connect() {
  int64_t retry_after_s = connect_gate_.admit(s_.clock->steady_ms());
  if (retry_after_s > 0) count(Metrics::global().connects_refused_total);
  return retry_after_s;
}

Status Gateway::admit(const std::string& user) const {
  std::lock_guard lock(connections_mutex_);
  return admit_locked(user);
}

Status Gateway::admit_locked(const std::string& user) const {
  if (total_connections_ >= s_.limits.max_connections) {
    return make_error(Errc::unavailable, "the server has too many connections; retry later");
  }
  auto it = connections_.find(user);
  if (it != connections_.end() && it->second >= s_.limits.max_connections_per_user) {
    return make_error(Errc::rate_limited, "too many connections of this user");
  }
  return Ok{};
}

std::shared_ptr<Client> Gateway::open(int worker, std::string user, std::string session,
                                      std::weak_ptr<FrameSink> sink) {
  auto client = std::make_shared<Client>();
  client->id = next_client_id_++;
  client->worker = worker;
  client->user = std::move(user);
  client->session = std::move(session);
  client->opened_at_ms = s_.clock->now_ms();
  client->sink = std::move(sink);
  client->commands =
      TokenBucket(s_.limits.commands_per_second, s_.limits.command_burst, s_.clock->steady_ms());
  {
    std::lock_guard lock(connections_mutex_);
    if (auto admitted = admit_locked(client->user); !admitted) {
      // Lost a race with other upgrades of the same user: refuse it as the upgrade would have.
      client->open = false;
      client->close(kClosePolicy, admitted.error().message);
      return client;
    }
    ++connections_[client->user];
    ++total_connections_;
  }
  fan_out_->add_client(client);
  Metrics::global().connections_open++;
  count(Metrics::global().connections_total);

  // The welcome first, then the results that waited for the session (within the send queue:
  // the registry caps them below it).
  client->send(
      make_frame(codec::welcome_frame(client->session, client->user, instance_, s_.log->epoch())));
  auto attached = sessions_.attach(client, s_.clock->steady_ms());
  if (attached.previous && attached.previous != client) {
    auto previous = attached.previous;
    pool_.post(previous->worker, [previous] {
      previous->close(kCloseSessionTakenOver, "session taken over by a newer connection");
    });
  }
  for (auto& frame : attached.pending) client->send_result(frame);
  // The other instances learn that the session is here now: they send here what they kept for
  // it, and their connection of it, if older, is taken over. No command caused the claim: it
  // starts a trace of its own, which the lines about it name on every instance.
  if (s_.sessions) {
    TraceContext trace = new_trace();
    LogTraceScope scope(trace);
    spdlog::debug("session {} of {} connected here (connection {}): claimed",
                  log_safe(client->session), log_safe(client->user), client->id);
    s_.sessions->publish_claim(client->user, client->session, client->id);
  }
  return client;
}

void Gateway::on_frame(const std::shared_ptr<Client>& client, std::string_view text) {
  admission_.on_frame(client, text);
}

void Gateway::on_close(const std::shared_ptr<Client>& client) {
  if (!client->open.exchange(false)) return;
  subscriptions_.leave_all(*client);
  fan_out_->remove_client(*client);
  sessions_.detach(*client, s_.clock->steady_ms());
  {
    std::lock_guard lock(connections_mutex_);
    --total_connections_;
    if (auto it = connections_.find(client->user); it != connections_.end() && --it->second == 0) {
      connections_.erase(it);
    }
  }
  Metrics::global().connections_open--;
}

void Gateway::return_results(const std::shared_ptr<Client>& client, std::vector<Frame> results) {
  // The connection is on its way out: from now on the registry keeps what is routed to it.
  client->closing = true;
  for (auto& frame : results) replies_.route(client->user, client->session, frame);
}

void Gateway::shutdown() {
  fan_out_->close_all(kCloseGoingAway, "server shutting down");
}

}  // namespace parley

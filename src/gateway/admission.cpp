#include "gateway/admission.h"

#include <spdlog/spdlog.h>

#include "app/metrics.h"
#include "runtime/log_format.h"
#include "runtime/log_trace.h"
#include "runtime/trace_ids.h"

namespace parley {

namespace {
constexpr size_t kMaxWaiting = 1024;  // commands waiting to start (barrier, read slots)
}

Admission::Admission(Services& services, WorkerPool& pool, Replies& replies)
    : s_(services), pool_(pool), replies_(replies) {
  replies_.on_answered([this](const CommandPtr& cmd) { answered(cmd); });
}

void Admission::add_op(std::string_view name, Op op) {
  ops_[name] = std::move(op);
}

void Admission::on_frame(const std::shared_ptr<Client>& client, std::string_view text) {
  count(Metrics::global().commands_total);
  std::string id;
  auto parsed = codec::parse_request(text, id);
  if (!parsed) {
    count(Metrics::global().command_errors_total);
    client->send(make_frame(codec::error_frame(id, parsed.error())));
    return;
  }
  auto cmd = std::make_shared<Command>();
  cmd->admitted_ns = monotonic_ns();
  cmd->client = client;
  cmd->req = std::move(parsed).value();
  cmd->op = find(cmd->req.op);
  cmd->frame_bytes = text.size();
  // Its trace first: every log line about it, here and in the other processes, carries it.
  cmd->trace = new_command_span(cmd->req.traceparent);
  {
    LogTraceScope scope(cmd->trace);
    if (cmd->req.has_traceparent && !cmd->req.traceparent) {
      spdlog::debug("command {} id {}: traceparent is not a valid W3C traceparent; replaced",
                    log_safe(cmd->req.op), log_safe(cmd->req.id));
    }
    spdlog::debug("command {} id {} from {} (session {})", log_safe(cmd->req.op),
                  log_safe(cmd->req.id), client->user, client->session);
  }
  // Floods: a connection gets a bounded number of commands per second, and a bounded number
  // and size of commands awaiting their results (their bodies are held until answered).
  if (client->inflight >= s_.limits.max_inflight ||
      client->inflight_bytes + cmd->frame_bytes > s_.limits.max_inflight_bytes) {
    return replies_.error(cmd,
                          make_error(Errc::rate_limited, "too many commands awaiting results"));
  }
  // Sends have their own per-user limit; every other op shares the connection's.
  if (cmd->req.op != "send" && !client->commands.try_take(s_.clock->steady_ms())) {
    return replies_.error(cmd, make_error(Errc::rate_limited, "too many commands; slow down"));
  }
  ++client->inflight;
  client->inflight_bytes += cmd->frame_bytes;
  cmd->counted = true;
  Metrics::global().commands_inflight++;
  if (cmd->req.ttl_ms) {
    cmd->raw = std::string(text);
    cmd->deadline = std::make_shared<Deadline>(s_.clock->steady_ms() + *cmd->req.ttl_ms);
    arm_deadline(cmd);
  }
  // Commands start in the order they arrive: behind any that waits, this one waits too.
  if (!client->waiting.empty() || must_wait(*client, cmd)) {
    if (client->waiting.size() >= kMaxWaiting) {
      return replies_.error(cmd, make_error(Errc::rate_limited, "too many commands in flight"));
    }
    client->waiting.push_back(cmd);
    return;
  }
  dispatch(cmd);
}

const Admission::Op* Admission::find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

bool Admission::must_wait(const Client& client, const CommandPtr& cmd) const {
  if (client.barrier) return true;
  return cmd->op && cmd->op->heavy && client.heavy_inflight >= kMaxReadsPerConnection;
}

void Admission::drain(Client& client) {
  if (client.draining) return;  // a command started below was answered at once
  client.draining = true;
  while (!client.waiting.empty()) {
    const CommandPtr& next = client.waiting.front();
    if (!next->answered && must_wait(client, next)) break;
    auto cmd = std::move(client.waiting.front());
    client.waiting.pop_front();
    if (!cmd->answered) dispatch(cmd);  // it may have timed out while waiting
  }
  client.draining = false;
}

void Admission::dispatch(const CommandPtr& cmd) {
  if (!cmd->op) {
    return replies_.error(cmd, make_error(Errc::bad_request, "unknown op: " + cmd->req.op));
  }
  const Op& op = *cmd->op;
  // An op applied right now: this is its deadline's last moment.
  if (!op.claims_deadline && !claim_deadline(cmd->deadline, s_.clock->steady_ms())) {
    return replies_.error(cmd, expired_error());
  }
  if (op.barrier) {
    cmd->is_barrier = true;
    cmd->client->barrier = true;
  }
  if (op.heavy) {
    cmd->is_heavy = true;
    ++cmd->client->heavy_inflight;
  }
  // What the handler logs, and what a room change it records carries, is the command's.
  LogTraceScope scope(cmd->trace);
  op.handler(cmd);
}

void Admission::arm_deadline(const CommandPtr& cmd) {
  cmd->timer = std::make_unique<boost::asio::steady_timer>(pool_.context(cmd->client->worker));
  cmd->timer->expires_after(std::chrono::milliseconds(*cmd->req.ttl_ms));
  cmd->timer->async_wait([this, weak = std::weak_ptr<Command>(cmd)](boost::system::error_code ec) {
    auto cmd = weak.lock();
    if (ec || !cmd || cmd->answered) return;
    // Only if the timer wins the race is the command expired; if the applying stage claimed
    // it first, its result is on the way and will be sent, late.
    if (cmd->deadline->expire()) {
      replies_.error(cmd, make_error(Errc::timeout, "the command did not complete within ttl_ms"));
    }
  });
}

void Admission::answered(const CommandPtr& cmd) {
  Client& client = *cmd->client;
  if (cmd->counted) {
    --client.inflight;
    client.inflight_bytes -= cmd->frame_bytes;
    cmd->counted = false;
    Metrics::global().commands_inflight--;
  }
  if (cmd->is_heavy) {
    --client.heavy_inflight;
    cmd->is_heavy = false;
  }
  if (cmd->is_barrier) {
    client.barrier = false;
    cmd->is_barrier = false;
  }
  // A barrier is down or a read slot is free: start what waited, in order.
  drain(client);
}

}  // namespace parley

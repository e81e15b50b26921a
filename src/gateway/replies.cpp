#include "gateway/replies.h"

#include <spdlog/spdlog.h>
#include <algorithm>

#include "app/metrics.h"
#include "runtime/log_format.h"
#include "runtime/log_trace.h"

namespace parley {

void Replies::ok(const CommandPtr& cmd, boost::json::object fields) {
  if (cmd->answered) return;
  LogTraceScope scope(cmd->trace);
  spdlog::debug("result of {} id {}: ok", log_safe(cmd->req.op), log_safe(cmd->req.id));
  // A client that sent a traceparent gets the one parley used back (its span as the parent).
  if (cmd->req.has_traceparent) {
    auto header = cmd->trace.header();
    fields["traceparent"] = std::string_view(header.data(), header.size());
  }
  deliver(cmd, make_frame(codec::ok_frame(cmd->req.id, std::move(fields))));
}

void Replies::error(const CommandPtr& cmd, const Error& e) {
  if (cmd->answered) return;
  LogTraceScope scope(cmd->trace);
  spdlog::debug("result of {} id {}: {}{} ({})", log_safe(cmd->req.op), log_safe(cmd->req.id),
                wire_name(e.code), e.outcome_unknown ? ", outcome unknown" : "",
                log_safe(e.message));
  count(Metrics::global().command_errors_total);
  if (e.code == Errc::rate_limited) count(Metrics::global().rate_limited_total);
  if (e.code == Errc::timeout) dead_letter(cmd, e.message);
  std::array<char, TraceContext::kHeaderChars> header{};
  std::string_view traceparent;
  if (cmd->req.has_traceparent) {
    header = cmd->trace.header();
    traceparent = {header.data(), header.size()};
  }
  deliver(cmd, make_frame(codec::error_frame(cmd->req.id, e, traceparent)));
}

void Replies::deliver(const CommandPtr& cmd, Frame frame) {
  cmd->answered = true;
  Metrics::global().command_seconds[Metrics::op_index(cmd->req.op)].observe(
      static_cast<uint64_t>(std::max<int64_t>(0, monotonic_ns() - cmd->admitted_ns)));
  if (cmd->timer) cmd->timer->cancel();
  const auto& client = cmd->client;
  if (client->open && !client->taken_over && !client->closing) {
    client->send_result(frame);
  } else {
    // The connection dropped or was taken over while the command was in flight: the result
    // goes to its session's current connection, or waits for it.
    route(client->user, client->session, frame);
  }
  // Last: the hook may start commands that waited behind this one, whose results follow it.
  if (on_answered_) on_answered_(cmd);
}

void Replies::route(const std::string& user, const std::string& session, const Frame& frame) {
  // In a cluster, a result for a session whose last claim is another instance's goes there and
  // is not kept here.
  std::string home = s_.sessions ? s_.sessions->home_elsewhere(user, session) : std::string{};
  auto current = sessions_.route(user, session, frame, s_.clock->steady_ms(), home.empty());
  if (!current) {
    if (!home.empty()) {
      if (frame) s_.sessions->publish_result(user, session, *frame, home);
      return;
    }
    // Kept here. A claim read meanwhile may have forwarded what was kept before this result:
    // look again, so that this one follows too.
    if (!s_.sessions) return;
    home = s_.sessions->home_elsewhere(user, session);
    if (home.empty()) return;
    std::vector<TraceContext> traces;
    auto pending = sessions_.take_pending(user, session, s_.clock->steady_ms(), &traces);
    for (size_t k = 0; k < pending.size(); ++k) {
      LogTraceScope scope(traces[k]);
      if (pending[k]) s_.sessions->publish_result(user, session, *pending[k], home);
    }
    return;
  }
  // The command's trace goes along: published to another instance after all, the result
  // carries it there.
  TraceContext trace = LogTraceScope::current_or_none();
  pool_.post(current->worker, [this, current, user, session, frame, trace] {
    // It may have started closing since: then the session keeps the result after all.
    if (current->open && !current->closing && !current->taken_over) {
      return current->send_result(frame);
    }
    LogTraceScope scope(trace);
    route(user, session, frame);
  });
}

void Replies::dead_letter(const CommandPtr& cmd, const std::string& reason) {
  spdlog::debug("dead letter: {} id {} of {}: {}", log_safe(cmd->req.op), log_safe(cmd->req.id),
                cmd->client->user, log_safe(reason));
  s_.dead_letters->record(DeadLetter{cmd->client->session, cmd->client->user, cmd->req.op, cmd->raw,
                                     reason, s_.clock->now_ms()});
}

}  // namespace parley

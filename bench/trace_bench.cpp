// What traces add per command on the delivery path at the default level (info): a span
// (parse or start), the traceparent header, and the debug lines that are not written.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include "domain/trace_context.h"
#include "gateway/codec.h"
#include "runtime/log_format.h"
#include "runtime/log_trace.h"
#include "runtime/trace_ids.h"

namespace {

using namespace parley;

void BM_ParseSendCommandWithTraceparent(benchmark::State& state) {
  std::string frame =
      R"({"type":"send","id":"s123","room":"lobby","text":")" + std::string(100, 'x') +
      R"(","client_msg_id":"c-42","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})";
  for (auto _ : state) {
    std::string id;
    auto r = codec::parse_request(frame, id);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseSendCommandWithTraceparent);

void BM_NewCommandSpan(benchmark::State& state) {
  auto caller = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const bool continued = state.range(0) != 0;
  for (auto _ : state) {
    TraceContext t = new_command_span(continued ? caller : std::nullopt);
    auto h = t.header();
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewCommandSpan)->Arg(0)->Arg(1);

// The admission's and the result's lines as they cost at info: a scope and a level check.
void BM_TracedDebugLinesAtInfo(benchmark::State& state) {
  spdlog::set_level(spdlog::level::info);
  TraceContext t = new_command_span(std::nullopt);
  std::string op = "send", id = "s123", user = "alice";
  for (auto _ : state) {
    LogTraceScope scope(t);
    spdlog::debug("command {} id {} from {}", op, id, user);
    spdlog::debug("result of {} id {}: ok", op, id);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TracedDebugLinesAtInfo);

// What a results or events record read costs for its trace at info: the reader's scope around
// it and its debug line (log_safe views, a level check), as ClusterEvents and KafkaSessionBus
// do per record.
void BM_RecordReadInItsTraceAtInfo(benchmark::State& state) {
  spdlog::set_level(spdlog::level::info);
  TraceContext t = new_command_span(std::nullopt);
  std::string room = "lobby", user = "alice", origin = "i1/0123456789ab";
  for (auto _ : state) {
    LogTraceScope scope(t);
    spdlog::debug("events: typing in {} by {} from {}", log_safe(room), log_safe(user),
                  log_safe(origin));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordReadInItsTraceAtInfo);

}  // namespace

// The per-message costs on the delivery path: encoding a message frame once per fan-out, and
// parsing a client's send command.
#include <benchmark/benchmark.h>

#include "gateway/codec.h"

namespace {

using namespace parley;

void BM_EncodeMessageFrame(benchmark::State& state) {
  Message m{"lobby",       123456, "0123456789abcdef0123", "alice", std::string(100, 'x'),
            1795464143000, ""};
  for (auto _ : state) benchmark::DoNotOptimize(codec::message_frame(m));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeMessageFrame);

void BM_ParseSendCommand(benchmark::State& state) {
  std::string frame = R"({"type":"send","id":"s123","room":"lobby","text":")" +
                      std::string(100, 'x') + R"(","client_msg_id":"c-42"})";
  for (auto _ : state) {
    std::string id;
    auto r = codec::parse_request(frame, id);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseSendCommand);

}  // namespace

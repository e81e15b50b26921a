// What authenticating a Kafka record costs: the producer signs each record once, and every
// reader (each instance's tail, the persister) verifies each record it reads.
#include <benchmark/benchmark.h>

#include <string>

#include "adapters/kafka/record_codec.h"
#include "adapters/kafka/record_mac.h"

namespace {

using namespace parley;

RecordMac bench_key() {
  RecordMac::Key key;
  key.fill(42);
  return RecordMac(key);
}

// A send record as the log holds it, padded to the size asked for (at least 80 bytes).
std::string record_of(size_t bytes) {
  std::string v =
      R"({"k":"s","r":"lobby","u":"alice","m":"0123456789abcdef0123","o":"i1/abc","t":")";
  v.append(bytes > v.size() + 2 ? bytes - v.size() - 2 : 0, 'x');
  return v + "\"}";
}

void BM_RecordMacSign(benchmark::State& state) {
  RecordMac mac = bench_key();
  std::string value = record_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(mac.sign("parley.messages", "lobby", value));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(value.size()));
}
BENCHMARK(BM_RecordMacSign)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);

// The same with a traceparent header under the tag (55 bytes more hashed).
void BM_RecordMacSignTraced(benchmark::State& state) {
  RecordMac mac = bench_key();
  std::string value = record_of(static_cast<size_t>(state.range(0)));
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  for (auto _ : state) benchmark::DoNotOptimize(mac.sign("parley.messages", "lobby", value, tp));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(value.size()));
}
BENCHMARK(BM_RecordMacSignTraced)->Arg(256);

void BM_RecordMacVerify(benchmark::State& state) {
  RecordMac mac = bench_key();
  std::string value = record_of(static_cast<size_t>(state.range(0)));
  auto tag = mac.sign("parley.messages", "lobby", value);
  std::string_view t(reinterpret_cast<const char*>(tag.data()), tag.size());
  for (auto _ : state) benchmark::DoNotOptimize(mac.verify("parley.messages", "lobby", value, t));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(value.size()));
}
BENCHMARK(BM_RecordMacVerify)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);

// For scale: what every reader of parley.messages already paid per record before the MAC.
void BM_RecordDecode(benchmark::State& state) {
  std::string value = record_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(decode_record(value));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordDecode)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);

}  // namespace

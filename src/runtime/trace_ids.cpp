#include "runtime/trace_ids.h"

#include <cstdint>
#include <random>

namespace parley {

namespace {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

SplitMix64& generator() {
  thread_local SplitMix64 g{[] {
    std::random_device rd;  // getrandom(2) with libstdc++ on Linux
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }()};
  return g;
}

}  // namespace

TraceContext new_command_span(const std::optional<TraceContext>& caller) {
  SplitMix64& g = generator();
  if (caller) return start_span(caller, 0, 0, g.next());
  uint64_t a = g.next();
  uint64_t b = g.next();
  return start_span(std::nullopt, a, b, g.next());
}

}  // namespace parley

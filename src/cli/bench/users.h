#pragma once
// The generator's own accounts, registered over the HTTP API (PROTOCOL.md ## HTTP) under a
// per-run prefix, so runs never collide and never need a clean server.
#include <string>
#include <vector>

#include "cli/bench/bench_options.h"
#include "cli/bench/net.h"
#include "cli/bench/target.h"

namespace parley::bench {

struct Users {
  std::vector<std::string> names;
  std::vector<std::string> tokens;
  size_t size() const { return tokens.size(); }
};

/// A prefix no earlier run used: "b" + 6 random base-36 characters.
std::string fresh_prefix();

/// Registers @p count users "<prefix>u<i>" on @p target, a few at a time (the server hashes
/// each password). Empty result and @p error set when one is refused.
awaitable<Users> register_users(const BenchOptions& opts, const Target& target, int count,
                                std::string& error);

}  // namespace parley::bench

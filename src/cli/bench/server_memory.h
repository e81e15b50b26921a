#pragma once
// The server's resident memory, for the idle scenario: read from /proc/PID/status (VmRSS) when
// the server runs on this machine. The pid is given, or found as the process that owns the
// socket listening on the server's port.
#include <cstdint>
#include <optional>

namespace parley::bench {

/// VmRSS of @p pid in bytes; nullopt when it cannot be read.
std::optional<uint64_t> rss_bytes(int pid);
/// The pid of the local process listening on TCP @p port (IPv4 or IPv6); nullopt when none is
/// visible (not local, or another user's process).
std::optional<int> find_listener_pid(uint16_t port);

}  // namespace parley::bench

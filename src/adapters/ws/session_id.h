#pragma once
// Server-made session ids. A session id is what a reconnecting client presents to get its
// pending results back, so it must not be guessable: it comes from the OS CSPRNG (libsodium).
#include <string>

namespace parley::ws {

/// 16 random bytes (128 bits) as URL-safe base64 without padding: 22 chars of [A-Za-z0-9_-],
/// which PROTOCOL.md's session syntax (8-64 chars of that alphabet) accepts.
std::string new_session_id();

/// Initialises libsodium (idempotent, thread-safe); false if it cannot be used. The server
/// calls it once at start so the first connection does not pay for it.
bool init_session_ids();

}  // namespace parley::ws

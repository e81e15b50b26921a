#pragma once
// Unguessable ids for the cluster (message ids, a process's nonce, a shared token key, the
// epoch): bytes from the OS CSPRNG (libsodium), as lowercase hex.
#include <cstddef>
#include <string>

namespace parley {

/// @p bytes random bytes as 2 * @p bytes hex digits.
std::string random_hex(size_t bytes);

}  // namespace parley

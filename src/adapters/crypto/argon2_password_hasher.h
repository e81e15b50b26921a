#pragma once
// PasswordHasher with argon2id (libsodium's crypto_pwhash). The encoded hash carries salt and
// parameters, so raising the cost later keeps old hashes verifiable.
#include <cstddef>

#include "app/ports/password_hasher.h"

namespace parley {

class Argon2PasswordHasher final : public PasswordHasher {
 public:
  /// Defaults follow OWASP's argon2id minimum: t=2, m=19 MiB.
  explicit Argon2PasswordHasher(unsigned long long ops = 2, size_t mem_kib = 19 * 1024);
  std::string hash(const std::string& password) const override;
  bool verify(const std::string& encoded_hash, const std::string& password) const override;

 private:
  unsigned long long ops_;
  size_t mem_bytes_;
};

}  // namespace parley

#include "adapters/crypto/argon2_password_hasher.h"

#include <sodium.h>

#include <stdexcept>

namespace parley {

Argon2PasswordHasher::Argon2PasswordHasher(unsigned long long ops, size_t mem_kib)
    : ops_(ops), mem_bytes_(mem_kib * 1024) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  if (ops_ < crypto_pwhash_OPSLIMIT_MIN || mem_bytes_ < crypto_pwhash_MEMLIMIT_MIN) {
    throw std::runtime_error("argon2 parameters below libsodium's minimum");
  }
}

std::string Argon2PasswordHasher::hash(const std::string& password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), ops_, mem_bytes_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return {};  // out of memory: an empty hash never verifies
  }
  return out;
}

bool Argon2PasswordHasher::verify(const std::string& encoded_hash,
                                  const std::string& password) const {
  if (encoded_hash.empty()) return false;
  return crypto_pwhash_str_verify(encoded_hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace parley

#pragma once
// PasswordHasher that is cheap and deterministic: the "hash" is a tagged reversal of the
// password, so it never equals the password yet always verifies the same way.
#include <string>

#include "app/ports/password_hasher.h"

namespace parley::fakes {

class FakePasswordHasher final : public PasswordHasher {
 public:
  static std::string encode(const std::string& password) {
    return "fake$" + std::string(password.rbegin(), password.rend());
  }
  std::string hash(const std::string& password) const override {
    ++hashes;
    return encode(password);
  }
  bool verify(const std::string& encoded_hash, const std::string& password) const override {
    ++verifies;
    return encoded_hash == encode(password);
  }
  mutable int hashes = 0;
  mutable int verifies = 0;
};

}  // namespace parley::fakes

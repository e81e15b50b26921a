#pragma once
// Password hashing (argon2id). Deliberately slow: callers run it off the event loops.
#include <memory>
#include <string>

namespace parley {

class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  /// @return an encoded hash that carries its own salt and parameters.
  virtual std::string hash(const std::string& password) const = 0;
  /// @return true if @p password matches @p encoded_hash.
  virtual bool verify(const std::string& encoded_hash, const std::string& password) const = 0;
};

using PasswordHasherPtr = std::shared_ptr<PasswordHasher>;

}  // namespace parley

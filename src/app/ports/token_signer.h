#pragma once
// Signed, expiring bearer tokens that name a user.
#include <cstdint>
#include <memory>
#include <string>

#include "domain/result.h"

namespace parley {

class TokenSigner {
 public:
  virtual ~TokenSigner() = default;
  /// @return a token for @p user valid until @p expires_at_ms (unix ms).
  virtual std::string issue(const std::string& user, int64_t now_ms,
                            int64_t expires_at_ms) const = 0;
  /// @return the user named by a valid, unexpired @p token; `unauthenticated` otherwise.
  virtual Result<std::string> verify(const std::string& token, int64_t now_ms) const = 0;
};

using TokenSignerPtr = std::shared_ptr<TokenSigner>;

}  // namespace parley

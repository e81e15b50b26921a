#pragma once
// TokenSigner producing JWTs (HS256: HMAC-SHA256) with `sub`, `iat` and `exp` claims, so any
// JWT library can read them. The secret lives in the data directory.
#include <string>

#include "app/ports/token_signer.h"

namespace parley {

class JwtTokenSigner final : public TokenSigner {
 public:
  explicit JwtTokenSigner(std::string secret);
  /// Reads the secret from @p path, creating it (32 random bytes, mode 0600) if absent.
  static std::string load_or_create_secret(const std::string& path);

  std::string issue(const std::string& user, int64_t now_ms, int64_t expires_at_ms) const override;
  Result<std::string> verify(const std::string& token, int64_t now_ms) const override;

 private:
  std::string sign(const std::string& signing_input) const;
  std::string secret_;
};

}  // namespace parley

#pragma once
// TokenSigner whose tokens are readable: "fake-token|<user>|<expires_at_ms>".
#include <string>

#include "app/ports/token_signer.h"

namespace parley::fakes {

class FakeTokenSigner final : public TokenSigner {
 public:
  std::string issue(const std::string& user, int64_t /*now_ms*/,
                    int64_t expires_at_ms) const override {
    return "fake-token|" + user + "|" + std::to_string(expires_at_ms);
  }
  Result<std::string> verify(const std::string& token, int64_t now_ms) const override {
    const std::string prefix = "fake-token|";
    auto bar = token.rfind('|');
    if (token.rfind(prefix, 0) != 0 || bar == std::string::npos || bar < prefix.size()) {
      return make_error(Errc::unauthenticated, "malformed token");
    }
    if (std::stoll(token.substr(bar + 1)) <= now_ms) {
      return make_error(Errc::unauthenticated, "token expired");
    }
    return token.substr(prefix.size(), bar - prefix.size());
  }
};

}  // namespace parley::fakes

#include "adapters/crypto/jwt_token_signer.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parley {
namespace {

constexpr int kB64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

std::string b64(const std::string& in) {
  std::string out(sodium_base64_ENCODED_LEN(in.size(), kB64), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                    in.size(), kB64);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

bool unb64(const std::string& in, std::string& out) {
  out.resize(in.size());
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, nullptr, kB64) != 0) {
    return false;
  }
  out.resize(len);
  return true;
}

const std::string kHeader = b64(R"({"alg":"HS256","typ":"JWT"})");

}  // namespace

JwtTokenSigner::JwtTokenSigner(std::string secret) : secret_(std::move(secret)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  if (secret_.size() < 32) throw std::runtime_error("token secret shorter than 32 bytes");
}

std::string JwtTokenSigner::load_or_create_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::string secret(32, '\0');
  randombytes_buf(secret.data(), secret.size());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  bool written = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
  ::fsync(fd);
  ::close(fd);
  if (!written) throw std::runtime_error("cannot write " + path);
  return secret;
}

std::string JwtTokenSigner::sign(const std::string& signing_input) const {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret_.data()),
                              secret_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                signing_input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return b64(std::string(reinterpret_cast<char*>(mac), sizeof mac));
}

std::string JwtTokenSigner::issue(const std::string& user, int64_t now_ms,
                                  int64_t expires_at_ms) const {
  boost::json::object claims{{"sub", user}, {"iat", now_ms / 1000}, {"exp", expires_at_ms / 1000}};
  std::string input = kHeader + "." + b64(boost::json::serialize(claims));
  return input + "." + sign(input);
}

Result<std::string> JwtTokenSigner::verify(const std::string& token, int64_t now_ms) const {
  auto refuse = [](const char* why) { return make_error(Errc::unauthenticated, why); };
  auto dot2 = token.rfind('.');
  if (dot2 == std::string::npos || token.size() > 4096) return refuse("malformed token");
  std::string input = token.substr(0, dot2);
  std::string expected = sign(input);
  std::string given = token.substr(dot2 + 1);
  if (given.size() != expected.size() ||
      sodium_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return refuse("bad token signature");
  }
  auto dot1 = input.find('.');
  if (dot1 == std::string::npos || input.substr(0, dot1) != kHeader)
    return refuse("malformed token");
  std::string payload;
  if (!unb64(input.substr(dot1 + 1), payload)) return refuse("malformed token");
  boost::system::error_code ec;
  auto claims = boost::json::parse(payload, ec);
  if (ec || !claims.is_object()) return refuse("malformed token");
  const auto& obj = claims.as_object();
  auto sub = obj.if_contains("sub");
  auto exp = obj.if_contains("exp");
  if (!sub || !sub->is_string() || !exp || !exp->is_int64()) return refuse("malformed token");
  // `exp` is in seconds and may be any int64: clamped (to +-292 million years, past any clock
  // either way) so that the product in milliseconds cannot overflow.
  constexpr int64_t kMaxExpS = INT64_MAX / 1000;
  if (std::clamp(exp->as_int64(), -kMaxExpS, kMaxExpS) * 1000 <= now_ms) {
    return refuse("token expired");
  }
  return std::string(sub->as_string());
}

}  // namespace parley

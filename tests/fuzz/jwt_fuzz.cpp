// libFuzzer target for the JWT verifier (src/adapters/crypto/jwt_token_signer.*), with a fixed
// key and a fixed clock. Each input is used three ways:
// 1. as a token: verify() must accept it only if it is `<our header>.<payload>.<HMAC of both>`
//    and the payload holds the claims below; it refuses everything else with `unauthenticated`;
// 2. as the claims of a token signed with the key (so the checks after the signature are reached
//    too): accepted if and only if the claims are a JSON object with a string `sub` and an
//    integer `exp` still in the future, and then verify() returns `sub`;
// 3. as a user name: a token issued for it verifies to it (for a valid user name), and the same
//    token with a byte flipped, cut short or extended never verifies.
// Build: cmake -DPARLEY_FUZZ=ON (see cmake/fuzz.cmake); run: scripts/run-fuzz jwt_fuzz.
// The seeds in corpus/jwt_fuzz/ are signed with kKey at kNowMs (see make_corpus.py).
#include <sodium.h>

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/crypto/jwt_token_signer.h"
#include "domain/names.h"

namespace {

using parley::Errc;

constexpr std::string_view kKey = "parley-fuzz-key-0123456789abcdef";  // 32 bytes
constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr int kB64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

std::string b64(std::string_view in) {
  std::string out(sodium_base64_ENCODED_LEN(in.size(), kB64), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                    in.size(), kB64);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string hmac_b64(std::string_view input) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(kKey.data()),
                              kKey.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return b64(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

const std::string& header() {
  static const std::string h = b64(R"({"alg":"HS256","typ":"JWT"})");
  return h;
}

const parley::JwtTokenSigner& signer() {
  static const parley::JwtTokenSigner s{std::string(kKey)};
  return s;
}

// What verify() must answer for claims that came with a good signature: the `sub`, or nothing.
std::optional<std::string> expected_subject(std::string_view payload) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(payload, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* sub = v.as_object().if_contains("sub");
  const auto* exp = v.as_object().if_contains("exp");
  if (!sub || !sub->is_string() || !exp || !exp->is_int64()) return std::nullopt;
  // Computed without overflow: `exp` is seconds, any int64 a signed token may carry.
  if (static_cast<__int128>(exp->as_int64()) * 1000 <= kNowMs) return std::nullopt;
  return std::string(sub->as_string());
}

// verify(token) against an oracle built from libsodium and Boost.JSON directly.
void check_verify(const std::string& token) {
  auto got = signer().verify(token, kNowMs);
  std::optional<std::string> want;
  auto dot2 = token.rfind('.');
  auto dot1 = token.find('.');
  if (token.size() <= 4096 && dot2 != std::string::npos && dot1 < dot2 &&
      token.substr(0, dot1) == header() &&
      token.substr(dot2 + 1) == hmac_b64(token.substr(0, dot2))) {
    std::string b64_payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
    std::string payload(b64_payload.size(), '\0');
    size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(payload.data()), payload.size(),
                          b64_payload.data(), b64_payload.size(), nullptr, &len, nullptr,
                          kB64) == 0) {
      payload.resize(len);
      want = expected_subject(payload);
    }
  }
  if (want) {
    check(got.ok(), "a good token was refused");
    check(*got == *want, "verify() returned another subject");
  } else {
    check(!got.ok(), "a bad token was accepted");
    check(got.error().code == Errc::unauthenticated,
          "refused with a code other than unauthenticated");
  }
}

void check_issued(const std::string& user, uint64_t h) {
  const auto& s = signer();
  std::string token = s.issue(user, kNowMs, kNowMs + 3'600'000);
  auto got = s.verify(token, kNowMs);
  if (parley::valid_user_name(user)) check(got.ok(), "a token just issued was refused");
  if (got.ok()) check(*got == user, "an issued token verified to another user");
  check(!s.verify(token, kNowMs + 3'600'000).ok(), "a token verified at its expiry");

  for (int i = 0; i < 4; ++i, h = h * 6364136223846793005ULL + 1442695040888963407ULL) {
    std::string bad = token;
    bad[(h >> 16) % bad.size()] ^= static_cast<char>(1 + (h >> 40) % 255);
    check(!s.verify(bad, kNowMs).ok(), "a token with a flipped byte verified");
  }
  check(!s.verify(token.substr(0, (h >> 16) % token.size()), kNowMs).ok(),
        "a truncated token verified");
  check(!s.verify(token + static_cast<char>(h >> 56), kNowMs).ok(), "an extended token verified");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  uint64_t h = 14695981039346656037ULL;  // FNV-1a: which bytes to flip, varying with the input
  for (uint8_t b : in) h = (h ^ b) * 1099511628211ULL;

  check_verify(in);
  std::string signing_input = header() + "." + b64(in);
  check_verify(signing_input + "." + hmac_b64(signing_input));
  check_issued(in, h);
  return 0;
}

#include "adapters/crypto/jwt_token_signer.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace parley {
namespace {

const std::string kSecret(32, 's');
constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kHour = 3'600'000;

TEST(JwtTokenSignerTest, IssueThenVerifyNamesTheUser) {
  JwtTokenSigner signer(kSecret);
  std::string token = signer.issue("alice", kNow, kNow + kHour);
  auto user = signer.verify(token, kNow);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_EQ(*user, "alice");
}

TEST(JwtTokenSignerTest, TokensAreThreePartJwts) {
  JwtTokenSigner signer(kSecret);
  std::string token = signer.issue("alice", kNow, kNow + kHour);
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos);  // base64url, no padding
  EXPECT_NE(signer.issue("bob", kNow, kNow + kHour), token);
}

TEST(JwtTokenSignerTest, ExpiredTokensAreRefused) {
  JwtTokenSigner signer(kSecret);
  std::string token = signer.issue("alice", kNow, kNow + kHour);
  EXPECT_TRUE(signer.verify(token, kNow + kHour - 1).ok());
  auto at = signer.verify(token, kNow + kHour);
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.error().code, Errc::unauthenticated);
  EXPECT_FALSE(signer.verify(token, kNow + 2 * kHour).ok());
}

// A token carrying @p claims (which issue() would not write), signed with kSecret.
std::string signed_token(const std::string& claims) {
  auto b64 = [](std::string_view in) {
    constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string out(sodium_base64_ENCODED_LEN(in.size(), kVariant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                      in.size(), kVariant);
    out.pop_back();  // the terminating NUL
    return out;
  };
  std::string input = b64(R"({"alg":"HS256","typ":"JWT"})") + "." + b64(claims);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(kSecret.data()),
                              kSecret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

// Found by tests/fuzz/jwt_fuzz: `exp * 1000` overflowed (undefined behaviour) for an `exp`
// beyond INT64_MAX / 1000; wrapped, a far-future token was expired and a far-past one was not.
TEST(JwtTokenSignerTest, AnExpFarFromNowDoesNotOverflow) {
  JwtTokenSigner signer(kSecret);
  ASSERT_TRUE(signer.verify(signed_token(R"({"sub":"alice","exp":1700003600})"), kNow).ok());
  // INT64_MAX / 1000 + 1: the first `exp` whose milliseconds do not fit
  auto far_future = signer.verify(signed_token(R"({"sub":"alice","exp":9223372036854776})"), kNow);
  ASSERT_TRUE(far_future.ok()) << far_future.error().message;
  EXPECT_EQ(*far_future, "alice");
  EXPECT_TRUE(
      signer.verify(signed_token(R"({"sub":"alice","exp":9223372036854775807})"), kNow).ok());
  for (const char* exp : {"-9223372036854776", "-9223372036854775808", "-1", "0"}) {
    auto r = signer.verify(signed_token(std::string(R"({"sub":"alice","exp":)") + exp + "}"), kNow);
    ASSERT_FALSE(r.ok()) << exp;
    EXPECT_EQ(r.error().message, "token expired") << exp;
  }
}

TEST(JwtTokenSignerTest, ATamperedSignatureIsRefused) {
  JwtTokenSigner signer(kSecret);
  std::string token = signer.issue("alice", kNow, kNow + kHour);
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  auto r = signer.verify(tampered, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unauthenticated);
  EXPECT_FALSE(signer.verify(token.substr(0, token.size() - 1), kNow).ok());
}

TEST(JwtTokenSignerTest, AnotherUsersPayloadUnderThisSignatureIsRefused) {
  JwtTokenSigner signer(kSecret);
  std::string alice = signer.issue("alice", kNow, kNow + kHour);
  std::string mallory = signer.issue("mallory", kNow, kNow + kHour);
  // header.payload(alice).signature(mallory)
  std::string forged = alice.substr(0, alice.rfind('.')) + mallory.substr(mallory.rfind('.'));
  EXPECT_FALSE(signer.verify(forged, kNow).ok());
}

TEST(JwtTokenSignerTest, AnotherSecretsTokensAreRefused) {
  JwtTokenSigner signer(kSecret);
  JwtTokenSigner other(std::string(32, 'o'));
  auto r = signer.verify(other.issue("alice", kNow, kNow + kHour), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unauthenticated);
}

TEST(JwtTokenSignerTest, GarbageIsRefused) {
  JwtTokenSigner signer(kSecret);
  for (const std::string& token : {std::string(), std::string("abc"), std::string("a.b.c"),
                                   std::string(5000, 'x'), std::string("..")}) {
    auto r = signer.verify(token, kNow);
    ASSERT_FALSE(r.ok()) << token;
    EXPECT_EQ(r.error().code, Errc::unauthenticated);
  }
}

TEST(JwtTokenSignerTest, ShortSecretsAreRejectedAtStartUp) {
  EXPECT_THROW(JwtTokenSigner(std::string(31, 's')), std::runtime_error);
  EXPECT_NO_THROW(JwtTokenSigner(std::string(32, 's')));
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "parley-jwt-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
};

TEST_F(SecretFileTest, CreatesAPrivateThirtyTwoByteSecretOnceThenReadsIt) {
  auto path = (dir / "token.secret").string();
  std::string first = JwtTokenSigner::load_or_create_secret(path);
  EXPECT_EQ(first.size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(JwtTokenSigner::load_or_create_secret(path), first);

  // Tokens survive a restart that reloads the secret.
  std::string token = JwtTokenSigner(first).issue("alice", kNow, kNow + kHour);
  auto user = JwtTokenSigner(JwtTokenSigner::load_or_create_secret(path)).verify(token, kNow);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, "alice");
}

}  // namespace
}  // namespace parley

#include "adapters/crypto/jwt_token_signer.h"

#include <gtest/gtest.h>
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

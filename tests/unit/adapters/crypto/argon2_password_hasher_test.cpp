#include "adapters/crypto/argon2_password_hasher.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace parley {
namespace {

// Cheap parameters: the test is about correctness, not cost.
Argon2PasswordHasher cheap() {
  return Argon2PasswordHasher(1, 1024);
}

TEST(Argon2PasswordHasherTest, TheRightPasswordVerifies) {
  auto hasher = cheap();
  std::string hash = hasher.hash("correct horse");
  EXPECT_TRUE(hasher.verify(hash, "correct horse"));
}

TEST(Argon2PasswordHasherTest, AWrongPasswordDoesNot) {
  auto hasher = cheap();
  std::string hash = hasher.hash("correct horse");
  EXPECT_FALSE(hasher.verify(hash, "correct horsf"));
  EXPECT_FALSE(hasher.verify(hash, "correct hors"));
  EXPECT_FALSE(hasher.verify(hash, ""));
}

TEST(Argon2PasswordHasherTest, TheHashIsSaltedArgon2idAndCarriesItsParameters) {
  auto hasher = cheap();
  std::string a = hasher.hash("correct horse");
  std::string b = hasher.hash("correct horse");
  EXPECT_EQ(a.rfind("$argon2id$", 0), 0u) << a;
  EXPECT_NE(a.find("m=1024"), std::string::npos) << a;
  EXPECT_EQ(a.find("correct horse"), std::string::npos);
  EXPECT_NE(a, b);  // a fresh salt each time
  EXPECT_TRUE(hasher.verify(b, "correct horse"));
}

TEST(Argon2PasswordHasherTest, HashesFromOtherParametersStillVerify) {
  Argon2PasswordHasher old_cost(1, 1024);
  Argon2PasswordHasher new_cost(2, 2048);
  EXPECT_TRUE(new_cost.verify(old_cost.hash("correct horse"), "correct horse"));
}

TEST(Argon2PasswordHasherTest, GarbageHashesNeverVerify) {
  auto hasher = cheap();
  EXPECT_FALSE(hasher.verify("", "correct horse"));
  EXPECT_FALSE(hasher.verify("correct horse", "correct horse"));
  EXPECT_FALSE(hasher.verify("$argon2id$v=19$m=1024,t=1,p=1$bm9wZQ$bm9wZQ", "correct horse"));
}

TEST(Argon2PasswordHasherTest, ParametersBelowTheMinimumAreRejectedAtStartUp) {
  EXPECT_THROW(Argon2PasswordHasher(0, 1024), std::runtime_error);
  EXPECT_THROW(Argon2PasswordHasher(1, 1), std::runtime_error);
}

}  // namespace
}  // namespace parley

#include "app/use_cases/register_user.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakePasswordHasher;
using fakes::FakeServices;

class RegisterUserTest : public ::testing::Test {
 protected:
  Answer<RegisterUser::Reply> reg(const std::string& user, const std::string& password) {
    Answer<RegisterUser::Reply> a;
    uc.handle({user, password}, a.done());
    return a;
  }
  FakeServices f;
  RegisterUser uc{f.services};
};

TEST_F(RegisterUserTest, StoresTheHashOffTheLoopAndIssuesAToken) {
  auto a = reg("alice", "correct horse");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(f.blocking->runs, 1);
  EXPECT_EQ(f.hasher->hashes, 1);
  auto stored = f.users->hash_of("alice");
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(*stored, "correct horse");
  EXPECT_EQ(*stored, FakePasswordHasher::encode("correct horse"));

  auto now = f.clock->now_ms();
  auto ttl = f.services.limits.token_ttl_ms;
  EXPECT_EQ(a.value().token, f.tokens->issue("alice", now, now + ttl));
  auto user = f.tokens->verify(a.value().token, now + ttl - 1);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, "alice");
  EXPECT_FALSE(f.tokens->verify(a.value().token, now + ttl).ok());
}

TEST_F(RegisterUserTest, InvalidUserNamesAreBadRequests) {
  for (const std::string& name :
       {std::string(), std::string(33, 'u'), std::string("al ice"), std::string("a:b")}) {
    EXPECT_EQ(reg(name, "long enough").code(), Errc::bad_request) << name;
  }
  EXPECT_TRUE(reg(std::string(32, 'u'), "long enough").ok());
  EXPECT_EQ(f.users->size(), 1u);
}

TEST_F(RegisterUserTest, PasswordsMustBeEightToTenTwentyFourBytes) {
  EXPECT_EQ(reg("alice", std::string(7, 'p')).code(), Errc::bad_request);
  EXPECT_EQ(reg("alice", std::string(1025, 'p')).code(), Errc::bad_request);
  EXPECT_EQ(f.hasher->hashes, 0);  // refused before the expensive part
  EXPECT_EQ(f.users->size(), 0u);
  EXPECT_TRUE(reg("alice", std::string(8, 'p')).ok());
  EXPECT_TRUE(reg("bob", std::string(1024, 'p')).ok());
}

TEST_F(RegisterUserTest, ATakenNameIsAConflictAndKeepsThePassword) {
  ASSERT_TRUE(reg("alice", "first password").ok());
  EXPECT_EQ(reg("alice", "second password").code(), Errc::conflict);
  EXPECT_EQ(f.users->hash_of("alice"), FakePasswordHasher::encode("first password"));
}

TEST_F(RegisterUserTest, AStoreFailureIsPassedOn) {
  f.users->fail_with(make_error(Errc::unavailable, "down"));
  EXPECT_EQ(reg("alice", "correct horse").code(), Errc::unavailable);
}

}  // namespace
}  // namespace parley

#include "app/use_cases/login_user.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class LoginUserTest : public ::testing::Test {
 protected:
  LoginUserTest() { f.add_user("alice", "correct horse"); }
  Answer<LoginUser::Reply> login(const std::string& user, const std::string& password) {
    Answer<LoginUser::Reply> a;
    uc.handle({user, password}, a.done());
    return a;
  }
  FakeServices f;
  LoginUser uc{f.services};
};

TEST_F(LoginUserTest, RightPasswordGetsATokenForTheUser) {
  f.clock->advance(60'000);
  auto a = login("alice", "correct horse");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(f.blocking->runs, 1);  // verified off the loop
  auto now = f.clock->now_ms();
  EXPECT_EQ(a.value().token, f.tokens->issue("alice", now, now + f.services.limits.token_ttl_ms));
  auto user = f.tokens->verify(a.value().token, now);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, "alice");
}

TEST_F(LoginUserTest, WrongPasswordIsUnauthenticated) {
  auto a = login("alice", "wrong horse");
  EXPECT_EQ(a.code(), Errc::unauthenticated);
  EXPECT_EQ(f.hasher->verifies, 1);
}

TEST_F(LoginUserTest, UnknownUserIsUnauthenticatedWithTheSameMessage) {
  auto unknown = login("nobody", "correct horse");
  auto wrong = login("alice", "wrong horse");
  ASSERT_EQ(unknown.code(), Errc::unauthenticated);
  ASSERT_EQ(wrong.code(), Errc::unauthenticated);
  // No telling which names exist.
  EXPECT_EQ(unknown.result->error().message, wrong.result->error().message);
}

TEST_F(LoginUserTest, InvalidNamesAndHugePasswordsAreRefusedWithoutALookup) {
  EXPECT_EQ(login("not a name", "correct horse").code(), Errc::unauthenticated);
  EXPECT_EQ(login("alice", std::string(1025, 'p')).code(), Errc::unauthenticated);
  EXPECT_EQ(f.users->finds(), 0);
  EXPECT_EQ(f.hasher->verifies, 0);
}

TEST_F(LoginUserTest, AStoreFailureIsPassedOn) {
  f.users->fail_with(make_error(Errc::unavailable, "down"));
  EXPECT_EQ(login("alice", "correct horse").code(), Errc::unavailable);
}

}  // namespace
}  // namespace parley

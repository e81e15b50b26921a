#include "domain/errc.h"

#include <gtest/gtest.h>

#include "domain/result.h"

namespace parley {
namespace {

TEST(ErrcTest, WireNamesAndStatusesFollowTheProtocolTable) {
  struct Row {
    Errc code;
    std::string_view name;
    int status;
  };
  const Row rows[] = {
      {Errc::bad_request, "bad_request", 400},   {Errc::unauthenticated, "unauthenticated", 401},
      {Errc::forbidden, "forbidden", 403},       {Errc::not_found, "not_found", 404},
      {Errc::conflict, "conflict", 409},         {Errc::too_large, "too_large", 413},
      {Errc::rate_limited, "rate_limited", 429}, {Errc::unavailable, "unavailable", 503},
      {Errc::internal, "internal", 500},         {Errc::timeout, "timeout", 504},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(wire_name(row.code), row.name);
    EXPECT_EQ(http_status(row.code), row.status) << row.name;
  }
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> ok = 7;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);

  Result<int> bad = make_error(Errc::not_found, "gone");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::not_found);
  EXPECT_EQ(bad.error().message, "gone");

  Status st = Ok{};
  EXPECT_TRUE(st.ok());
}

}  // namespace
}  // namespace parley

#include "adapters/crypto/random_hex.h"

#include <gtest/gtest.h>

#include <set>

namespace parley {
namespace {

TEST(RandomHexTest, GivesTwoLowercaseHexDigitsPerByteAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = random_hex(8);
    ASSERT_EQ(id.size(), 16u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(random_hex(32).size(), 64u);
  EXPECT_EQ(random_hex(0), "");
}

}  // namespace
}  // namespace parley

#include "adapters/ws/session_id.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace parley::ws {
namespace {

TEST(SessionId, IsAtLeast128BitsOfUrlSafeBase64) {
  ASSERT_TRUE(init_session_ids());
  std::set<std::string> seen;
  std::set<char> alphabet;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_session_id();
    // 22 chars of a 64-letter alphabet carry 132 bits, of which 128 are random.
    ASSERT_EQ(id.size(), 22u) << id;
    for (char c : id) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << id;
      alphabet.insert(c);
    }
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
  }
  // All 64 letters show up over 220,000 chars: a 62-letter alphabet (6 bits a char fewer than
  // it looks) or a skewed generator would miss some.
  EXPECT_EQ(alphabet.size(), 64u);
}

}  // namespace
}  // namespace parley::ws

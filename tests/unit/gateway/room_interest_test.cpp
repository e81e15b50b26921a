#include "gateway/room_interest.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace parley {
namespace {

TEST(RoomInterest, NoRoomIsOfInterestAtFirst) {
  RoomInterest interest;
  EXPECT_FALSE(interest.maybe("general"));
  EXPECT_FALSE(interest.maybe(""));
}

TEST(RoomInterest, ARoomIsOfInterestUntilItsLastRemoval) {
  RoomInterest interest;
  interest.add("general");
  EXPECT_TRUE(interest.maybe("general"));
  interest.add("general");
  interest.remove("general");
  EXPECT_TRUE(interest.maybe("general")) << "one subscriber left";
  interest.remove("general");
  EXPECT_FALSE(interest.maybe("general"));
}

// Rooms that share a slot keep it counted while either is of interest: a false "maybe" would
// lose a delivery, a false "yes" only costs a wasted post.
TEST(RoomInterest, RoomsSharingASlotNeverHideEachOther) {
  RoomInterest interest;
  std::string a = "room-0";
  std::string b;
  for (int k = 1; b.empty(); ++k) {
    std::string c = "room-" + std::to_string(k);
    RoomInterest probe;
    probe.add(a);
    if (probe.maybe(c)) b = c;  // c lands in a's slot
  }
  interest.add(a);
  interest.add(b);
  interest.remove(a);
  EXPECT_TRUE(interest.maybe(b));
  interest.remove(b);
  EXPECT_FALSE(interest.maybe(a));
  EXPECT_FALSE(interest.maybe(b));
}

TEST(RoomInterest, MostOtherRoomsStayOutOfInterest) {
  RoomInterest interest;
  for (int k = 0; k < 100; ++k) interest.add("joined-" + std::to_string(k));
  int false_positives = 0;
  for (int k = 0; k < 10000; ++k) false_positives += interest.maybe("other-" + std::to_string(k));
  // 100 of 16384 slots taken: about 61 expected.
  EXPECT_LT(false_positives, 200);
}

// The worker counts while the log's thread reads (TSan checks the two share nothing else).
TEST(RoomInterest, CountsAndReadsFromTwoThreads) {
  RoomInterest interest;
  std::thread worker([&] {
    for (int k = 0; k < 20000; ++k) {
      interest.add("busy");
      interest.remove("busy");
    }
    interest.add("busy");
  });
  int seen = 0;
  for (int k = 0; k < 20000; ++k) seen += interest.maybe("busy");
  worker.join();
  EXPECT_TRUE(interest.maybe("busy"));
  static_cast<void>(seen);  // the reads are what TSan checks
}

}  // namespace
}  // namespace parley

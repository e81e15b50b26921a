// The record MAC: what it covers (topic, key, value) and what it refuses. The adapter's use of
// it, on records read back from a (mock) cluster, is in kafka_mock_test.cpp.
#include "adapters/kafka/record_mac.h"

#include <gtest/gtest.h>

#include <string>

#include "app/metrics.h"

namespace parley {
namespace {

RecordMac key_of(unsigned char fill) {
  RecordMac::Key key;
  key.fill(fill);
  return RecordMac(key);
}

std::string tag_text(const RecordMac::Tag& tag) {
  return std::string(reinterpret_cast<const char*>(tag.data()), tag.size());
}

const std::string kTopic = "p.parley.messages";
const std::string kKey = "lobby";
const std::string kValue = R"({"k":"s","r":"lobby","u":"alice","t":"hi"})";

TEST(RecordMac, AGenuineRecordVerifies) {
  RecordMac mac = key_of(7);
  auto tag = tag_text(mac.sign(kTopic, kKey, kValue));
  EXPECT_EQ(tag.size(), RecordMac::kTagBytes);
  EXPECT_TRUE(mac.verify(kTopic, kKey, kValue, tag));
  // Deterministic: every role computes the same tag for the same record.
  EXPECT_EQ(tag, tag_text(key_of(7).sign(kTopic, kKey, kValue)));
  // Empty key and value are records too.
  EXPECT_TRUE(mac.verify(kTopic, "", "", tag_text(mac.sign(kTopic, "", ""))));
}

TEST(RecordMac, ATamperedValueDoesNotVerify) {
  RecordMac mac = key_of(7);
  auto tag = tag_text(mac.sign(kTopic, kKey, kValue));
  std::string value = kValue;
  value[value.size() - 3] ^= 1;
  EXPECT_FALSE(mac.verify(kTopic, kKey, value, tag));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue + " ", tag));
}

TEST(RecordMac, ATamperedKeyDoesNotVerify) {
  RecordMac mac = key_of(7);
  auto tag = tag_text(mac.sign(kTopic, kKey, kValue));
  EXPECT_FALSE(mac.verify(kTopic, "lobbz", kValue, tag));
  EXPECT_FALSE(mac.verify(kTopic, "", kValue, tag));
  // Bytes moved from the key to the value are another record (the key's length is covered).
  EXPECT_FALSE(mac.verify(kTopic, "lobb", "y" + kValue, tag));
}

TEST(RecordMac, AGenuineRecordOnAnotherTopicDoesNotVerify) {
  RecordMac mac = key_of(7);
  auto tag = tag_text(mac.sign(kTopic, kKey, kValue));
  EXPECT_FALSE(mac.verify("p.parley.results", kKey, kValue, tag));
  EXPECT_FALSE(mac.verify("q.parley.messages", kKey, kValue, tag));  // another cluster's prefix
  EXPECT_FALSE(mac.verify(kTopic + "l", "obby", kValue, tag));
}

TEST(RecordMac, AMissingOrShortTagDoesNotVerify) {
  RecordMac mac = key_of(7);
  auto tag = tag_text(mac.sign(kTopic, kKey, kValue));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, ""));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, tag.substr(0, 16)));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, tag + "x"));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, std::string(RecordMac::kTagBytes, '\0')));
}

TEST(RecordMac, AnotherKeyDoesNotVerify) {
  auto tag = tag_text(key_of(7).sign(kTopic, kKey, kValue));
  EXPECT_FALSE(key_of(8).verify(kTopic, kKey, kValue, tag));
  EXPECT_NE(key_of(7).fingerprint(), key_of(8).fingerprint());
  EXPECT_EQ(key_of(7).fingerprint(), key_of(7).fingerprint());
  EXPECT_EQ(key_of(7).fingerprint().size(), 16u);
}

TEST(RecordMac, KeysFromHex) {
  std::string hex = RecordMac::random_hex_key();
  ASSERT_EQ(hex.size(), 64u);
  EXPECT_NE(hex, RecordMac::random_hex_key());
  auto a = RecordMac::from_hex(hex);
  auto b = RecordMac::from_hex("  " + hex + "\n");  // a file's newline is fine
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  EXPECT_TRUE(b->verify(kTopic, kKey, kValue, tag_text(a->sign(kTopic, kKey, kValue))));
  EXPECT_FALSE(RecordMac::from_hex(""));
  EXPECT_FALSE(RecordMac::from_hex(hex.substr(2)));
  EXPECT_FALSE(RecordMac::from_hex(hex + "00"));
  EXPECT_FALSE(RecordMac::from_hex(std::string(64, 'g')));
  EXPECT_FALSE(RecordMac::from_hex(hex.substr(0, 30) + "  " + hex.substr(32)));
}

TEST(RecordMac, ATraceIsCoveredByTheTag) {
  RecordMac mac = key_of(7);
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string other = "00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01";
  auto traced = tag_text(mac.sign(kTopic, kKey, kValue, tp));
  auto plain = tag_text(mac.sign(kTopic, kKey, kValue));
  EXPECT_TRUE(mac.verify(kTopic, kKey, kValue, traced, tp));
  // Another trace, a trace stripped, a trace attached: none verifies.
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, traced, other));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, traced));
  EXPECT_FALSE(mac.verify(kTopic, kKey, kValue, plain, tp));
  // The trace's bytes cannot be moved into the value (its own domain tag and length prefix).
  std::string shifted = std::string("\0\0\0\x37", 4) + tp + kValue;
  EXPECT_FALSE(mac.verify(kTopic, kKey, shifted, traced));
  // Records without a trace keep the tag they always had.
  EXPECT_EQ(plain, tag_text(mac.sign(kTopic, kKey, kValue, "")));
}

TEST(RecordMac, RejectionsAreCountedByTopic) {
  auto& rejected = Metrics::global().records_rejected_total;
  uint64_t messages = rejected[0].load(), results = rejected[1].load(), events = rejected[2].load(),
           other = rejected[3].load();
  note_rejected("x.parley.messages", 0, 1, "test");
  note_rejected("parley.results", 0, 1, "test");
  note_rejected("parley.results", 0, 2, "test");
  note_rejected("parley.events", 0, 1, "test");
  note_rejected("parley.dlq", 0, 1, "test");
  EXPECT_EQ(rejected[0].load(), messages + 1);
  EXPECT_EQ(rejected[1].load(), results + 2);
  EXPECT_EQ(rejected[2].load(), events + 1);
  EXPECT_EQ(rejected[3].load(), other + 1);
}

}  // namespace
}  // namespace parley

// fold_consumed, shared by the gateways' tails and the persisters: a record that is not
// authentic never reaches the fold, yet moves its position exactly as a folded one would, so
// two folders fed the same records (one of them forged) stay in step.
#include "adapters/cluster/fold_driver.h"

#include <gtest/gtest.h>

#include "adapters/kafka/record_codec.h"
#include "unit/app/cluster/fold_test_util.h"

namespace parley {
namespace {

using namespace fold_test;

Consumed consumed(int64_t offset, const LogRecord& r, bool authentic) {
  Consumed c;
  c.partition = 0;
  c.offset = offset;
  c.timestamp_ms = 1'700'000'000'000 + offset;
  c.log_append_time = true;
  c.key = r.room;
  c.value = encode_record(r);
  c.authentic = authentic;
  return c;
}

PartitionSnapshot empty_partition() {
  PartitionSnapshot s;
  s.partition = 0;
  return s;
}

TEST(FoldDriver, ARecordThatIsNotAuthenticIsSkippedNotFolded) {
  LogFold fold;
  fold.load(empty_partition());
  ASSERT_EQ(fold_consumed(fold, consumed(0, create("lobby", "alice"), true)).kind,
            FoldStep::Kind::folded);

  // A well-formed send, a creation and an invitation, all unauthenticated: nothing applies.
  FoldStep forged = fold_consumed(fold, consumed(1, send("lobby", "alice", "forged"), false));
  EXPECT_EQ(forged.kind, FoldStep::Kind::forged);
  EXPECT_FALSE(forged.record.has_value());
  EXPECT_EQ(fold_consumed(fold, consumed(2, create("other", "mallory", true), false)).kind,
            FoldStep::Kind::forged);
  EXPECT_EQ(fold_consumed(fold, consumed(3, create("secret", "alice", true), true)).kind,
            FoldStep::Kind::folded);
  EXPECT_EQ(fold_consumed(fold, consumed(4, invite("secret", "alice", "mallory"), false)).kind,
            FoldStep::Kind::forged);
  EXPECT_EQ(fold.head("lobby"), 0);
  EXPECT_EQ(fold.room("other"), nullptr);
  EXPECT_EQ(fold.room("secret")->members.count("mallory"), 0u);
  // The position moved past every one of them, as a folded record moves it.
  EXPECT_EQ(fold.next_offset(0), 5);

  // A genuine send after them gets its own offset's seq, and a replay below is already folded.
  FoldStep genuine = fold_consumed(fold, consumed(5, send("lobby", "alice", "genuine"), true));
  ASSERT_EQ(genuine.kind, FoldStep::Kind::folded);
  EXPECT_EQ(genuine.outcome.kind, Folded::Kind::message);
  EXPECT_EQ(genuine.outcome.message.seq, 6);
  EXPECT_EQ(fold_consumed(fold, consumed(1, send("lobby", "alice", "forged"), true)).kind,
            FoldStep::Kind::already_folded);
}

TEST(FoldDriver, TwoFoldersOfTheSameRecordsStayInStep) {
  // The gateway folds from the start; the persister from a snapshot taken past a forged record.
  LogFold gateway;
  gateway.load(empty_partition());
  std::vector<Consumed> log = {consumed(0, create("lobby", "alice"), true),
                               consumed(1, send("lobby", "alice", "forged"), false),
                               consumed(2, send("lobby", "alice", "one"), true),
                               consumed(3, send("lobby", "bob", "forged too"), false)};
  for (const auto& c : log) fold_consumed(gateway, c);
  LogFold persister;
  PartitionSnapshot at2 = empty_partition();
  {
    LogFold first;
    first.load(empty_partition());
    for (size_t i = 0; i < 2; ++i) fold_consumed(first, log[i]);
    at2 = first.snapshot(0);
  }
  EXPECT_EQ(at2.next_offset, 2);
  persister.load(at2);
  for (size_t i = 2; i < log.size(); ++i) fold_consumed(persister, log[i]);
  EXPECT_EQ(persister.next_offset(0), gateway.next_offset(0));
  EXPECT_EQ(persister.next_offset(0), 4);
  EXPECT_EQ(persister.head("lobby"), gateway.head("lobby"));
  EXPECT_EQ(gateway.head("lobby"), 3);
}

}  // namespace
}  // namespace parley

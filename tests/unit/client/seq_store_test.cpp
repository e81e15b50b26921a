#include "client/seq_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace parley::client {
namespace {

TEST(SeqFile, RoundTrips) {
  SeqFile f;
  f.epoch = "ffd9c47bbcd10f65";
  f.rooms = {{"lobby", 42}, {"dm:alice:bob", 7}, {"empty", 0}};
  const auto back = parse_seq_file(format_seq_file(f));
  EXPECT_EQ(back.epoch, f.epoch);
  EXPECT_EQ(back.rooms, f.rooms);
}

TEST(SeqFile, SkipsWhatItDoesNotUnderstand) {
  const auto f = parse_seq_file(
      "parley-seqs 1\nepoch e1\nroom lobby 5\nroom bad/name 3\nroom neg -1\nroom x 12y\n"
      "garbage\nroom nospace\nroom ok 9");
  EXPECT_EQ(f.epoch, "e1");
  EXPECT_EQ(f.rooms, (std::map<std::string, int64_t>{{"lobby", 5}, {"ok", 9}}));
}

TEST(SeqFile, AnotherFormatStartsAfresh) {
  EXPECT_TRUE(parse_seq_file("parley-seqs 2\nroom lobby 5\n").rooms.empty());
  EXPECT_TRUE(parse_seq_file("").rooms.empty());
}

TEST(SeqFile, ReadsABoundedNumberOfRooms) {
  std::string text = "parley-seqs 1\n";
  for (size_t i = 0; i < kMaxStoredRooms + 10; ++i) text += "room r" + std::to_string(i) + " 1\n";
  EXPECT_EQ(parse_seq_file(text).rooms.size(), kMaxStoredRooms);
}

TEST(StateDir, FollowsXdgThenHome) {
  EXPECT_EQ(state_dir("/x/state", "/home/a"), std::filesystem::path("/x/state/parley"));
  EXPECT_EQ(state_dir(nullptr, "/home/a"), std::filesystem::path("/home/a/.local/state/parley"));
  // A relative XDG_STATE_HOME is invalid (XDG Base Directory): ignored.
  EXPECT_EQ(state_dir("rel", "/home/a"), std::filesystem::path("/home/a/.local/state/parley"));
  EXPECT_EQ(state_dir("", "/home/a"), std::filesystem::path("/home/a/.local/state/parley"));
  EXPECT_TRUE(state_dir(nullptr, nullptr).empty());
}

TEST(StateDir, OneFilePerServerAndUser) {
  EXPECT_EQ(seq_file_name("127.0.0.1:8080", "alice"), "127.0.0.1_8080-alice.seqs");
  EXPECT_NE(seq_file_name("127.0.0.1:8080", "alice"), seq_file_name("127.0.0.1:8081", "alice"));
  EXPECT_NE(seq_file_name("h:1", "alice"), seq_file_name("h:1", "bob"));
  EXPECT_EQ(seq_file_name("../../etc:1", "a").find('/'), std::string::npos);
}

TEST(SeqStore, SavesAndLoadsAtomically) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("parley-seq-test-" + std::to_string(::getpid())) / "nested";
  const SeqStore store(dir / "s-u.seqs");
  EXPECT_TRUE(store.load().rooms.empty());  // no file yet
  SeqFile f;
  f.epoch = "e";
  f.rooms = {{"lobby", 3}};
  ASSERT_TRUE(store.save(f));  // creates the directories
  f.rooms["lobby"] = 4;
  ASSERT_TRUE(store.save(f));
  EXPECT_EQ(store.load().rooms.at("lobby"), 4);
  EXPECT_FALSE(std::filesystem::exists(dir / "s-u.seqs.tmp"));
  std::filesystem::remove_all(dir.parent_path());
}

TEST(SeqStore, WithoutAPathKeepsNothing) {
  const SeqStore store{std::filesystem::path()};
  EXPECT_FALSE(store.save(SeqFile{}));
  EXPECT_TRUE(store.load().rooms.empty());
}

}  // namespace
}  // namespace parley::client

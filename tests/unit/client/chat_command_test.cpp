#include "client/chat_command.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

TEST(ChatCommand, PlainLineIsSaidAsTyped) {
  const auto p = parse_line("  hello   there ");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.command.kind, CommandKind::say);
  EXPECT_EQ(p.command.arg, "  hello   there ");
}

TEST(ChatCommand, DoubleSlashSaysALineStartingWithSlash) {
  const auto p = parse_line("//shrug");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.command.kind, CommandKind::say);
  EXPECT_EQ(p.command.arg, "/shrug");
}

TEST(ChatCommand, BlankLinesAreEmpty) {
  EXPECT_TRUE(parse_line("").empty);
  EXPECT_TRUE(parse_line("   \t\n").empty);
}

TEST(ChatCommand, EachCommandMapsToItsKind) {
  struct Case {
    const char* line;
    CommandKind kind;
    const char* arg;
  };
  for (const auto& c :
       {Case{"/join lobby", CommandKind::join, "lobby"},
        Case{"/join dm:alice:bob", CommandKind::join, "dm:alice:bob"},
        Case{"/leave", CommandKind::leave, ""}, Case{"/create team", CommandKind::create, "team"},
        Case{"/invite bob", CommandKind::invite, "bob"},
        Case{"/dm carol", CommandKind::dm, "carol"}, Case{"/history", CommandKind::history, ""},
        Case{"/who", CommandKind::who, ""}, Case{"/rooms", CommandKind::rooms, ""},
        Case{"/quit", CommandKind::quit, ""}, Case{"/help", CommandKind::help, ""}}) {
    const auto p = parse_line(c.line);
    ASSERT_TRUE(p.ok) << c.line << ": " << p.error;
    EXPECT_EQ(p.command.kind, c.kind) << c.line;
    EXPECT_EQ(p.command.arg, c.arg) << c.line;
  }
}

TEST(ChatCommand, CreateTakesPrivateOnEitherSide) {
  auto p = parse_line("/create team --private");
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.command.is_private);
  EXPECT_EQ(p.command.arg, "team");
  p = parse_line("/create --private team");
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.command.is_private);
  EXPECT_EQ(p.command.arg, "team");
  EXPECT_FALSE(parse_line("/create team").command.is_private);
  EXPECT_FALSE(parse_line("/create team --secret").ok);
  EXPECT_FALSE(parse_line("/create --private").ok);
  EXPECT_FALSE(parse_line("/create a b").ok);
}

TEST(ChatCommand, HistoryTakesOneToTwoHundred) {
  EXPECT_EQ(parse_line("/history").command.limit, 20);
  EXPECT_EQ(parse_line("/history 1").command.limit, 1);
  EXPECT_EQ(parse_line("/history 200").command.limit, 200);
  for (const char* bad :
       {"/history 0", "/history 201", "/history -3", "/history x", "/history 5x", "/history 1 2"}) {
    EXPECT_FALSE(parse_line(bad).ok) << bad;
  }
}

TEST(ChatCommand, NamesAreCheckedBeforeTheyAreSent) {
  EXPECT_FALSE(parse_line("/join").ok);
  EXPECT_FALSE(parse_line("/join a b").ok);
  EXPECT_FALSE(parse_line("/join bad/room").ok);
  EXPECT_FALSE(parse_line("/join " + std::string(65, 'r')).ok);
  EXPECT_FALSE(parse_line("/create dm:a:b").ok);  // dm rooms are made by /dm only
  EXPECT_FALSE(parse_line("/invite").ok);
  EXPECT_FALSE(parse_line("/dm " + std::string(33, 'u')).ok);
  EXPECT_FALSE(parse_line("/leave now").ok);
  EXPECT_FALSE(parse_line("/quit please").ok);
}

TEST(ChatCommand, UnknownCommandsAreErrorsNotMessages) {
  const auto p = parse_line("/jion lobby");
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("/jion"), std::string::npos);
}

}  // namespace
}  // namespace parley::client

#include "cli/chat_format.h"

#include <gtest/gtest.h>

namespace parley::cli {
namespace {

client::Shown msg(std::string text) {
  return client::Shown{client::Shown::Kind::message, "lobby", "bob", std::move(text), 3, 0};
}

TEST(ChatFormat, ColorOnlyOnATerminalWithoutNoColor) {
  EXPECT_TRUE(use_color(true, nullptr));
  EXPECT_TRUE(use_color(true, ""));  // no-color.org: set and non-empty
  EXPECT_FALSE(use_color(true, "1"));
  EXPECT_FALSE(use_color(false, nullptr));
}

TEST(ChatFormat, WithoutColorThereIsNoEscape) {
  const auto line = format_shown(msg("hello"), false, "12:00");
  EXPECT_EQ(line, "12:00 [lobby] bob: hello");
  EXPECT_EQ(format_shown(msg("hello"), true, "12:00").find('\x1b') != std::string::npos, true);
}

TEST(ChatFormat, ControlCharactersOfOthersAreNeutralised) {
  const auto line = format_shown(msg("a\x1b[2Jb\rc\x7f"
                                     "d\xc2\x9b"
                                     "e"),
                                 false, "12:00");
  EXPECT_EQ(line, "12:00 [lobby] bob: a?[2Jb?c?d?e");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 kept
}

TEST(ChatFormat, PromptNamesTheRoomAndOffline) {
  EXPECT_EQ(prompt_for("", true), "> ");
  EXPECT_EQ(prompt_for("lobby", true), "[lobby]> ");
  EXPECT_EQ(prompt_for("lobby", false), "(offline) [lobby]> ");
}

}  // namespace
}  // namespace parley::cli

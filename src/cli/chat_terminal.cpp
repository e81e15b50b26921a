#include "cli/chat_terminal.h"

#include <fcntl.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>

namespace parley::cli {
namespace {
// readline's callbacks are plain functions: they reach the one terminal through this.
ChatTerminal* g_terminal = nullptr;
constexpr int kMaxHistoryLines = 500;
}  // namespace

ChatTerminal::ChatTerminal(boost::asio::io_context& io, Handlers handlers)
    : io_(io), h_(std::move(handlers)), in_(io), winch_(io, SIGWINCH) {}

ChatTerminal::~ChatTerminal() {
  stop();
}

void ChatTerminal::start(const std::string& prompt) {
  g_terminal = this;
  prompt_ = prompt;
  // Signals are the io_context's (SIGINT quits cleanly, SIGWINCH resizes): readline must not
  // install its own handlers around every character.
  rl_catch_signals = 0;
  rl_catch_sigwinch = 0;
  stifle_history(kMaxHistoryLines);
  rl_callback_handler_install(prompt_.c_str(), &ChatTerminal::on_readline_line);
  active_ = true;
  in_.assign(::dup(STDIN_FILENO));
  wait_for_input();
  watch_resize();
}

void ChatTerminal::watch_resize() {
  winch_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || !active_) return;
    rl_resize_terminal();
    watch_resize();
  });
}

void ChatTerminal::wait_for_input() {
  in_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this](const boost::system::error_code& ec) {
                   if (ec || !active_) return;
                   rl_callback_read_char();  // may call on_readline_line, which may stop()
                   if (!active_) return;
                   if (h_.on_key) h_.on_key();
                   wait_for_input();
                 });
}

void ChatTerminal::on_readline_line(char* line) {
  ChatTerminal* t = g_terminal;
  if (t == nullptr) {
    std::free(line);
    return;
  }
  // readline calls this half-way through finishing the line (the terminal is deprepared, the old
  // line still in its buffer, the new prompt not yet drawn): a line printed from here would be
  // drawn over. So the line is handled once rl_callback_read_char has returned.
  if (line == nullptr) {  // EOF
    boost::asio::post(t->io_, [t] {
      if (t->active_ && t->h_.on_eof) t->h_.on_eof();
    });
    return;
  }
  std::string s(line);
  if (!s.empty()) add_history(line);
  std::free(line);
  boost::asio::post(t->io_, [t, s = std::move(s)]() mutable {
    if (t->active_ && t->h_.on_line) t->h_.on_line(std::move(s));
  });
}

void ChatTerminal::set_prompt(const std::string& prompt) {
  if (prompt == prompt_) return;
  prompt_ = prompt;
  if (!active_) return;
  rl_set_prompt(prompt_.c_str());
  rl_redisplay();
}

void ChatTerminal::print(const std::string& line) {
  if (!active_) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return;
  }
  // Take the input line away, print, and put it back where it was, cursor included.
  const int saved_point = rl_point;
  char* saved_line = rl_copy_text(0, rl_end);
  rl_save_prompt();
  rl_replace_line("", 0);
  rl_redisplay();
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  rl_restore_prompt();
  rl_replace_line(saved_line, 0);
  rl_point = saved_point;
  rl_redisplay();
  std::free(saved_line);
  std::fflush(stdout);
}

std::string ChatTerminal::typed() const {
  if (!active_ || rl_line_buffer == nullptr) return {};
  return std::string(rl_line_buffer, static_cast<size_t>(rl_end));
}

void ChatTerminal::stop() {
  if (!active_) return;
  active_ = false;
  rl_callback_handler_remove();
  boost::system::error_code ec;
  in_.cancel(ec);
  in_.close(ec);
  winch_.cancel(ec);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (g_terminal == this) g_terminal = nullptr;
}

bool read_password(const std::string& prompt, std::string& out) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  termios old{};
  if (::tcgetattr(fd, &old) != 0) {
    ::close(fd);
    return false;
  }
  termios quiet = old;
  quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
  quiet.c_lflag |= ECHONL;
  (void)!::write(fd, prompt.data(), prompt.size());
  // TCSANOW, not TCSAFLUSH: what was typed ahead (the password itself) is kept.
  ::tcsetattr(fd, TCSANOW, &quiet);
  out.clear();
  char c = 0;
  bool ok = false;
  // At most 1024 bytes: the protocol's longest password.
  while (out.size() <= 1024) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) break;
    if (c == '\n' || c == '\r') {
      ok = true;
      break;
    }
    out += c;
  }
  ::tcsetattr(fd, TCSANOW, &old);
  ::close(fd);
  return ok;
}

}  // namespace parley::cli

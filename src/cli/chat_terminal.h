#pragma once
// The terminal of `parley chat`: GNU readline in its callback mode, fed from the io_context when
// stdin is readable, so lines typed and frames received are handled on one thread. Lines printed
// while the user types go above the input line, which is saved and redrawn intact.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <string>

namespace parley::cli {

class ChatTerminal {
 public:
  struct Handlers {
    std::function<void(std::string line)> on_line;  // a line entered (without its newline)
    std::function<void()> on_eof;                   // Ctrl-D on an empty line, or stdin closed
    std::function<void()> on_key;                   // any key read (to send `typing`)
  };

  ChatTerminal(boost::asio::io_context& io, Handlers handlers);
  ~ChatTerminal();

  void start(const std::string& prompt);
  void set_prompt(const std::string& prompt);
  /// Prints @p line above the line being typed; the typed text and cursor are kept.
  void print(const std::string& line);
  /// The text typed so far on the input line.
  std::string typed() const;
  /// Gives the terminal back (readline's settings undone); idempotent.
  void stop();

 private:
  void wait_for_input();
  void watch_resize();
  static void on_readline_line(char* line);

  boost::asio::io_context& io_;
  Handlers h_;
  boost::asio::posix::stream_descriptor in_;
  boost::asio::signal_set winch_;
  std::string prompt_;
  bool active_ = false;
};

/// Reads a password from the controlling terminal with echo off; false if there is none.
bool read_password(const std::string& prompt, std::string& out);

}  // namespace parley::cli

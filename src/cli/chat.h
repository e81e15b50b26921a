#pragma once
// `parley chat`: a terminal client (client/ speaks the protocol, cli/chat_terminal the terminal).
#include <string>

namespace CLI {
class App;
}

namespace parley {

struct ChatOptions {
  std::string server = "http://127.0.0.1:8080";
  std::string user;
  bool register_user = false;
  std::string ca_file;  // https: a CA to trust besides the system's (PEM)
};

/// Adds the `chat` subcommand to @p app; @p opts receives its flags.
CLI::App* add_chat_command(CLI::App& app, ChatOptions& opts);
/// Runs the client until /quit, Ctrl-D or SIGINT; returns the process exit code.
int run_chat(const ChatOptions& opts);

}  // namespace parley

#include "cli/chat.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "cli/chat_format.h"
#include "cli/chat_terminal.h"
#include "client/chat_session.h"
#include "client/connection.h"
#include "client/http_auth.h"
#include "client/seq_store.h"
#include "client/server_address.h"
#include "client/tls.h"
#include "domain/names.h"

namespace parley {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTypingEvery = 3s;        // what the browser page sends, too
constexpr auto kTypingShownEvery = 10s;  // a typing line per user and room, at most this often
constexpr auto kSaveEvery = 1s;          // the seq file is rewritten at most this often

// A session id kept for the life of the process (PROTOCOL.md: 8-64 of [A-Za-z0-9_-]).
std::string new_session_id() {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::string s = "chat-";
  for (int i = 0; i < 22; ++i) s += kChars[rd() % 64];
  return s;
}

// The seq file of this server and user; none (keep nothing) without a state directory.
std::filesystem::path state_file(const client::ServerAddress& server, const std::string& user) {
  const auto dir = client::state_dir(std::getenv("XDG_STATE_HOME"), std::getenv("HOME"));
  if (dir.empty()) return {};
  return dir / client::seq_file_name(server.authority(), user);
}

// Everything one running client is made of, on one io_context thread.
class ChatApp {
 public:
  ChatApp(const ChatOptions& opts, client::ServerAddress server,
          std::shared_ptr<client::TlsContext> tls, std::string password, std::string token)
      : opts_(opts),
        server_(std::move(server)),
        tls_(std::move(tls)),
        password_(std::move(password)),
        color_(cli::use_color(::isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"))),
        store_(state_file(server_, opts.user)),
        session_id_(new_session_id()),
        session_(opts.user, session_id_, store_.load()),
        terminal_(io_, {[this](std::string line) { on_line(std::move(line)); }, [this] { quit(); },
                        [this] { on_key(); }}),
        conn_(io_, server_, tls_, std::move(token), session_id_, handlers()),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        save_timer_(io_),
        quit_timer_(io_) {}

  int run() {
    terminal_.start(cli::prompt_for({}, false));
    show_notice("connecting to " + opts_.server + " as " + opts_.user + " (/help for commands)");
    if (store_.path().empty()) {
      show_error("neither XDG_STATE_HOME nor HOME is set: a restarted client will not resume");
    }
    conn_.start();
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) quit();
    });
    schedule_save();
    io_.run();
    terminal_.stop();
    return exit_code_;
  }

 private:
  client::ConnectionHandlers handlers() {
    client::ConnectionHandlers h;
    h.on_open = [this](std::string_view welcome) {
      last_down_.clear();
      client::Output out;
      session_.on_welcome(welcome, out);
      apply(out);
    };
    h.on_frame = [this](std::string_view frame) {
      client::Output out;
      session_.on_frame(frame, out);
      apply(out);
    };
    h.on_down = [this](const std::string& why, std::chrono::milliseconds retry_in) {
      session_.on_disconnect();
      // One line per new reason: a server down for a minute is not worth twenty lines.
      if (why != last_down_) {
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.1f", static_cast<double>(retry_in.count()) / 1000.0);
        show_notice(why + "; reconnecting (next try in " + secs + " s)");
        last_down_ = why;
      }
      update_prompt();
    };
    h.on_give_up = [this](const std::string& why) {
      session_.on_disconnect();
      show_error(why + "; not reconnecting (/quit)");
      update_prompt();
    };
    // The certificate changed to one that is not trusted: as at the start, a configuration
    // error, so the client stops (exit code 1) instead of retrying what fails the same way.
    h.on_untrusted = [this](const std::string& why) {
      session_.on_disconnect();
      show_error(why);
      exit_code_ = 1;
      quit();
    };
    h.refresh_token = [this]() -> std::string {
      auto t = client::fetch_token(server_, tls_.get(), false, opts_.user, password_);
      if (!t) {
        show_error("cannot log in again: " + t.error().message);
        return {};
      }
      return std::move(t).value();
    };
    return h;
  }

  void apply(client::Output& out) {
    for (auto& f : out.frames) conn_.write(std::move(f));
    for (const auto& s : out.shown) show(s);
    update_prompt();
    if (out.quit) quit();
  }

  void show(const client::Shown& s) {
    using K = client::Shown::Kind;
    const auto key = s.room + "\n" + s.user;
    if (s.kind == K::typing) {
      // Typing comes every few seconds while someone types: one line says it.
      const auto now = Clock::now();
      auto it = typing_shown_.find(key);
      if (it != typing_shown_.end() && now - it->second < kTypingShownEvery) return;
      if (typing_shown_.size() > 1024) typing_shown_.clear();
      typing_shown_[key] = now;
    } else if (s.kind == K::message) {
      typing_shown_.erase(key);  // they sent it: their next typing is news again
    }
    const std::string clock =
        (s.kind == K::message || s.kind == K::history) ? cli::clock_of(s.ts) : std::string();
    terminal_.print(cli::format_shown(s, color_, clock));
  }

  void show_notice(std::string text) {
    show(client::Shown{client::Shown::Kind::notice, {}, {}, std::move(text), 0, 0});
  }
  void show_error(std::string text) {
    show(client::Shown{client::Shown::Kind::error, {}, {}, std::move(text), 0, 0});
  }

  void update_prompt() {
    terminal_.set_prompt(cli::prompt_for(session_.current_room(), session_.connected()));
  }

  void on_line(std::string line) {
    const auto parsed = client::parse_line(line);
    if (parsed.empty) return;
    if (!parsed.ok) {
      show_error(parsed.error);
      return;
    }
    client::Output out;
    session_.on_command(parsed.command, out);
    apply(out);
  }

  void on_key() {
    // Others see "typing" while a message (not a command) is being written.
    const std::string typed = terminal_.typed();
    if (typed.empty() || typed[0] == '/') return;
    const auto now = Clock::now();
    if (now - last_typing_ < kTypingEvery) return;
    client::Output out;
    session_.typing(out);
    if (!out.frames.empty()) last_typing_ = now;
    apply(out);
  }

  void save() {
    if (!session_.take_dirty() || store_.path().empty()) return;
    if (!store_.save(session_.seqs()) && !save_failed_) {
      save_failed_ = true;
      show_error("cannot write " + store_.path().string() + ": a restart will not resume");
    }
  }

  void schedule_save() {
    save_timer_.expires_after(kSaveEvery);
    save_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || quitting_) return;
      save();
      schedule_save();
    });
  }

  void quit() {
    if (quitting_) return;
    quitting_ = true;
    save();
    save_timer_.cancel();
    signals_.cancel();
    terminal_.stop();
    conn_.stop([this] { io_.stop(); });
    quit_timer_.expires_after(2s);  // a server that does not answer the close
    quit_timer_.async_wait([this](const boost::system::error_code&) { io_.stop(); });
  }

  const ChatOptions& opts_;
  client::ServerAddress server_;
  std::shared_ptr<client::TlsContext> tls_;  // set for https://
  std::string password_;
  bool color_;
  asio::io_context io_;
  client::SeqStore store_;
  std::string session_id_;  // kept across reconnects: results in flight follow it
  client::ChatSession session_;
  cli::ChatTerminal terminal_;
  client::Connection conn_;
  asio::signal_set signals_;
  asio::steady_timer save_timer_;
  asio::steady_timer quit_timer_;
  std::map<std::string, Clock::time_point> typing_shown_;
  Clock::time_point last_typing_{};
  std::string last_down_;  // the reason last shown for being offline
  bool save_failed_ = false;
  bool quitting_ = false;
  int exit_code_ = 0;
};

}  // namespace

CLI::App* add_chat_command(CLI::App& app, ChatOptions& opts) {
  auto* cmd = app.add_subcommand("chat", "a terminal chat client (PARLEY_PASSWORD: the password)");
  cmd->add_option("--server", opts.server, "the server, http://HOST:PORT or https://HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--user", opts.user, "your user name")->required();
  cmd->add_flag("--register", opts.register_user, "create the account first");
  cmd->add_option("--ca-file", opts.ca_file,
                  "https: also trust the CA in this PEM file (the system's CAs are trusted too)");
  return cmd;
}

int run_chat(const ChatOptions& opts) {
  auto server = client::parse_server_url(opts.server);
  if (!server) {
    std::fprintf(stderr, "parley chat: %s\n", server.error().message.c_str());
    return 2;
  }
  std::shared_ptr<client::TlsContext> tls;
  if (server->tls) {
    auto ctx = client::make_tls_context(opts.ca_file);
    if (!ctx) {
      std::fprintf(stderr, "parley chat: %s\n", ctx.error().message.c_str());
      return 2;
    }
    tls = std::move(ctx).value();
  } else if (!opts.ca_file.empty()) {
    std::fprintf(stderr, "parley chat: --ca-file is for an https:// server\n");
    return 2;
  }
  if (!valid_user_name(opts.user)) {
    std::fprintf(stderr, "parley chat: user names are 1-32 chars of [A-Za-z0-9_.-]\n");
    return 2;
  }
  std::string password;
  if (const char* p = std::getenv("PARLEY_PASSWORD"); p != nullptr && p[0] != '\0') {
    password = p;
  } else if (!cli::read_password("password for " + opts.user + ": ", password)) {
    std::fprintf(stderr, "parley chat: no terminal to ask the password on: set PARLEY_PASSWORD\n");
    return 2;
  }
  // A certificate that fails verification ends here too: exit code 1, its reason on one line.
  auto token = client::fetch_token(*server, tls.get(), opts.register_user, opts.user, password);
  if (!token) {
    const auto& e = token.error();
    std::string hint;
    if (e.code == Errc::conflict) hint = " (the user exists: leave out --register)";
    if (e.code == Errc::unauthenticated && !opts.register_user) {
      hint = " (a new user? add --register)";
    }
    std::fprintf(stderr, "parley chat: %s%s\n", e.message.c_str(), hint.c_str());
    return 1;
  }
  ChatApp app(opts, std::move(server).value(), std::move(tls), std::move(password),
              std::move(token).value());
  return app.run();
}

}  // namespace parley

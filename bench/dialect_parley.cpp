// parley's dialect for the neutral load generator (../shared/peers/wsload): speaks PROTOCOL.md.
// Each connection's user is registered (or logged in) over HTTP before its upgrade, creates its
// room (conflict is fine), joins it, and counts `message` frames as deliveries.
// Options: password (default "benchpass1"), prefix (user name prefix, default "u"),
// conns_per_user (default 1): connections that share one user, so that a connect measures the
// upgrade rather than an account's creation (parley allows 256 connections per user).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

#include "dialect.h"

namespace {

// A blocking HTTP/1.1 POST with a JSON body on loopback; returns the response (headers + body).
std::string http_post(const std::string& host, const std::string& path, const std::string& body) {
  auto colon = host.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host.substr(colon + 1))));
  inet_pton(AF_INET, host.substr(0, colon).c_str(), &addr.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("parley dialect: cannot connect to " + host);
  }
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::write(fd, req.data() + off, req.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return resp;
}

std::string json_field(std::string_view doc, std::string_view key) {
  std::string pat = "\"" + std::string(key) + "\":\"";
  auto at = doc.find(pat);
  if (at == std::string_view::npos) return {};
  at += pat.size();
  return std::string(doc.substr(at, doc.find('"', at) - at));
}

class ParleySession final : public wsload::Session {
 public:
  explicit ParleySession(std::string room) : room_(std::move(room)) {}

  bool on_open(wsload::Out& out) override {
    // Pipelined: create_room is a barrier, so the join runs after it.
    out.send_text(R"({"type":"create_room","id":"c","room":")" + room_ + "\"}");
    out.send_text(R"({"type":"join","id":"j","room":")" + room_ + "\"}");
    return false;
  }

  wsload::Event on_message(std::string_view msg, wsload::Out&) override {
    wsload::Event e;
    if (msg.find(R"("type":"message")") != std::string_view::npos) {
      e.kind = wsload::Ev::Chat;
      e.chat = msg;
    } else if (msg.find(R"("id":"j")") != std::string_view::npos) {
      bool ok = msg.find(R"("ok":true)") != std::string_view::npos;
      e.kind = ok ? wsload::Ev::Ready : wsload::Ev::Fatal;
      if (!ok) e.error = "join refused: " + std::string(msg);
    } else if (msg.find(R"("ok":false)") != std::string_view::npos &&
               msg.find(R"("id":"c")") == std::string_view::npos) {
      e.kind = wsload::Ev::Fatal;  // a refused send (rate limit, ...) is a failed run
      e.error = "refused: " + std::string(msg);
    }
    return e;
  }

  void encode_chat(std::string_view body, std::string& out) override {
    out += R"({"type":"send","id":"s","room":")";
    out += room_;
    out += R"(","text":")";
    out += body;
    out += "\"}";
  }

 private:
  std::string room_;
};

class Parley final : public wsload::Dialect {
 public:
  explicit Parley(const wsload::Options& o)
      : password_(wsload::opt(o, "password", "benchpass1")),
        prefix_(wsload::opt(o, "prefix", "u")),
        conns_per_user_(std::max(1, std::stoi(wsload::opt(o, "conns_per_user", "1")))) {}

  std::string target(const wsload::ConnInfo& c) const override {
    return "/ws?token=" + token_for(c);
  }

  std::unique_ptr<wsload::Session> session(const wsload::ConnInfo& c) const override {
    return std::make_unique<ParleySession>(c.room_name);
  }

 private:
  std::string token_for(const wsload::ConnInfo& c) const {
    std::string user = prefix_ + std::to_string(c.index / conns_per_user_);
    std::lock_guard lock(mutex_);
    auto it = tokens_.find(user);
    if (it != tokens_.end()) return it->second;
    std::string creds = R"({"user":")" + user + R"(","password":")" + password_ + "\"}";
    std::string token = json_field(http_post(c.host, "/api/register", creds), "token");
    if (token.empty()) token = json_field(http_post(c.host, "/api/login", creds), "token");
    tokens_[user] = token;
    return token;
  }

  std::string password_;
  std::string prefix_;
  int conns_per_user_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::string> tokens_;
};

}  // namespace

WSLOAD_REGISTER_DIALECT("parley",
                        "parley PROTOCOL.md v1 (opt: password=, prefix=, conns_per_user=)",
                        [](const wsload::Options& o) { return std::make_unique<Parley>(o); });

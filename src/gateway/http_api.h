#pragma once
// The HTTP side of the protocol (accounts, history, health, metrics, the web page), free of
// any HTTP library: the transport adapter turns its requests into HttpRequest and back.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "app/services.h"
#include "app/use_cases/login_user.h"
#include "app/use_cases/read_history.h"
#include "app/use_cases/register_user.h"

namespace parley {

struct HttpRequest {
  std::string method;
  std::string target;         // origin form: path and query
  std::string authorization;  // the Authorization header, if any
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// What `GET /api/rooms/<room>/messages?before=&limit=` asks for. The ranges of `before` and
/// `limit` are ReadHistory's to check, as for the WebSocket op.
struct HistoryQuery {
  std::string room;               // percent-decoded from the path, a valid room name
  std::optional<int64_t> before;  // absent (or empty): the newest
  std::optional<int64_t> limit;   // absent (or empty): the default
};

/// Reads a HistoryQuery from a request target; pure, so it is unit-tested and fuzzed on its own.
/// `bad_request` for a malformed target or a parameter that is not a decimal integer;
/// `not_found` for a target that is not this endpoint or a room name no room can have.
Result<HistoryQuery> parse_history_target(std::string_view target);

class HttpApi {
 public:
  explicit HttpApi(Services& services)
      : s_(services), register_(services), login_(services), history_(services) {}

  /// Answers @p req; @p done may run on another thread.
  void handle(const HttpRequest& req, std::function<void(HttpResponse)> done);

  /// The token from `Authorization: Bearer <token>`, empty if absent.
  static std::string bearer_token(const std::string& authorization);

 private:
  void credentials(const HttpRequest& req, bool is_register,
                   std::function<void(HttpResponse)> done);
  void messages(const HttpRequest& req, std::function<void(HttpResponse)> done);
  void readyz(std::function<void(HttpResponse)> done);

  Services& s_;
  // Password hashing is deliberately slow: a flood of register/login requests is refused (429)
  // beyond this many in progress instead of queueing without bound.
  static constexpr int kMaxCredentialChecks = 64;
  std::shared_ptr<std::atomic<int>> credential_checks_ = std::make_shared<std::atomic<int>>(0);
  RegisterUser register_;
  LoginUser login_;
  ReadHistory history_;
};

/// The browser client (src/web/index.html, embedded at build time).
extern const char* const kWebPage;
/// The JavaScript client library (clients/js/parley.mjs, embedded at build time).
extern const char* const kClientLibrary;
/// Prometheus text exposition of the process counters.
std::string metrics_text();
/// The histograms and per-partition gauges of metrics_text (metrics_histograms.cpp).
void append_histograms(std::string& out);

}  // namespace parley

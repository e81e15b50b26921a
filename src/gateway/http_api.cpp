#include "gateway/http_api.h"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <sstream>

#include "app/metrics.h"
#include "domain/names.h"
#include "gateway/codec.h"

namespace parley {
namespace json = boost::json;

namespace {

HttpResponse error_response(const Error& e) {
  return HttpResponse{http_status(e.code), "application/json", codec::http_error_body(e)};
}

HttpResponse json_response(int status, const json::object& o) {
  return HttpResponse{status, "application/json", json::serialize(o)};
}

// Parses a decimal integer query parameter; nullopt if absent or empty.
Result<std::optional<int64_t>> int_param(const boost::urls::url_view& url, std::string_view key) {
  auto it = url.params().find(key);
  if (it == url.params().end() || (*it).value.empty()) return std::optional<int64_t>();
  const std::string& v = (*it).value;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return make_error(Errc::bad_request, std::string(key) + " must be an integer");
  }
  return std::optional<int64_t>(n);
}

}  // namespace

Result<HistoryQuery> parse_history_target(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return make_error(Errc::bad_request, "malformed request target");
  boost::urls::url_view url = *parsed;
  std::vector<std::string> segs;
  for (auto seg : url.segments()) segs.push_back(seg);
  if (segs.size() != 4 || segs[0] != "api" || segs[1] != "rooms" || segs[3] != "messages") {
    return make_error(Errc::not_found, "no such endpoint: " + std::string(url.path()));
  }
  auto before = int_param(url, "before");
  if (!before) return before.error();
  auto limit = int_param(url, "limit");
  if (!limit) return limit.error();
  // No room of another name can exist (the directory would answer the same).
  if (!valid_any_room_name(segs[2])) return make_error(Errc::not_found, "no such room: " + segs[2]);
  return HistoryQuery{std::move(segs[2]), *before, *limit};
}

std::string HttpApi::bearer_token(const std::string& authorization) {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() > prefix.size() &&
      std::equal(prefix.begin(), prefix.end(), authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return authorization.substr(prefix.size());
  }
  return {};
}

void HttpApi::handle(const HttpRequest& req, std::function<void(HttpResponse)> done) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed)
    return done(error_response(make_error(Errc::bad_request, "malformed request target")));
  boost::urls::url_view url = *parsed;
  std::vector<std::string> segs;
  for (auto seg : url.segments()) segs.push_back(seg);
  auto method_not_allowed = [&] {
    done(HttpResponse{405, "application/json",
                      codec::http_error_body(make_error(Errc::bad_request, "method not allowed"))});
  };
  std::string path = url.path();

  if (path == "/" || path == "/index.html") {
    if (req.method != "GET" && req.method != "HEAD") return method_not_allowed();
    return done(HttpResponse{200, "text/html; charset=utf-8", kWebPage});
  }
  if (path == "/parley.mjs") {
    if (req.method != "GET" && req.method != "HEAD") return method_not_allowed();
    return done(HttpResponse{200, "text/javascript; charset=utf-8", kClientLibrary});
  }
  if (path == "/healthz") return done(json_response(200, {{"status", "ok"}}));
  if (path == "/readyz") return readyz(std::move(done));
  if (path == "/metrics")
    return done(HttpResponse{200, "text/plain; version=0.0.4", metrics_text()});
  if (path == "/api/register" || path == "/api/login") {
    if (req.method != "POST") return method_not_allowed();
    return credentials(req, path == "/api/register", std::move(done));
  }
  if (segs.size() == 4 && segs[0] == "api" && segs[1] == "rooms" && segs[3] == "messages") {
    if (req.method != "GET") return method_not_allowed();
    return messages(req, std::move(done));
  }
  done(error_response(make_error(Errc::not_found, "no such endpoint: " + path)));
}

void HttpApi::credentials(const HttpRequest& req, bool is_register,
                          std::function<void(HttpResponse)> done) {
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    return done(error_response(make_error(Errc::bad_request, "body must be a JSON object")));
  }
  auto user = codec::required_string(v.as_object(), "user");
  if (!user) return done(error_response(user.error()));
  auto password = codec::required_string(v.as_object(), "password");
  if (!password) return done(error_response(password.error()));
  if (credential_checks_->fetch_add(1) >= kMaxCredentialChecks) {
    credential_checks_->fetch_sub(1);
    return done(error_response(make_error(Errc::rate_limited, "too many logins in progress")));
  }
  auto reply = [done, checks = credential_checks_, status = is_register ? 201 : 200](auto r) {
    checks->fetch_sub(1);
    if (!r) return done(error_response(r.error()));
    done(json_response(status, {{"token", r->token}}));
  };
  if (is_register) {
    register_.handle({*user, *password}, reply);
  } else {
    login_.handle({*user, *password}, reply);
  }
}

void HttpApi::messages(const HttpRequest& req, std::function<void(HttpResponse)> done) {
  auto user = s_.tokens->verify(bearer_token(req.authorization), s_.clock->now_ms());
  if (!user) return done(error_response(user.error()));
  auto query = parse_history_target(req.target);
  if (!query) return done(error_response(query.error()));
  const std::string& room = query->room;
  history_.handle({*user, room, query->before, query->limit}, [done, room](Result<Page> page) {
    if (!page) return done(error_response(page.error()));
    json::array messages;
    for (const auto& m : page->messages) messages.push_back(codec::message_object(m));
    done(json_response(
        200, {{"room", room}, {"messages", std::move(messages)}, {"has_more", page->has_more}}));
  });
}

void HttpApi::readyz(std::function<void(HttpResponse)> done) {
  if (s_.readiness) {
    Status st = s_.readiness();
    if (!st) return done(error_response(st.error()));
    return done(json_response(200, {{"status", "ready"}}));
  }
  // Ready when the storage answers a read.
  s_.log->head("", [done](Result<int64_t> r) {
    if (!r) return done(error_response(make_error(Errc::unavailable, "storage unreachable")));
    done(json_response(200, {{"status", "ready"}}));
  });
}

std::string metrics_text() {
  const Metrics& m = Metrics::global();
  std::ostringstream out;
  auto counter = [&](const char* name, const char* help, auto value, const char* type = "counter") {
    out << "# HELP parley_" << name << ' ' << help << "\n# TYPE parley_" << name << ' ' << type
        << "\nparley_" << name << ' ' << value << '\n';
  };
  counter("connections_open", "WebSocket connections open now.", m.connections_open.load(),
          "gauge");
  counter("commands_inflight", "Commands admitted and not answered yet.",
          m.commands_inflight.load(), "gauge");
  counter("results_kept", "Results kept for sessions that are not connected.",
          m.results_kept.load(), "gauge");
  counter("connections_total", "WebSocket connections accepted.", m.connections_total.load());
  counter("commands_total", "Commands received.", m.commands_total.load());
  counter("command_errors_total", "Commands answered with an error.",
          m.command_errors_total.load());
  counter("messages_appended_total", "Messages made durable.", m.messages_appended_total.load());
  counter("commits_total", "Storage transactions (group commits).", m.commits_total.load());
  counter("deliveries_total", "Live message and event frames delivered.",
          m.deliveries_total.load());
  counter("slow_consumer_closes_total", "Connections closed with 1008 for not reading.",
          m.slow_consumer_closes_total.load());
  counter("dead_letters_total", "Expired commands recorded as dead letters.",
          m.dead_letters_total.load());
  counter("rate_limited_total", "Commands refused with rate_limited.", m.rate_limited_total.load());
  counter("log_partitions_read", "Cluster: partitions of the log this instance reads.",
          m.log_partitions_read.load(), "gauge");
  counter("log_records_folded_total", "Cluster: records of the log this instance folded.",
          m.log_records_folded_total.load());
  out << "# HELP parley_records_rejected_total Kafka records dropped for want of a valid MAC.\n"
         "# TYPE parley_records_rejected_total counter\n";
  for (size_t i = 0; i < Metrics::kRecordTopics.size(); ++i) {
    out << "parley_records_rejected_total{topic=\"" << Metrics::kRecordTopics[i] << "\"} "
        << m.records_rejected_total[i].load() << '\n';
  }
  counter("connects_refused_total",
          "WebSocket upgrades refused with 503 by --max-connects-per-sec.",
          m.connects_refused_total.load());
  counter("room_subscriptions", "Rooms joined by the connections open now.",
          m.room_subscriptions.load(), "gauge");
  std::string text = out.str();
  append_histograms(text);
  return text;
}

}  // namespace parley

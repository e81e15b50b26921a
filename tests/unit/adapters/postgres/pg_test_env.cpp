#include "unit/adapters/postgres/pg_test_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>

#include "adapters/postgres/pg_connection.h"

namespace parley::pgtest {
namespace {

// Runs scripts/postgres with @p args; @return its stdout. Throws on a non-zero exit.
std::string script(const std::string& args) {
  std::string cmd = std::string(PARLEY_SOURCE_DIR) + "/scripts/postgres " + args;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int rc = ::pclose(f);
  if (rc != 0) throw std::runtime_error("`" + cmd + "` failed (status " + std::to_string(rc) + ")");
  return out;
}

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string random_hex(size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    auto b = rng() & 0xff;
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::unique_ptr<Server> g_server;
std::string g_conninfo;

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (const char* env = std::getenv("PARLEY_TEST_POSTGRES"); env && *env) {
      g_conninfo = env;
      return;
    }
    try {
      g_server = std::make_unique<Server>();
      g_conninfo = g_server->conninfo();
    } catch (const std::exception& e) {
      GTEST_FAIL() << "cannot start PostgreSQL for the tests: " << e.what();
    }
  }
  void TearDown() override { g_server.reset(); }
};

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new PgEnvironment);

}  // namespace

Server::Server() {
  static std::atomic<int> counter{0};
  dir_ = "/tmp/parley-pgt-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  conninfo_ = last_line(script("start --dir " + dir_));
  if (conninfo_.find("port=") == std::string::npos) {
    throw std::runtime_error("no conninfo from scripts/postgres: " + conninfo_);
  }
}

Server::~Server() {
  try {
    script("stop --dir " + dir_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stopping PostgreSQL in %s: %s\n", dir_.c_str(), e.what());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Server::stop() {
  script("stop --dir " + dir_);
}

void Server::kill() {
  script("kill --dir " + dir_);
}

void Server::restart() {
  script("restart --dir " + dir_);
}

const std::string& admin_conninfo() {
  return g_conninfo;
}

std::string fresh_database(const std::string& admin) {
  std::string name = "t_" + random_hex(8);
  if (!exec_sql(admin, "CREATE DATABASE " + name)) return {};
  // A later keyword wins in a conninfo string.
  return admin + " dbname=" + name;
}

void drop_database(const std::string& conninfo, const std::string& admin) {
  auto at = conninfo.rfind("dbname=");
  if (at == std::string::npos) return;
  std::string name = conninfo.substr(at + 7);
  pg::Connection c(admin);
  (void)c.exec(("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").c_str());
}

bool exec_sql(const std::string& conninfo, const std::string& sql) {
  pg::Connection c(conninfo);
  auto r = c.exec(sql.c_str());
  if (!r) ADD_FAILURE() << sql << ": " << r.error().message;
  return r.ok();
}

int64_t query_int(const std::string& conninfo, const std::string& sql) {
  pg::Connection c(conninfo);
  auto r = c.exec(sql.c_str());
  if (!r) {
    ADD_FAILURE() << sql << ": " << r.error().message;
    return -1;
  }
  if (r->rows() != 1) {
    ADD_FAILURE() << sql << ": " << r->rows() << " rows";
    return -1;
  }
  return r->int64(0, 0);
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace parley::pgtest

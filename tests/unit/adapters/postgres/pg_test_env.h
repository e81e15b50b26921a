#pragma once
// The PostgreSQL the adapter's tests run against: $PARLEY_TEST_POSTGRES (a conninfo) if set,
// else a throwaway server that scripts/postgres starts for this test binary and stops at its
// end. Every test then works in a database of its own (fresh_database), so tests are
// independent and leave nothing behind for the next.
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace parley::pgtest {

// A server of scripts/postgres in a directory of its own. Throws if the script fails.
class Server {
 public:
  Server();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  void stop();     // pg_ctl stop -m fast
  void kill();     // SIGKILL to the postmaster and its backends (a crash)
  void restart();  // starts the same data directory again

 private:
  std::string dir_;
  std::string conninfo_;
};

/// The conninfo of the server of this test binary (database `parley` or the given one).
const std::string& admin_conninfo();

/// Creates a database t_<random> on the server of @p admin and returns its conninfo.
std::string fresh_database(const std::string& admin = admin_conninfo());
/// Drops a database made by fresh_database (best effort).
void drop_database(const std::string& conninfo, const std::string& admin = admin_conninfo());

/// Runs @p sql on @p conninfo; fails the test (and returns false) if it fails.
bool exec_sql(const std::string& conninfo, const std::string& sql);
/// The first column of the first row of @p sql as an integer; -1 (and a test failure) on error.
int64_t query_int(const std::string& conninfo, const std::string& sql);

/// Calls @p call with a callback and waits (at most 15 s) for the value handed to it.
template <typename T, typename Call>
T await(Call call) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  call([p](T v) { p->set_value(std::move(v)); });
  if (f.wait_for(std::chrono::seconds(15)) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within 15 s";
    f.wait();  // a missing answer is a bug: better a hung test than a dangling promise
  }
  return f.get();
}

/// Polls @p cond every 50 ms for up to @p limit; true once it holds.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit);

}  // namespace parley::pgtest

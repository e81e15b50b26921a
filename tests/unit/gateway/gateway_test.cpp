// The gateway in-process: real workers (io_contexts), the real admission, subscriptions,
// fan-out and session registry, over fakes of the ports and an in-memory FrameSink. The
// join / replay / go-live state machine is driven by a log that commits new messages in the
// middle of the join's head read and replay reads: whatever the interleaving, a client must
// receive every seq after its `since` exactly once and in order.
#include "gateway/gateway.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <thread>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// What a connection was sent and how it was closed. Written on the worker, read by the test.
class RecordingSink final : public FrameSink {
 public:
  void send(Frame frame) override {
    std::lock_guard lock(mutex_);
    frames_.push_back(json::parse(*frame).as_object());
    cv_.notify_all();
  }
  size_t queued_bytes() const override { return 0; }
  void close(uint16_t code, std::string) override {
    std::lock_guard lock(mutex_);
    close_code_ = code;
    cv_.notify_all();
  }

  std::vector<json::object> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::optional<uint16_t> close_code() const {
    std::lock_guard lock(mutex_);
    return close_code_;
  }
  /// Waits until @p pred holds over the frames so far; false after @p timeout.
  template <typename Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(frames_); });
  }
  bool wait_seqs(const std::string& room, size_t n) {
    return wait_for([&](const auto& fs) { return seqs_of(fs, room).size() >= n; });
  }
  bool wait_result(const std::string& id) {
    return wait_for([&](const auto& fs) { return result_of(fs, id).has_value(); });
  }
  std::vector<int64_t> seqs(const std::string& room) const { return seqs_of(frames(), room); }
  std::optional<json::object> result(const std::string& id) const {
    return result_of(frames(), id);
  }
  /// The seqs of the `message` frames of @p room, in arrival order.
  static std::vector<int64_t> seqs_of(const std::vector<json::object>& frames,
                                      const std::string& room) {
    std::vector<int64_t> out;
    for (const auto& f : frames) {
      if (f.at("type") == "message" && f.at("room") == room.c_str()) {
        out.push_back(f.at("seq").as_int64());
      }
    }
    return out;
  }
  static std::optional<json::object> result_of(const std::vector<json::object>& frames,
                                               const std::string& id) {
    for (const auto& f : frames) {
      if (f.at("type") == "result" && f.at("id") == id.c_str()) return f;
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<json::object> frames_;
  std::optional<uint16_t> close_code_;
};

// A message log (and its history) that commits more messages at the worst moments: right after
// the join's head is read, and before each replay page is read. Commits go through the real
// fan-out.
class InterleavingLog final : public MessageLog, public HistoryStore {
 public:
  explicit InterleavingLog(std::shared_ptr<fakes::FakeMessageLog> inner)
      : inner_(std::move(inner)) {}

  int commits_after_head = 0;   // messages committed once the head is read
  int commits_before_page = 0;  // messages committed before each replay page is read
  std::string room = "lobby";
  bool hold_appends = false;  // under mutex_
  bool hold_reads = false;    // page reads wait for release_one_read(); under mutex_
  // Commits reach readers before the fan-out, as when the storage reader thread sees a commit
  // before the writer thread's fan-out post reaches the worker. Under mutex_.
  bool defer_fan_out = false;

  void commit(int n) {
    for (int i = 0; i < n; ++i) {
      inner_->append({room, "carol", "interleaved", "", nullptr}, [](Result<Appended>) {});
    }
  }
  void append(AppendRequest r, std::function<void(Result<Appended>)> done) override {
    {
      std::lock_guard lock(mutex_);
      if (hold_appends) {
        held_.emplace_back(std::move(r), std::move(done));
        cv_.notify_all();
        return;
      }
    }
    inner_->append(std::move(r), std::move(done));
  }
  void read(std::function<void()> read) {
    {
      std::lock_guard lock(mutex_);
      if (hold_reads) return held_reads_.push_back(std::move(read));
    }
    read();
  }
  bool wait_held(size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return held_.size() >= n; });
  }
  /// Applies the held appends, in order, and stops holding.
  void release() {
    std::vector<std::pair<AppendRequest, std::function<void(Result<Appended>)>>> held;
    {
      std::lock_guard lock(mutex_);
      hold_appends = false;
      held.swap(held_);
    }
    for (auto& [r, done] : held) inner_->append(std::move(r), std::move(done));
  }
  void read_after(std::string r, int64_t after, int limit,
                  std::function<void(Result<Page>)> done) override {
    commit(commits_before_page);
    read([=, this, done = std::move(done)] { inner_->read_after(r, after, limit, done); });
  }
  void read_before(std::string r, int64_t before, int limit,
                   std::function<void(Result<Page>)> done) override {
    read([=, this, done = std::move(done)] { inner_->read_before(r, before, limit, done); });
  }
  /// Page reads in progress while hold_reads is set.
  size_t reads_held() {
    std::lock_guard lock(mutex_);
    return held_reads_.size();
  }
  /// Answers the oldest read held; false if there was none.
  bool release_one_read() {
    std::function<void()> read;
    {
      std::lock_guard lock(mutex_);
      if (held_reads_.empty()) return false;
      read = std::move(held_reads_.front());
      held_reads_.erase(held_reads_.begin());
    }
    read();
    return true;
  }
  void head(std::string r, std::function<void(Result<int64_t>)> done) override {
    inner_->head(std::move(r), [this, done = std::move(done)](Result<int64_t> head) {
      commit(commits_after_head);
      done(std::move(head));
    });
  }
  void on_committed(std::function<void(std::vector<Message>)> sink) override {
    sink_ = std::move(sink);
    inner_->on_committed([this](std::vector<Message> committed) {
      {
        std::lock_guard lock(mutex_);
        if (defer_fan_out) {
          deferred_.push_back(std::move(committed));
          return;
        }
      }
      sink_(std::move(committed));
    });
  }
  /// Hands the deferred commits to the fan-out, in order, and stops deferring.
  void flush_fan_out() {
    std::vector<std::vector<Message>> deferred;
    {
      std::lock_guard lock(mutex_);
      defer_fan_out = false;
      deferred.swap(deferred_);
    }
    for (auto& batch : deferred) sink_(std::move(batch));
  }
  std::string epoch() const override { return inner_->epoch(); }

 private:
  std::shared_ptr<fakes::FakeMessageLog> inner_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<AppendRequest, std::function<void(Result<Appended>)>>> held_;
  std::function<void(std::vector<Message>)> sink_;
  std::vector<std::vector<Message>> deferred_;
  std::vector<std::function<void()>> held_reads_;
};

class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest() : GatewayTest(Limits{}) {}
  explicit GatewayTest(Limits limits) : f(limits) {
    f.services.limits.sends_per_second = 1e6;
    f.services.limits.send_burst = 1e6;
    log = std::make_shared<InterleavingLog>(f.log);
    f.services.log = log;
    f.services.history = log;
    f.add_room("lobby", RoomKind::public_room);
    f.add_room("secret", RoomKind::private_room, {"alice"});
    gateway = std::make_unique<Gateway>(f.services, pool, "test");
    gateway->start();
    pool.start();
  }
  ~GatewayTest() override { pool.stop(); }

  struct Conn {
    std::shared_ptr<RecordingSink> sink;
    std::shared_ptr<Client> client;
  };

  Conn open(const std::string& user, const std::string& session) {
    Conn c{std::make_shared<RecordingSink>(), nullptr};
    std::promise<std::shared_ptr<Client>> opened;
    pool.post(0, [&] { opened.set_value(gateway->open(0, user, session, c.sink)); });
    c.client = opened.get_future().get();
    return c;
  }
  void frame(const Conn& c, const json::object& command) {
    pool.post(0, [this, client = c.client, text = json::serialize(command)] {
      gateway->on_frame(client, text);
    });
  }
  void drop(const Conn& c) {
    std::promise<void> done;
    pool.post(0, [&] {
      gateway->on_close(c.client);
      done.set_value();
    });
    done.get_future().wait();
  }
  // Answers the held page reads one by one until @p done holds, checking that never more than
  // @p max_held are in progress; false after 5 s.
  template <typename Done>
  bool release_reads_until(Done done, size_t max_held) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (!log->release_one_read()) std::this_thread::sleep_for(1ms);
      EXPECT_LE(log->reads_held(), max_held);
    }
    return true;
  }
  // Sends @p n messages to the log directly (as other users on other connections would).
  void fill(int n) { log->commit(n); }
  static std::vector<int64_t> range(int64_t from, int64_t to) {
    std::vector<int64_t> v;
    for (int64_t s = from; s <= to; ++s) v.push_back(s);
    return v;
  }

  fakes::FakeServices f;
  std::shared_ptr<InterleavingLog> log;
  WorkerPool pool{1};
  std::unique_ptr<Gateway> gateway;
};

TEST_F(GatewayTest, WelcomeComesFirst) {
  auto a = open("alice", "alice-session-1");
  ASSERT_TRUE(a.sink->wait_for([](auto& fs) { return !fs.empty(); }));
  auto first = a.sink->frames().front();
  EXPECT_EQ(first.at("type"), "welcome");
  EXPECT_EQ(first.at("session"), "alice-session-1");
  EXPECT_EQ(first.at("user"), "alice");
}

TEST_F(GatewayTest, JoinWithSinceReplaysThenGoesLiveWithNoGapAndNoDuplicate) {
  fill(100);
  log->commits_after_head = 7;  // committed after the head was read: held, then released
  auto b = open("bob", "bob-session-1");
  frame(b, {{"type", "join"}, {"id", "j"}, {"room", "lobby"}, {"since", 40}});
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 67));
  log->commits_after_head = 0;
  fill(5);  // live
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 72));
  std::this_thread::sleep_for(50ms);  // nothing more may come
  EXPECT_EQ(b.sink->seqs("lobby"), range(41, 112));
  auto r = b.sink->result("j");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("head"), 100);
}

TEST_F(GatewayTest, ReplayOverManyPagesWithCommitsBeforeEveryPageRead) {
  fill(1200);  // more than two replay pages
  log->commits_before_page = 30;
  auto b = open("bob", "bob-session-2");
  frame(b, {{"type", "join"}, {"id", "j"}, {"room", "lobby"}, {"since", 0}});
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 1200));
  log->commits_before_page = 0;
  std::this_thread::sleep_for(50ms);
  auto got = b.sink->seqs("lobby");
  ASSERT_GE(got.size(), 1200u);
  EXPECT_EQ(got, range(1, static_cast<int64_t>(got.size())));
  EXPECT_EQ(static_cast<int64_t>(got.size()),
            static_cast<int64_t>(f.log->messages("lobby").size()));
}

TEST_F(GatewayTest, LiveFramesOfMessagesTheReplayAlreadySentAreDropped) {
  fill(50);
  log->defer_fan_out = true;     // set before any worker appends; the test thread owns it here
  log->commits_before_page = 5;  // 51..55: read by the replay before their fan-out arrives
  auto b = open("bob", "bob-session-5");
  frame(b, {{"type", "join"}, {"id", "j"}, {"room", "lobby"}, {"since", 0}});
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 55));
  log->commits_before_page = 0;
  log->flush_fan_out();  // 51..55 arrive live, after the replay went live at 55
  fill(2);               // 56, 57
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 57));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(b.sink->seqs("lobby"), range(1, 57));
}

// The fan-out skips the workers with no subscriber of a room (RoomInterest): a join racing a
// stream of commits must still get every message past the head it was answered, live.
TEST_F(GatewayTest, AJoinRacingCommitsGetsEveryMessagePastItsHead) {
  auto b = open("bob", "bob-session-race");
  // Commits flow before, during and after the join: until its result is out, then 500 more.
  int64_t total = 0;
  std::thread committer([&] {
    while (!b.sink->result("j")) {
      fill(1);
      ++total;
    }
    fill(500);
    total += 500;
  });
  frame(b, {{"type", "join"}, {"id", "j"}, {"room", "lobby"}});
  committer.join();  // total is the committer's until here
  auto r = b.sink->result("j");
  ASSERT_TRUE(r && r->contains("head"));
  int64_t head = r->at("head").as_int64();
  ASSERT_LT(head, total);
  ASSERT_TRUE(b.sink->wait_seqs("lobby", static_cast<size_t>(total - head)));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(b.sink->seqs("lobby"), range(head + 1, total));
}

TEST_F(GatewayTest, ReJoinWithoutSinceContinuesWhereLiveDeliveryStood) {
  auto b = open("bob", "bob-session-3");
  frame(b, {{"type", "join"}, {"id", "j1"}, {"room", "lobby"}});
  ASSERT_TRUE(b.sink->wait_result("j1"));
  fill(10);
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 10));
  log->commits_after_head = 3;
  frame(b, {{"type", "join"}, {"id", "j2"}, {"room", "lobby"}});
  ASSERT_TRUE(b.sink->wait_seqs("lobby", 13));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(b.sink->seqs("lobby"), range(1, 13));
}

TEST_F(GatewayTest, LeaveStopsDeliveryAndAForbiddenJoinSubscribesNothing) {
  auto b = open("bob", "bob-session-4");
  frame(b, {{"type", "join"}, {"id", "j"}, {"room", "secret"}});
  ASSERT_TRUE(b.sink->wait_result("j"));
  EXPECT_EQ(b.sink->result("j")->at("error").at("code"), "forbidden");
  frame(b, {{"type", "join"}, {"id", "j2"}, {"room", "lobby"}});
  frame(b, {{"type", "leave"}, {"id", "l"}, {"room", "lobby"}});
  ASSERT_TRUE(b.sink->wait_result("l"));
  fill(3);
  log->room = "secret";
  fill(3);
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(b.sink->seqs("lobby").empty());
  EXPECT_TRUE(b.sink->seqs("secret").empty());
}

TEST_F(GatewayTest, AConnectionHasAtMostFourReadsInFlightTheRestWaitInOrder) {
  fill(10);
  log->hold_reads = true;  // no worker reads yet: the test thread owns it here
  auto b = open("bob", "bob-session-6");
  for (int i = 0; i < 6; ++i) {
    frame(b, {{"type", "history"}, {"id", "h" + std::to_string(i)}, {"room", "lobby"}});
  }
  frame(b, {{"type", "ping"}, {"id", "after"}});  // starts in order: after the reads
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(log->reads_held(), 4u);
  EXPECT_FALSE(b.sink->result("after").has_value());
  ASSERT_TRUE(
      release_reads_until([&] { return b.sink->result("h5") && b.sink->result("after"); }, 4));
  std::vector<std::string> reads;
  for (const auto& f : b.sink->frames()) {
    if (f.at("type") == "result" && f.at("id") != "after") {
      reads.push_back(std::string(f.at("id").as_string()));
    }
  }
  EXPECT_EQ(reads, (std::vector<std::string>{"h0", "h1", "h2", "h3", "h4", "h5"}));
}

TEST_F(GatewayTest, ReplaysOfOneConnectionRunOneAtATime) {
  for (const char* room : {"r1", "r2", "r3"}) {
    f.add_room(room, RoomKind::public_room);
    log->room = room;
    fill(20);
  }
  log->hold_reads = true;
  auto b = open("bob", "bob-session-7");
  for (const char* room : {"r1", "r2", "r3"}) {
    frame(b, {{"type", "join"}, {"id", std::string("j-") + room}, {"room", room}, {"since", 0}});
  }
  ASSERT_TRUE(b.sink->wait_result("j-r3"));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(log->reads_held(), 1u) << "replays of one connection ran side by side";
  ASSERT_TRUE(release_reads_until(
      [&] {
        return b.sink->seqs("r1").size() + b.sink->seqs("r2").size() + b.sink->seqs("r3").size() >=
               60;
      },
      1));
  EXPECT_EQ(b.sink->seqs("r1"), range(1, 20));
  EXPECT_EQ(b.sink->seqs("r2"), range(1, 20));
  EXPECT_EQ(b.sink->seqs("r3"), range(1, 20));
}

TEST_F(GatewayTest, FramesHeldByAllTheJoinsOfAConnectionAreBoundedTogether) {
  for (const char* room : {"r1", "r2"}) {
    f.add_room(room, RoomKind::public_room);
    log->room = room;
    fill(1);  // something to replay: the joins stay holding while their page reads wait
  }
  log->hold_reads = true;
  auto b = open("bob", "bob-session-8");
  frame(b, {{"type", "join"}, {"id", "j1"}, {"room", "r1"}, {"since", 0}});
  frame(b, {{"type", "join"}, {"id", "j2"}, {"room", "r2"}, {"since", 0}});
  ASSERT_TRUE(b.sink->wait_result("j2"));
  // Each message frame is about 120 bytes: 8 per room fit under the bound alone, 16 do not.
  f.services.limits.send_queue_bytes = 1500;
  for (const char* room : {"r1", "r2"}) {
    log->room = room;
    fill(8);
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(b.sink->close_code(), std::optional<uint16_t>(kClosePolicy))
      << "the joins of one connection held more than its send queue";
  log->hold_reads = false;
  while (log->release_one_read()) {
  }
}

TEST_F(GatewayTest, AnotherUsersConnectionWithTheSameSessionIdTouchesNothing) {
  auto a = open("alice", "shared-session");
  auto m = open("mallory", "shared-session");
  ASSERT_TRUE(m.sink->wait_for([](auto& fs) { return !fs.empty(); }));
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(a.sink->close_code().has_value()) << "alice was taken over by mallory";
  drop(a);
  auto a2 = open("alice", "shared-session");
  auto m2 = open("mallory", "shared-session");
  ASSERT_TRUE(m2.sink->wait_for([](auto& fs) { return !fs.empty(); }));
  std::this_thread::sleep_for(50ms);  // the takeover's close is posted after the welcome
  EXPECT_EQ(m.sink->close_code(), std::optional<uint16_t>(kCloseSessionTakenOver));
  EXPECT_FALSE(a2.sink->close_code().has_value());
  for (const auto& f : m2.sink->frames()) EXPECT_NE(f.at("type"), "result");
}

TEST_F(GatewayTest, AResultOfADroppedConnectionReachesTheSameSessionOnly) {
  auto a = open("alice", "alice-session-9");
  log->hold_appends = true;  // the send is surely in flight when its connection drops
  frame(a, {{"type", "send"}, {"id", "s1"}, {"room", "secret"}, {"text", "for alice only"}});
  ASSERT_TRUE(log->wait_held(1));
  drop(a);
  auto other = open("mallory", "alice-session-9");
  auto back = open("alice", "alice-session-9");
  log->release();
  ASSERT_TRUE(back.sink->wait_result("s1"));
  EXPECT_EQ(back.sink->result("s1")->at("ok"), true);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(other.sink->result("s1").has_value());
  EXPECT_FALSE(a.sink->result("s1").has_value());
}

}  // namespace
}  // namespace parley

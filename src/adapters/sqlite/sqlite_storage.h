#pragma once
// Embedded storage: one SQLite database (WAL) behind every driven port of the single-node mode.
//
// Writes go to one writer thread that drains its whole queue into one transaction (group
// commit): N concurrent sends cost one fsync, and each sender is answered after that commit.
// Reads go to a reader thread with its own connection (WAL readers never block the writer).
// Neither thread ever runs on an event loop.
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/sqlite/sqlite_db.h"
#include "app/ports/clock.h"
#include "app/ports/dead_letters.h"
#include "app/ports/message_log.h"
#include "app/ports/room_store.h"
#include "app/ports/user_store.h"
#include "runtime/task_thread.h"

namespace parley {

struct SqliteOptions {
  std::string path;              // the database file
  bool synchronous_full = true;  // fsync the WAL at every commit (durable across power loss)
  size_t max_batch = 4096;       // most commands in one transaction
};

class SqliteStorage final : public MessageLog,
                            public RoomStore,
                            public UserStore,
                            public DeadLetters {
 public:
  /// Opens and migrates the database; throws if it cannot.
  SqliteStorage(SqliteOptions options, ClockPtr clock);
  ~SqliteStorage() override;

  void start();
  /// Finishes queued work, then stops both threads.
  void stop();

  // MessageLog
  void append(AppendRequest request, std::function<void(Result<Appended>)> done) override;
  void read_after(std::string room, int64_t after, int limit,
                  std::function<void(Result<Page>)> done) override;
  void read_before(std::string room, int64_t before, int limit,
                   std::function<void(Result<Page>)> done) override;
  void head(std::string room, std::function<void(Result<int64_t>)> done) override;
  void on_committed(std::function<void(std::vector<Message>)> sink) override;
  std::string epoch() const override { return epoch_; }

  // RoomStore
  std::vector<Room> load_rooms() override;
  void create_room(Room room, bool if_absent, std::function<void(Status)> done) override;
  void add_member(std::string room, std::string user, std::function<void(Status)> done) override;

  // UserStore
  void create_user(std::string name, std::string password_hash,
                   std::function<void(Status)> done) override;
  void find_user(std::string name,
                 std::function<void(Result<std::optional<std::string>>)> done) override;

  // DeadLetters
  void record(DeadLetter letter) override;

 private:
  // Work done inside the group transaction. `ok` false: the job's own changes are rolled back.
  // `finish(committed)` runs after the transaction ended, on the writer thread.
  struct Applied {
    bool ok = true;
    std::function<void(bool committed)> finish;
  };
  using WriteJob = std::function<Applied(sqlite::Db&)>;

  void submit(WriteJob job);
  void writer_loop();
  void run_batch(std::vector<WriteJob>& jobs);
  Result<int64_t> room_head(sqlite::Db& db, const std::string& room);
  Applied apply_append(sqlite::Db& db, AppendRequest& req,
                       std::function<void(Result<Appended>)>& done);
  std::string new_msg_id();
  Result<Page> read_page(const char* sql, const std::string& room, int64_t bound, int limit);

  SqliteOptions options_;
  ClockPtr clock_;
  sqlite::Db writer_db_;
  std::unique_ptr<sqlite::Db> reader_db_;  // opened once the writer made the file WAL
  std::string epoch_;
  std::function<void(std::vector<Message>)> sink_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<WriteJob> queue_;
  bool stopping_ = false;
  std::thread writer_;
  TaskThread reader_;

  // Writer-thread state.
  std::unordered_map<std::string, int64_t> heads_;  // room -> newest seq (cache)
  std::vector<Message> committed_;                  // messages of the batch in flight
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace parley

#pragma once
// Embedded storage: one SQLite database (WAL) behind every driven port of the single-node mode.
//
// Writes go to one writer thread that drains its whole queue into one transaction (group
// commit): N concurrent sends cost one fsync, and each sender is answered after that commit.
// A job is answered success only if the commit that holds it succeeded; if the batch fails
// anywhere (BEGIN, a savepoint, a statement that makes SQLite roll the whole transaction back,
// COMMIT), every job of the batch is answered with an error and nothing of it is published.
// Reads go to a reader thread with its own connection (WAL readers never block the writer).
// Both queues are bounded; a job that does not fit is answered `unavailable` at once.
// Neither thread ever runs on an event loop.
#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/sqlite/job_queue.h"
#include "adapters/sqlite/sqlite_db.h"
#include "app/ports/clock.h"
#include "app/ports/dead_letters.h"
#include "app/ports/history_store.h"
#include "app/ports/message_log.h"
#include "app/ports/room_store.h"
#include "app/ports/user_store.h"

namespace parley {

struct SqliteOptions {
  std::string path;              // the database file
  bool synchronous_full = true;  // fsync the WAL at every commit (durable across power loss)
  size_t max_batch = 4096;       // most commands in one transaction
  // Bounds of the jobs waiting for the writer and for the reader. Group commit drains the
  // writer's whole queue at every commit, so under normal load both stay far below these.
  size_t write_queue_max_jobs = 65536;
  size_t write_queue_max_bytes = size_t{64} << 20;
  size_t read_queue_max_jobs = 65536;
  size_t read_queue_max_bytes = size_t{64} << 20;
  // The SQLite VFS that opens the files; empty: the default. Tests inject faults through one.
  std::string vfs = {};
};

class SqliteStorage final : public MessageLog,
                            public HistoryStore,
                            public RoomStore,
                            public UserStore,
                            public DeadLetters {
 public:
  /// Opens and migrates the database; throws if it cannot.
  SqliteStorage(SqliteOptions options, ClockPtr clock);
  ~SqliteStorage() override;

  void start();
  /// Finishes queued work, then stops both threads. Later calls are answered `unavailable`.
  void stop();

  /// What waits for the writer and for the reader now (for tests and gauges).
  sqlite::QueueUsage write_queue() const { return writes_.usage(); }
  sqlite::QueueUsage read_queue() const { return reads_.usage(); }

  // MessageLog
  void append(AppendRequest request, std::function<void(Result<Appended>)> done) override;
  void head(std::string room, std::function<void(Result<int64_t>)> done) override;
  void on_committed(std::function<void(std::vector<Message>)> sink) override;
  std::string epoch() const override { return epoch_; }

  // HistoryStore
  void read_after(std::string room, int64_t after, int limit,
                  std::function<void(Result<Page>)> done) override;
  void read_before(std::string room, int64_t before, int limit,
                   std::function<void(Result<Page>)> done) override;

  // RoomStore
  std::vector<Room> load_rooms() override;
  void create_room(Room room, bool if_absent, DeadlinePtr deadline,
                   std::function<void(Status)> done) override;
  void add_member(std::string room, std::string user, std::string invited_by, DeadlinePtr deadline,
                  std::function<void(Status)> done) override;
  void on_change(std::function<void(const RoomChange&)> sink) override;

  // UserStore
  void create_user(std::string name, std::string password_hash,
                   std::function<void(Status)> done) override;
  void find_user(std::string name,
                 std::function<void(Result<std::optional<std::string>>)> done) override;

  // DeadLetters
  void record(DeadLetter letter) override;

 private:
  // What applying a job did, inside the group transaction. `ok` false: the job failed on its
  // own and its changes are rolled back to its savepoint; its answer is already decided.
  // `finish(outcome)` runs once the transaction ended, on the writer thread: `outcome` is Ok if
  // the batch committed, else the reason it did not (a job with `ok` true then answers that).
  struct Applied {
    bool ok = true;
    std::function<void(const Status& outcome)> finish;
  };
  // One queued write: apply() inside the transaction, or, if it never gets that far (queue
  // full, storage stopped, the transaction broke before its turn), fail(). Exactly one runs.
  class WriteJob {
   public:
    virtual ~WriteJob() = default;
    virtual Applied apply(sqlite::Db& db) = 0;
    virtual void fail(const Error& error) = 0;
  };
  // One queued read: run() on the reader connection, or fail() if it is never run.
  class ReadJob {
   public:
    virtual ~ReadJob() = default;
    virtual void run(sqlite::Db& db) = 0;
    virtual void fail(const Error& error) = 0;
  };
  template <typename Done, typename Fn>
  class FnWriteJob;
  template <typename Done, typename Fn>
  class FnReadJob;

  template <typename Done, typename Fn>
  void submit_write(size_t bytes, Done done, Fn apply);
  template <typename R, typename Fn>
  void submit_read(size_t bytes, std::function<void(R)> done, Fn read);
  Error refused(sqlite::Push why, const char* queue);

  void writer_loop();
  void reader_loop();
  void run_batch(std::vector<std::unique_ptr<WriteJob>>& jobs);
  Status begin_batch();
  Status apply_job(WriteJob& job, std::vector<std::function<void(const Status&)>>& finishes);
  void abandon_batch();
  Error write_failure(int rc, const char* what);
  Result<int64_t> room_head(sqlite::Db& db, const std::string& room);
  // In the writer, just before a change: false once claimed (or without a deadline).
  bool expired_before_applied(const DeadlinePtr& deadline) const;
  Applied apply_append(sqlite::Db& db, AppendRequest& req,
                       std::function<void(Result<Appended>)>& done);
  std::string new_msg_id();
  // @p done, preceded by the change feed when the job succeeds (on the writer thread, after
  // the commit: the directory knows the change before the caller hears of it).
  std::function<void(Status)> feed_then(RoomChange change, std::function<void(Status)> done);
  Result<Page> read_page(const char* sql, const std::string& room, int64_t bound, int limit);

  SqliteOptions options_;
  ClockPtr clock_;
  sqlite::Db writer_db_;
  std::unique_ptr<sqlite::Db> reader_db_;  // opened once the writer made the file WAL
  std::string epoch_;
  std::function<void(std::vector<Message>)> sink_;
  std::function<void(const RoomChange&)> room_sink_;

  sqlite::JobQueue<WriteJob> writes_;
  sqlite::JobQueue<ReadJob> reads_;
  std::thread writer_;
  std::thread reader_;

  // Refusals are counted and logged at most once a second: a flood must not flood the log.
  std::atomic<uint64_t> refused_{0};
  std::atomic<int64_t> refused_logged_at_{0};
  std::atomic<int64_t> failure_logged_at_{0};

  // Writer-thread state. Both describe the open transaction only; a batch that does not
  // commit clears them (see abandon_batch), so the next batch neither skips nor reuses a seq.
  std::unordered_map<std::string, int64_t> heads_;  // room -> newest seq (cache)
  std::vector<Message> committed_;                  // messages of the batch in flight
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace parley

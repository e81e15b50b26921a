#pragma once
// The cluster's durable state in PostgreSQL: accounts, dead letters, the persisted messages and
// rooms the persister folds out of the log, the log offsets that snapshot stands for, and the
// settings every instance must agree on (the token secret, the epoch).
//
// Asynchronous calls (users, dead letters, history pages) run on a bounded PgPool and answer on
// its worker threads; a job that does not fit is answered `unavailable` at once. Blocking calls
// (load_snapshots, persist, shared_setting) are for start-up and for the persister's own thread:
// they share one more connection, one call at a time.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "adapters/postgres/pg_connection.h"
#include "adapters/postgres/pg_pool.h"
#include "app/cluster/log_fold.h"
#include "app/ports/dead_letters.h"
#include "app/ports/user_store.h"
#include "domain/message.h"
#include "domain/result.h"
#include "domain/room.h"

namespace parley {

// A page of a room's history with the persisted log position it stands for: everything the
// log holds below persisted_next_offset in that partition is in PostgreSQL, so a reader may
// take the rest from the log's tail. Page and offset come from one snapshot.
struct PgPage {
  std::vector<Message> messages;  // oldest first
  bool has_more = false;
  int32_t partition = -1;  // the room's partition; -1 if the room is unknown and none was given
  int64_t persisted_next_offset = 0;  // log_offsets.next_offset of that partition; 0 if none
};

struct PersistedMessage {
  int32_t partition = 0;
  Message message;
};

struct CreatedRoom {
  int32_t partition = 0;
  Room room;  // with its members
};

struct SourcedDeadLetter {
  std::string source;  // "topic:partition:offset" (or an instance-made id); empty: none
  DeadLetter letter;
};

// A partition of topic T moved by a batch: from the offset PostgreSQL must still hold (the
// first the writer folded) to the next one after the batch. A compare-and-set, see persist().
struct OffsetAdvance {
  int32_t partition = 0;
  int64_t from = 0;
  int64_t to = 0;
};

// What the persister folded from a stretch of its partitions. Written in one transaction and
// idempotent: the same batch twice leaves the same rows.
struct PersistBatch {
  std::vector<PersistedMessage> messages;
  std::vector<CreatedRoom> created_rooms;
  std::vector<std::pair<std::string, std::string>> added_members;  // (room, user)
  std::vector<SourcedDeadLetter> dead_letters;
  std::vector<OffsetAdvance> offsets;  // at most one per partition

  bool empty() const {
    return messages.empty() && created_rooms.empty() && added_members.empty() &&
           dead_letters.empty() && offsets.empty();
  }
};

struct PgStoreOptions {
  std::string conninfo;
  std::string messages_topic;       // T: the topic whose offsets log_offsets holds
  pg::PgPoolOptions pool = {};      // its conninfo is taken from `conninfo`
  bool migrate = true;              // apply the schema migrations at construction
  int blocking_timeout_ms = 30000;  // deadline of one round trip of a blocking call
  int max_page = 1000;              // the largest page a read returns
};

class PgStore final : public UserStore, public DeadLetters {
 public:
  /// Connects, applies the migrations and starts the pool; throws if it cannot (start-up).
  explicit PgStore(PgStoreOptions options);
  ~PgStore() override;

  /// Finishes queued jobs and stops the pool; later async calls are answered `unavailable`.
  void stop();

  // UserStore
  void create_user(std::string name, std::string password_hash,
                   std::function<void(Status)> done) override;
  void find_user(std::string name,
                 std::function<void(Result<std::optional<std::string>>)> done) override;

  // DeadLetters: no source (several rows may say the same); failures are logged.
  void record(DeadLetter letter) override;
  /// Records @p letter once per non-empty @p source; @p done (may be null) gets the outcome.
  void record(DeadLetter letter, std::string source, std::function<void(Status)> done);

  /// Messages of @p room with seq > @p after_seq, oldest first, at most @p limit. With
  /// @p partition (the room's, computed from its name), the persisted offset is that
  /// partition's even if PostgreSQL does not know the room yet.
  void read_after(std::string room, int64_t after_seq, int limit,
                  std::function<void(Result<PgPage>)> done, int32_t partition = -1);
  /// The newest messages of @p room with seq < @p before_seq (0: the newest), oldest first.
  void read_before(std::string room, int64_t before_seq, int limit,
                   std::function<void(Result<PgPage>)> done, int32_t partition = -1);

  /// How far the persister has stored each partition of topic T (partition -> next offset).
  void persisted_offsets(std::function<void(Result<std::map<int32_t, int64_t>>)> done);

  /// Blocking. The fold state of @p partitions (empty: every partition that has rooms or an
  /// offset) from one REPEATABLE READ snapshot; a partition asked for but unknown comes back
  /// empty with next_offset 0. Window entries: seq > next_offset - @p window, oldest first.
  Result<std::vector<PartitionSnapshot>> load_snapshots(const std::vector<int32_t>& partitions,
                                                        int64_t window);

  /// Blocking. Writes @p batch in one transaction; on failure nothing is kept. `conflict`: some
  /// partition's offset is no longer the batch's `from` (another persister wrote it): the
  /// batch is stale, reload the partitions. Any other error: retry the same batch.
  Status persist(const PersistBatch& batch);

  /// Blocking. The value of setting @p key; stores make_value() first if there is none, so
  /// every instance ends up with the value of whichever stored first.
  Result<std::string> shared_setting(const std::string& key,
                                     const std::function<std::string()>& make_value);

  /// For /readyz: a `select 1` succeeded within the last few seconds.
  bool healthy() const { return pool_.healthy(); }
  pg::QueueUsage queue() const { return pool_.queue(); }
  pg::PgPool& pool() { return pool_; }

 private:
  template <typename T, typename Fn>
  Result<T> blocking(Fn fn);
  void read_page(bool after, std::string room, int64_t bound, int limit, int32_t partition,
                 std::function<void(Result<PgPage>)> done);

  PgStoreOptions options_;
  pg::PgPool pool_;
  std::mutex blocking_mutex_;
  pg::Connection blocking_;  // guarded by blocking_mutex_
};

// Used by the blocking calls of every file of PgStore.
template <typename T, typename Fn>
Result<T> PgStore::blocking(Fn fn) {
  std::lock_guard lock(blocking_mutex_);
  // A connection that died with a restarted server is noticed only when used: the call then
  // gets one more go on a fresh connection (every blocking call may be repeated).
  bool reused = blocking_.connected();
  Result<T> r = fn(blocking_);
  if (!r && reused && !blocking_.connected() && blocking_.last_failure_was_loss()) {
    r = fn(blocking_);
  }
  return r;
}

}  // namespace parley

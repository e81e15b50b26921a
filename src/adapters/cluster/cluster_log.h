#pragma once
// The cluster's message log and room catalog: Kafka is the log, PostgreSQL the history.
//
// Every change is a record produced to the messages topic, keyed by its room. An instance
// tails the partitions its clients use and folds each record with the same LogFold from the same
// snapshot, so each instance decides alone, and all decide the same (log_fold.h). The origin of
// a record answers its command when its own tail folds it: the result is then the cluster's
// decision (a duplicate, a refusal, an expiry), not just the broker's acknowledgement.
//
// A partition is read only once a command needs one of its rooms (a join, a send, a read, an
// access check to confirm): it is then loaded from PostgreSQL's snapshot at the persisted offset
// and folded from there up to the log's end, and the commands on it wait for that, in order
// (cluster_log_partitions.cpp). So an instance pays nothing for rooms none of its clients uses:
// the cluster's capacity grows with its instances (docs/scaling.md, "Capacity").
//
// History comes from PostgreSQL up to what the persister stored, and from Kafka itself past it.
// Which records past it were a room's messages (and not refusals, duplicates or expired sends)
// is known from the fold: it keeps each room's message offsets (tail_index_) until the
// persister passed them, so a page seeks straight to the offsets it needs (a pooled reader).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/kafka_range_reader.h"
#include "adapters/kafka/kafka_tail.h"
#include "adapters/postgres/pg_store.h"
#include "app/cluster/log_fold.h"
#include "app/ports/blocking_executor.h"
#include "app/ports/clock.h"
#include "app/ports/history_store.h"
#include "app/ports/message_log.h"
#include "app/ports/room_store.h"

namespace parley {

struct ClusterLogOptions {
  std::string origin;              // this process: instance name + a per-start nonce
  int64_t dedupe_window = 100000;  // offsets per partition a client_msg_id is remembered
  // A record whose delivery failed after it may have reached a broker: its outcome is unknown
  // until the fold sees it (or never does). Its command is answered `unavailable` after this.
  // So is a record the broker took but this instance's tail has not folded by then (the tail
  // is stuck): no command waits without bound.
  int64_t unknown_outcome_ms = 30000;
  // How often the sweeper looks at the deadlines: a record still in librdkafka's queue at its
  // deadline is purged (answered `timeout`) within this.
  int64_t sweep_interval_ms = 50;
  // Per room: message offsets past the persisted point kept for reads (8 bytes each). Past
  // the cap the oldest are dropped, and that stretch of the room is `unavailable` until the
  // persister stores it.
  size_t max_indexed_offsets = 1 << 21;
  // A `ttl_ms` command the log has not answered this long after its deadline (in flight, or
  // taken but not folded here yet) is answered `unavailable` with an unknown outcome: every ttl
  // answer comes within ttl + about a second (PROTOCOL.md).
  int64_t ttl_grace_ms = 700;
  // The tail's fetches: the broker answers once 16 KB wait or after this many ms, instead of
  // once per record. It adds at most this to a message's way across instances, and an instance
  // reading any partition makes 1000 / fetch_wait_ms fetches a second, idle or not
  // (docs/scaling.md, "Capacity", measures the trade).
  int fetch_wait_ms = 5;
};

class ClusterLog final : public MessageLog, public HistoryStore, public RoomStore {
 public:
  ClusterLog(ClusterLogOptions options, KafkaOptions kafka, std::shared_ptr<KafkaProducer> producer,
             std::shared_ptr<PgStore> store, ClockPtr clock, BlockingExecutorPtr readers);
  ~ClusterLog() override;

  /// Loads the room catalog from PostgreSQL (the directory's start; a partition's fold state is
  /// loaded when it is first read). Blocking; throws if PostgreSQL or Kafka cannot be reached
  /// (start-up).
  void load();
  /// Starts the tail (with no partition: they are added as commands need them). The sinks must
  /// be registered by then.
  void follow();
  void stop();

  /// The tail runs and can read every partition it follows.
  bool caught_up() const;
  /// The log's partitions (after load()).
  int32_t partitions() const { return partitions_; }
  /// Reads @p partition from now on, as a command on one of its rooms would (tests, warm-up):
  /// @p done once it is folded up to the log's end.
  void follow_partition(int32_t partition, std::function<void(Status)> done) {
    when_followed(partition, std::move(done));
  }

  // MessageLog
  void append(AppendRequest request, std::function<void(Result<Appended>)> done) override;
  void head(std::string room, std::function<void(Result<int64_t>)> done) override;
  void on_committed(std::function<void(std::vector<Message>)> sink) override;
  std::string epoch() const override { return epoch_; }

  // HistoryStore: it needs the fold's heads and message offsets, so the log serves it.
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
  /// Gets the changes this instance's own commands made, once folded (before their callers
  /// hear): the instances that do not read the partition learn them from the events topic.
  void on_own_change(std::function<void(const RoomChange&)> sink) {
    own_change_sink_ = std::move(sink);
  }
  /// Waits (up to ~2 s, on a reader thread) until this instance has folded the room's
  /// partition up to its high watermark and told the directory, then calls @p done.
  void sync(std::string room, std::function<void()> done) override;

  /// For tests: called by a read between its PostgreSQL page and its Kafka part.
  void set_read_hook(std::function<void()> hook) { read_hook_ = std::move(hook); }

 private:
  // A command of this instance whose record is in the log (or on its way). Answered exactly
  // once: whoever take()s it from pending_ answers it (the fold, a delivery report, the
  // sweeper, stop), and a later outcome for it finds nothing.
  struct Pending {
    LogRecord record;
    std::function<void(Result<Appended>)> on_send;  // send
    std::function<void(Status)> on_room;            // create_room, invite, open_dm
    bool if_absent = false;
    bool delivered = false;         // the broker acknowledged it
    int64_t delivered_at = 0;       // steady ms
    int64_t unknown_since = 0;      // steady ms: its delivery failed, it may be in the log
    int64_t first_produced_ms = 0;  // steady ms
    bool produced = false;          // handed to the producer (not waiting for its partition)
    TraceContext trace;             // its command's: the record's traceparent header
  };

  // Reading a partition: not yet, being loaded (commands wait, in order), or read.
  struct PartitionFollow {
    bool loading = false;
    std::vector<std::function<void(Status)>> waiters;
  };
  /// Calls @p then once @p partition is read and folded up to the log's end as it was when the
  /// load began (at once if it is read already), or with the load's error. In call order.
  void when_followed(int32_t partition, std::function<void(Status)> then);
  void start_following(int32_t partition);
  Status load_partition(int32_t partition);
  /// submit(), then produce() once the record's partition is read.
  void submit_when_followed(Pending pending);

  void produce(uint64_t request);
  void on_delivery(uint64_t request, const Delivery& d);
  void fold_batch(std::vector<Consumed>&& batch);
  void answer(uint64_t request, const Folded& outcome);
  void fail(uint64_t request, Error error);
  // Claims @p deadline for the log and stamps its wall-clock time on @p record, which the fold
  // then judges by the broker's append time. False: already expired, nothing to produce.
  bool claim_for_the_log(const DeadlinePtr& deadline, LogRecord& record);
  bool take(uint64_t request, Pending& out);  // removes it from pending_ and deadlines_
  void sweep_loop();
  uint64_t submit(Pending pending);
  int32_t partition_of(const std::string& room) const;
  // The Kafka part of a page: which offsets to read, from the fold's index.
  struct TailPlan {
    bool stale = false;  // the index was trimmed past the page's persisted offset: read again
    bool gone = false;   // the index dropped part of it (max_indexed_offsets)
    std::vector<int64_t> offsets;
    bool more = false;  // the room has more past these (after) or before them (before)
  };
  void read_page(std::string room, int64_t bound, int limit, bool forward, int attempts,
                 std::function<void(Result<Page>)> done);
  void read_followed_page(std::string room, int64_t bound, int limit, bool forward, int attempts,
                          std::function<void(Result<Page>)> done);
  void on_pg_page(std::string room, int64_t bound, int limit, bool forward, int attempts,
                  Result<PgPage> r, std::function<void(Result<Page>)> done);
  TailPlan plan_tail(const std::string& room, int64_t persisted, int64_t bound, int limit,
                     bool forward) const;
  Result<std::vector<Message>> read_tail(const std::string& room, int32_t partition,
                                         const std::vector<int64_t>& offsets);
  void trim_index(int32_t partition, int64_t persisted_next);
  int64_t head_of(const std::string& room) const;
  /// Waits (up to @p timeout_ms) until the fold reached @p partition's end as it is now; false
  /// if it did not (or the end could not be read).
  bool catch_up(int32_t partition, int timeout_ms = 2000);

  ClusterLogOptions options_;
  KafkaOptions kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  std::shared_ptr<PgStore> store_;
  ClockPtr clock_;
  BlockingExecutorPtr readers_;
  std::string epoch_;
  std::vector<Room> loaded_rooms_;

  std::function<void(std::vector<Message>)> sink_;
  std::function<void(const RoomChange&)> room_sink_;
  std::function<void(const RoomChange&)> own_change_sink_;

  // Which partitions are read: followed_[p] is set once p is loaded and its waiters ran (the
  // commands' fast path reads it without a lock); follow_mu_ orders the load and its waiters.
  std::unique_ptr<std::atomic<bool>[]> followed_;
  std::mutex follow_mu_;
  std::map<int32_t, PartitionFollow> follows_;

  // The tail thread's, and a partition's load's (fold_mu_: uncontended but for a load).
  std::mutex fold_mu_;
  LogFold fold_;
  // Per partition: the log's end when its load began. The records below it are the backlog
  // the load folds: they reach heads, the index and the directory, not the fan-out (no client
  // here joined the partition's rooms before; a joiner replays up to a head read after it).
  std::vector<int64_t> backlog_end_;
  std::unique_ptr<KafkaTail> tail_;
  int32_t partitions_ = 0;

  // The commands waiting for their records: any thread.
  std::mutex pending_mu_;
  std::unordered_map<uint64_t, Pending> pending_;
  // Wall-clock deadline -> request, for the ttl commands not answered yet (take() prunes it).
  std::multimap<int64_t, uint64_t> deadlines_;
  int64_t purged_through_ = 0;  // deadlines up to this were purged for (sweeper)
  uint64_t next_request_ = 0;

  // The fold's products, read by workers (head, replay) and written by the tail thread.
  mutable std::mutex state_mu_;
  std::condition_variable folded_cv_;  // folded_next_ moved
  std::unordered_map<std::string, int64_t> heads_;
  // Per room: the offsets of its messages from its partition's index floor on, ascending.
  // A read past the persister seeks to exactly these; trimmed as the persister stores them.
  struct RoomIndex {
    int64_t floor = 0;  // offsets below it were dropped (the cap)
    std::deque<int64_t> offsets;
  };
  std::map<int32_t, std::unordered_map<std::string, RoomIndex>> tail_index_;  // by partition
  // Per partition: the index holds every message at or past this offset (the snapshot's end,
  // raised as the persister stores).
  std::map<int32_t, int64_t> index_floor_;
  // The next offset to fold, per partition; moved once the batch's room changes reached the
  // directory, so a catch_up that saw it also sees the rooms and members it made.
  std::map<int32_t, int64_t> folded_next_;
  std::unique_ptr<KafkaRangeReader> range_reader_;  // pooled consumers for the reads
  std::function<void()> read_hook_;

  std::atomic<bool> stopping_{false};
  std::thread sweeper_;
};

}  // namespace parley

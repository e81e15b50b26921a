#pragma once
// The message log: where a message becomes durable and gets its position in its room, and the
// subscription to what it commits. Reading history back is the HistoryStore's (history_store.h).
// Embedded: SQLite with group commit. Cluster: Kafka. Callbacks run on the adapter's own
// threads; callers hop back to their worker themselves.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domain/deadline.h"
#include "domain/message.h"
#include "domain/result.h"
#include "domain/trace_context.h"

namespace parley {

struct AppendRequest {
  std::string room;
  std::string from;
  std::string text;
  std::string client_msg_id;  // empty: not idempotent
  DeadlinePtr deadline;       // null: no time-to-live
  TraceContext trace{};       // the command's trace: a cluster log hands it on with the record
};

struct Appended {
  Message message;
  bool duplicate = false;  // an earlier send with the same client_msg_id; nothing new stored
};

class MessageLog {
 public:
  virtual ~MessageLog() = default;

  /// Appends one message; @p done gets it once it is durable (or an error, `timeout` included).
  virtual void append(AppendRequest request, std::function<void(Result<Appended>)> done) = 0;

  /// The seq of the newest durable message of @p room, 0 if none.
  virtual void head(std::string room, std::function<void(Result<int64_t>)> done) = 0;

  /// Registers the sink of committed messages (the fan-out). Called once, before start.
  virtual void on_committed(std::function<void(std::vector<Message>)> sink) = 0;

  /// The name of this log: positions are meaningful only within one epoch.
  virtual std::string epoch() const = 0;
};

using MessageLogPtr = std::shared_ptr<MessageLog>;

}  // namespace parley

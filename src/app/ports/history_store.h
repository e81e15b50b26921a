#pragma once
// A room's history: the messages made durable by the log, read back in pages. The gateway's
// replay (join with `since`) reads forward, `history` reads backward. Embedded: the same SQLite
// database as the log (a reader thread). Cluster: PostgreSQL up to what the persister stored,
// the log's tail past it. A message is readable here once the log has answered its append or fed
// it to the committed sink. Callbacks run on the adapter's own threads.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domain/message.h"
#include "domain/result.h"

namespace parley {

struct Page {
  std::vector<Message> messages;  // oldest first
  bool has_more = false;
};

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  /// Reads messages with seq > @p after, oldest first, at most @p limit.
  virtual void read_after(std::string room, int64_t after, int limit,
                          std::function<void(Result<Page>)> done) = 0;

  /// Reads the newest messages with seq < @p before (0: the newest), oldest first.
  virtual void read_before(std::string room, int64_t before, int limit,
                           std::function<void(Result<Page>)> done) = 0;
};

using HistoryStorePtr = std::shared_ptr<HistoryStore>;

}  // namespace parley

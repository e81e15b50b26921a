// PgStore's history pages: a room's messages after or before a seq, with the persisted log
// offset of the room's partition from the same snapshot, and the persisted offsets.
#include <spdlog/spdlog.h>

#include "adapters/postgres/pg_store.h"
#include "adapters/postgres/pg_store_sql.h"

namespace parley {

using namespace pg_store_detail;
using pg::Params;
using pg::Statement;

namespace {

// One statement per page, so the page and the offset come from one snapshot. The outer LEFT
// JOIN yields one row even when the page is empty, to carry partition and offset.
// $1 room, $2 bound, $3 limit + 1 (one more tells has_more), $4 topic, $5 the room's partition
// (-1: the one the rooms table has). A reader that knows the partition passes it: a room
// PostgreSQL has never seen still has a persisted offset, the one of its partition.
constexpr Statement kReadAfter{"read_after", R"sql(
WITH r AS (SELECT partition FROM rooms WHERE name = $1),
m AS (SELECT seq, msg_id, sender, text, ts, client_msg_id FROM messages
      WHERE room = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3)
SELECT coalesce((SELECT partition FROM r), $5::int),
       coalesce((SELECT next_offset FROM log_offsets
                 WHERE topic = $4 AND partition = CASE WHEN $5::int >= 0 THEN $5::int
                                                       ELSE (SELECT partition FROM r) END), 0),
       m.seq, m.msg_id, m.sender, m.text, m.ts, m.client_msg_id
FROM (VALUES (1)) AS one(x) LEFT JOIN m ON true ORDER BY m.seq ASC)sql",
                               true};

constexpr Statement kReadBefore{"read_before", R"sql(
WITH r AS (SELECT partition FROM rooms WHERE name = $1),
m AS (SELECT seq, msg_id, sender, text, ts, client_msg_id FROM messages
      WHERE room = $1
        AND seq < CASE WHEN $2::bigint = 0 THEN 9223372036854775807 ELSE $2::bigint END
      ORDER BY seq DESC LIMIT $3)
SELECT coalesce((SELECT partition FROM r), $5::int),
       coalesce((SELECT next_offset FROM log_offsets
                 WHERE topic = $4 AND partition = CASE WHEN $5::int >= 0 THEN $5::int
                                                       ELSE (SELECT partition FROM r) END), 0),
       m.seq, m.msg_id, m.sender, m.text, m.ts, m.client_msg_id
FROM (VALUES (1)) AS one(x) LEFT JOIN m ON true ORDER BY m.seq ASC)sql",
                                true};

constexpr Statement kPersistedOffsets{
    "persisted_offsets", "SELECT partition, next_offset FROM log_offsets WHERE topic = $1", true};

}  // namespace

void PgStore::read_after(std::string room, int64_t after_seq, int limit,
                         std::function<void(Result<PgPage>)> done, int32_t partition) {
  read_page(true, std::move(room), after_seq, limit, partition, std::move(done));
}

void PgStore::read_before(std::string room, int64_t before_seq, int limit,
                          std::function<void(Result<PgPage>)> done, int32_t partition) {
  read_page(false, std::move(room), before_seq, limit, partition, std::move(done));
}

void PgStore::read_page(bool after, std::string room, int64_t bound, int limit, int32_t partition,
                        std::function<void(Result<PgPage>)> done) {
  limit = std::clamp(limit, 0, options_.max_page);
  size_t bytes = kJobOverhead + room.size();
  pool_.submit<PgPage>(
      bytes,
      [after, room = std::move(room), bound, limit, partition,
       topic = options_.messages_topic](pg::Connection& c) -> Result<PgPage> {
        Params p;
        p.add(room).add(bound).add(int64_t{limit} + 1).add(topic).add(int64_t{partition});
        auto r = c.exec(after ? kReadAfter : kReadBefore, p);
        if (!r) return r.error();
        PgPage page;
        int rows = r->rows();
        if (rows > 0) {
          page.partition = static_cast<int32_t>(r->int64(0, 0));
          page.persisted_next_offset = r->int64(0, 1);
        }
        page.messages.reserve(static_cast<size_t>(rows));
        for (int i = 0; i < rows; ++i) {
          if (r->is_null(i, 2)) continue;  // the empty page's carrier row
          page.messages.push_back(Message{room, r->int64(i, 2), r->text(i, 3), r->text(i, 4),
                                          r->text(i, 5), r->int64(i, 6), r->text(i, 7)});
        }
        if (page.messages.size() > static_cast<size_t>(limit)) {
          page.has_more = true;
          // One row too many: past the page's far end (after: the newest; before: the oldest).
          if (after) {
            page.messages.pop_back();
          } else {
            page.messages.erase(page.messages.begin());
          }
        }
        return page;
      },
      std::move(done));
}

void PgStore::persisted_offsets(std::function<void(Result<std::map<int32_t, int64_t>>)> done) {
  pool_.submit<std::map<int32_t, int64_t>>(
      kJobOverhead,
      [topic = options_.messages_topic](pg::Connection& c) -> Result<std::map<int32_t, int64_t>> {
        Params p;
        p.add(topic);
        auto r = c.exec(kPersistedOffsets, p);
        if (!r) return r.error();
        std::map<int32_t, int64_t> out;
        for (int i = 0; i < r->rows(); ++i) {
          out[static_cast<int32_t>(r->int64(i, 0))] = r->int64(i, 1);
        }
        return out;
      },
      std::move(done));
}

}  // namespace parley

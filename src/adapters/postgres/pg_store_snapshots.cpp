// PgStore's fold snapshots: the rooms, members, heads and dedupe window of some partitions with
// the offsets they stand for, from one REPEATABLE READ transaction.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "adapters/postgres/pg_store.h"
#include "adapters/postgres/pg_store_sql.h"

namespace parley {

using namespace pg_store_detail;
using pg::Params;
using pg::Statement;
using pg::TextArray;

namespace {

constexpr Statement kKnownPartitions{
    "known_partitions",
    "SELECT partition FROM rooms UNION SELECT partition FROM log_offsets WHERE topic = $1"};

constexpr Statement kSnapshotOffsets{"snapshot_offsets",
                                     "SELECT partition, next_offset FROM log_offsets WHERE topic = "
                                     "$1 AND partition = ANY($2::int[])"};

constexpr Statement kSnapshotRooms{
    "snapshot_rooms",
    "SELECT name, kind, created_by, created_at, partition, last_seq FROM rooms "
    "WHERE partition = ANY($1::int[])"};

constexpr Statement kSnapshotMembers{
    "snapshot_members",
    "SELECT m.room, m.\"user\" FROM members m JOIN rooms r ON r.name = m.room "
    "WHERE r.partition = ANY($1::int[])"};

// $1 partitions, $2 their next offsets, $3 the window.
constexpr Statement kSnapshotWindow{"snapshot_window", R"sql(
SELECT m.partition, m.room, m.sender, m.client_msg_id, m.seq, m.msg_id, m.ts
FROM unnest($1::int[], $2::bigint[]) AS w(partition, next_offset)
JOIN messages m ON m.partition = w.partition AND m.seq > w.next_offset - $3::bigint
WHERE m.client_msg_id IS NOT NULL
ORDER BY m.partition, m.seq)sql"};

}  // namespace

Result<std::vector<PartitionSnapshot>> PgStore::load_snapshots(const std::vector<int32_t>& wanted,
                                                               int64_t window) {
  const std::string& topic = options_.messages_topic;
  return blocking<std::vector<PartitionSnapshot>>(
      [&](pg::Connection& c) -> Result<std::vector<PartitionSnapshot>> {
        pg::Transaction tx(c);
        if (Status s = tx.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s) {
          return s.error();
        }
        std::vector<int32_t> partitions = wanted;
        if (partitions.empty()) {
          auto r = c.exec(kKnownPartitions, Params().add(topic));
          if (!r) return r.error();
          for (int i = 0; i < r->rows(); ++i) {
            partitions.push_back(static_cast<int32_t>(r->int64(i, 0)));
          }
        }
        std::sort(partitions.begin(), partitions.end());
        partitions.erase(std::unique(partitions.begin(), partitions.end()), partitions.end());
        std::string parts = int_array(partitions);

        std::map<int32_t, PartitionSnapshot> snaps;
        for (int32_t p : partitions) snaps[p].partition = p;

        auto offsets = c.exec(kSnapshotOffsets, Params().add(topic).add(parts));
        if (!offsets) return offsets.error();
        for (int i = 0; i < offsets->rows(); ++i) {
          snaps[static_cast<int32_t>(offsets->int64(i, 0))].next_offset = offsets->int64(i, 1);
        }

        auto rooms = c.exec(kSnapshotRooms, Params().add(parts));
        if (!rooms) return rooms.error();
        std::unordered_map<std::string, std::pair<int32_t, size_t>> where;  // room -> slot
        for (int i = 0; i < rooms->rows(); ++i) {
          Room room;
          room.name = rooms->text(i, 0);
          room.kind = kind_of(rooms->int64(i, 1));
          room.created_by = rooms->text(i, 2);
          room.created_at = rooms->int64(i, 3);
          auto p = static_cast<int32_t>(rooms->int64(i, 4));
          PartitionSnapshot& s = snaps[p];
          s.heads[room.name] = rooms->int64(i, 5);
          where[room.name] = {p, s.rooms.size()};
          s.rooms.push_back(std::move(room));
        }

        auto members = c.exec(kSnapshotMembers, Params().add(parts));
        if (!members) return members.error();
        for (int i = 0; i < members->rows(); ++i) {
          auto it = where.find(members->text(i, 0));
          if (it == where.end()) continue;
          snaps[it->second.first].rooms[it->second.second].members.insert(members->text(i, 1));
        }

        TextArray next;
        for (int32_t p : partitions) next.add(snaps[p].next_offset);
        auto entries = c.exec(kSnapshotWindow, Params().add(parts).add(next.take()).add(window));
        if (!entries) return entries.error();
        for (int i = 0; i < entries->rows(); ++i) {
          WindowEntry e{entries->text(i, 1),  entries->text(i, 2), entries->text(i, 3),
                        entries->int64(i, 4), entries->text(i, 5), entries->int64(i, 6)};
          snaps[static_cast<int32_t>(entries->int64(i, 0))].window.push_back(std::move(e));
        }
        if (Status s = tx.commit(); !s) return s.error();

        std::vector<PartitionSnapshot> out;
        out.reserve(snaps.size());
        for (auto& [p, s] : snaps) out.push_back(std::move(s));
        return out;
      });
}

}  // namespace parley

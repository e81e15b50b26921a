// PgStore's persister batches: messages, rooms, members, heads and dead letters in one
// transaction, fenced by a compare-and-set of the log offsets they stand for.
#include <map>
#include <string>

#include "adapters/postgres/pg_store.h"
#include "adapters/postgres/pg_store_sql.h"

namespace parley {

using namespace pg_store_detail;
using pg::Params;
using pg::Statement;
using pg::TextArray;

namespace {

// The persister's batch: one multi-row statement per table (unnest of array parameters).
constexpr Statement kPersistRooms{"persist_rooms", R"sql(
INSERT INTO rooms(name, kind, created_by, created_at, partition)
SELECT * FROM unnest($1::text[], $2::smallint[], $3::text[], $4::bigint[], $5::int[])
ON CONFLICT (name) DO NOTHING)sql"};

constexpr Statement kPersistMembers{"persist_members", R"sql(
INSERT INTO members(room, "user") SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING)sql"};

constexpr Statement kPersistMessages{"persist_messages", R"sql(
INSERT INTO messages(room, seq, msg_id, sender, text, ts, client_msg_id, partition)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                     $7::text[], $8::int[])
ON CONFLICT DO NOTHING)sql"};

constexpr Statement kPersistHeads{"persist_heads", R"sql(
UPDATE rooms SET last_seq = v.seq FROM unnest($1::text[], $2::bigint[]) AS v(name, seq)
WHERE rooms.name = v.name AND rooms.last_seq < v.seq)sql"};

constexpr Statement kPersistDeadLetters{"persist_dead_letters", R"sql(
INSERT INTO dead_letters(source, session, "user", op, payload, reason, at_ms)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[])
ON CONFLICT (source) DO NOTHING)sql"};

// The offsets a batch moves, compare-and-set: a partition moves from `from` to `to` only if
// PostgreSQL still says `from`. A persister that lost the partition (a rebalance, a pause
// longer than the session timeout) and writes late finds another owner's offset there, matches
// nothing, and its whole transaction is rolled back: no offset ever moves past a record that
// its writer did not store. The rows are made first (at 0) so that the UPDATE has a row to
// lock, and two owners of a fresh partition serialise on it.
// $1 topic, $2 partitions (sorted: rows are locked in one order), $3 from, $4 to.
constexpr Statement kEnsureOffsets{"ensure_offsets", R"sql(
INSERT INTO log_offsets(topic, partition, next_offset)
SELECT $1, p, 0 FROM unnest($2::int[]) AS v(p)
ON CONFLICT (topic, partition) DO NOTHING)sql"};

constexpr Statement kAdvanceOffsets{"advance_offsets", R"sql(
UPDATE log_offsets o SET next_offset = v.t
FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS v(p, f, t)
WHERE o.topic = $1 AND o.partition = v.p AND o.next_offset = v.f
RETURNING o.partition)sql"};

}  // namespace

Status PgStore::persist(const PersistBatch& batch) {
  if (batch.empty()) return Ok{};
  // The parameters are built once, outside the retry.
  std::vector<std::pair<const Statement*, Params>> steps;

  TextArray mroom, muser;  // the members of new rooms, then the members added
  if (!batch.created_rooms.empty()) {
    TextArray name, kind, by, at, part;
    for (const CreatedRoom& r : batch.created_rooms) {
      name.add(r.room.name);
      kind.add(kind_code(r.room.kind));
      by.add(r.room.created_by);
      at.add(r.room.created_at);
      part.add(int64_t{r.partition});
      for (const std::string& m : r.room.members) {
        mroom.add(r.room.name);
        muser.add(m);
      }
    }
    steps.emplace_back(
        &kPersistRooms,
        Params().add(name.take()).add(kind.take()).add(by.take()).add(at.take()).add(part.take()));
  }
  for (const auto& [room, user] : batch.added_members) {
    mroom.add(room);
    muser.add(user);
  }
  if (mroom.size() > 0) {
    steps.emplace_back(&kPersistMembers, Params().add(mroom.take()).add(muser.take()));
  }

  if (!batch.messages.empty()) {
    TextArray room, seq, id, from, text, ts, cmid, part;
    std::map<std::string, int64_t> heads;  // sorted: rows are locked in one order
    for (const PersistedMessage& pm : batch.messages) {
      const Message& m = pm.message;
      room.add(m.room);
      seq.add(m.seq);
      id.add(m.msg_id);
      from.add(m.from);
      text.add(m.text);
      ts.add(m.ts);
      if (m.client_msg_id.empty()) {
        cmid.add_null();
      } else {
        cmid.add(m.client_msg_id);
      }
      part.add(int64_t{pm.partition});
      int64_t& h = heads[m.room];
      h = std::max(h, m.seq);
    }
    steps.emplace_back(&kPersistMessages, Params()
                                              .add(room.take())
                                              .add(seq.take())
                                              .add(id.take())
                                              .add(from.take())
                                              .add(text.take())
                                              .add(ts.take())
                                              .add(cmid.take())
                                              .add(part.take()));
    TextArray hroom, hseq;
    for (const auto& [r, s] : heads) {
      hroom.add(r);
      hseq.add(s);
    }
    steps.emplace_back(&kPersistHeads, Params().add(hroom.take()).add(hseq.take()));
  }

  if (!batch.dead_letters.empty()) {
    TextArray source, session, user, op, payload, reason, at;
    for (const SourcedDeadLetter& d : batch.dead_letters) {
      if (d.source.empty()) {
        source.add_null();
      } else {
        source.add(d.source);
      }
      session.add(d.letter.session);
      user.add(d.letter.user);
      op.add(d.letter.op);
      payload.add(d.letter.payload);
      reason.add(d.letter.reason);
      at.add(d.letter.at_ms);
    }
    steps.emplace_back(&kPersistDeadLetters, Params()
                                                 .add(source.take())
                                                 .add(session.take())
                                                 .add(user.take())
                                                 .add(op.take())
                                                 .add(payload.take())
                                                 .add(reason.take())
                                                 .add(at.take()));
  }

  // One advance per partition, sorted by partition (rows are locked in one order).
  std::map<int32_t, OffsetAdvance> advances;
  for (const OffsetAdvance& a : batch.offsets) {
    auto [it, fresh] = advances.emplace(a.partition, a);
    if (!fresh) {
      return make_error(Errc::bad_request,
                        "a batch moves partition " + std::to_string(a.partition) + " twice");
    }
  }
  TextArray part, from, to;
  for (const auto& [p, a] : advances) {
    part.add(int64_t{p});
    from.add(a.from);
    to.add(a.to);
  }
  const std::string& topic = options_.messages_topic;
  const std::string parts = part.take();
  Params ensure = Params().add(topic).add(parts);
  Params advance = Params().add(topic).add(parts).add(from.take()).add(to.take());

  return blocking<Ok>([&](pg::Connection& c) -> Status {
    pg::Transaction tx(c);
    if (Status s = tx.begin(); !s) return s.error();
    // The offsets first: they are the fence. A stale writer stops here, before it writes rows.
    if (!advances.empty()) {
      if (Status s = run(c, kEnsureOffsets, ensure); !s) return s.error();
      auto moved = c.exec(kAdvanceOffsets, advance);
      if (!moved) return moved.error();
      if (moved->rows() != static_cast<int>(advances.size())) {
        return make_error(Errc::conflict, "log offsets moved by another persister (" +
                                              std::to_string(advances.size() - moved->rows()) +
                                              " of " + std::to_string(advances.size()) +
                                              " partitions)");
      }
    }
    for (const auto& [statement, params] : steps) {
      if (Status s = run(c, *statement, params); !s) return s.error();
    }
    return tx.commit();
  });
}

}  // namespace parley

#pragma once
// Records, positions and comparisons shared by the fold tests.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "app/cluster/log_fold.h"
#include "domain/names.h"

namespace parley::fold_test {

inline LogRecord send(const std::string& room, const std::string& user, const std::string& text,
                      const std::string& cmid = {}, int64_t deadline_ms = 0) {
  LogRecord r;
  r.kind = RecordKind::send;
  r.room = room;
  r.user = user;
  r.text = text;
  r.client_msg_id = cmid;
  r.msg_id = "m-" + room + "-" + user + "-" + text;
  r.deadline_ms = deadline_ms;
  return r;
}

inline LogRecord create(const std::string& room, const std::string& user, bool is_private = false,
                        int64_t deadline_ms = 0) {
  LogRecord r;
  r.kind = RecordKind::create_room;
  r.room = room;
  r.user = user;
  r.is_private = is_private;
  r.deadline_ms = deadline_ms;
  return r;
}

inline LogRecord invite(const std::string& room, const std::string& user, const std::string& target,
                        int64_t deadline_ms = 0) {
  LogRecord r;
  r.kind = RecordKind::invite;
  r.room = room;
  r.user = user;
  r.target = target;
  r.deadline_ms = deadline_ms;
  return r;
}

inline LogRecord open_dm(const std::string& user, const std::string& target,
                         int64_t deadline_ms = 0) {
  LogRecord r;
  r.kind = RecordKind::open_dm;
  r.room = dm_room_name(user, target);
  r.user = user;
  r.target = target;
  r.deadline_ms = deadline_ms;
  return r;
}

// Field by field, so a failure names what differs.
inline ::testing::AssertionResult same(const std::optional<Folded>& a,
                                       const std::optional<Folded>& b) {
  if (a.has_value() != b.has_value()) return ::testing::AssertionFailure() << "one is nullopt";
  if (!a) return ::testing::AssertionSuccess();
  auto fail = [](const char* what) { return ::testing::AssertionFailure() << what << " differs"; };
  if (a->kind != b->kind) return fail("kind");
  const Message &x = a->message, &y = b->message;
  if (x.room != y.room || x.seq != y.seq || x.msg_id != y.msg_id || x.from != y.from ||
      x.text != y.text || x.ts != y.ts || x.client_msg_id != y.client_msg_id)
    return fail("message");
  if (a->error.code != b->error.code || a->error.message != b->error.message) return fail("error");
  const Room &r = a->room, &s = b->room;
  if (r.name != s.name || r.kind != s.kind || r.created_by != s.created_by ||
      r.created_at != s.created_at || r.members != s.members)
    return fail("room");
  if (a->member != b->member) return fail("member");
  return ::testing::AssertionSuccess();
}

}  // namespace parley::fold_test

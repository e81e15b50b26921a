#pragma once
// What the cluster's log carries: every change to a room (its messages, its creation, its
// members) is a record keyed by the room, so one partition holds one room's whole history in
// one order. Every instance and every persister folds the same records in the same order and so
// reaches the same decisions without asking each other (see log_fold.h).
#include <cstdint>
#include <string>

namespace parley {

enum class RecordKind { send, create_room, invite, open_dm };

struct LogRecord {
  RecordKind kind = RecordKind::send;
  std::string room;
  std::string user;           // who asked: the sender, the creator, the inviter, the dm opener
  std::string text;           // send
  std::string client_msg_id;  // send; empty: not idempotent
  std::string msg_id;         // send: chosen by the origin, so it is the same everywhere
  std::string target;         // invite: the invitee; open_dm: the other user
  bool is_private = false;    // create_room
  int64_t deadline_ms = 0;    // wall-clock unix ms after which it must not apply; 0: none
  std::string origin;         // the instance that produced it
  uint64_t request = 0;       // the origin's id of the command waiting for the outcome
};

// Where a record sits in the log, and when the broker appended it (LogAppendTime).
struct LogPosition {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t append_ms = 0;
};

}  // namespace parley

#pragma once
// The client side of one chat session, without I/O: it turns the user's commands into protocol
// frames, and the server's frames into what the terminal shows. It owns what makes a resume
// exact: the rooms joined and the last seq seen in each (rejoined with `since` after every
// welcome, duplicates dropped by seq), and the sends not yet answered (sent again after a
// reconnect with the same client_msg_id, so the server stores each once).
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "client/chat_command.h"
#include "client/seq_store.h"

namespace parley::client {

/// One thing for the terminal to show.
struct Shown {
  enum class Kind { message, history, notice, error, typing, member_joined, member_left };
  Kind kind = Kind::notice;
  std::string room;
  std::string user;  // the sender, or whom the event is about
  std::string text;
  int64_t seq = 0;
  int64_t ts = 0;  // unix ms
};

/// What one step produced: frames to write (in order) and lines to show.
struct Output {
  std::vector<std::string> frames;
  std::vector<Shown> shown;
  bool quit = false;
};

class ChatSession {
 public:
  /// Sends waiting for their result, at most; one more is refused (the server caps commands in
  /// flight per connection at 1024 by default, and a person does not type faster than this).
  static constexpr size_t kMaxUnsentSends = 256;
  /// Public rooms remembered from `room.created` for /rooms, at most.
  static constexpr size_t kMaxKnownRooms = 1000;

  /// @p stored: the rooms and seqs kept from an earlier run (rejoined at the first welcome).
  ChatSession(std::string user, std::string session_id, SeqFile stored);

  /// The connection is open and its welcome arrived: rejoin, re-send.
  void on_welcome(std::string_view frame, Output& out);
  /// The connection is gone; commands other than sends wait for the next one.
  void on_disconnect();
  /// Any frame after the welcome: a result, a message or an event.
  void on_frame(std::string_view frame, Output& out);
  /// A line the user typed.
  void on_command(const ChatCommand& cmd, Output& out);
  /// A `typing` frame for the current room, if there is one and the connection is up.
  void typing(Output& out);

  bool connected() const { return connected_; }
  const std::string& current_room() const { return current_; }
  /// The state to keep on disk; `dirty` says it changed since the last take.
  const SeqFile& seqs() const { return seqs_; }
  bool take_dirty() {
    const bool d = dirty_;
    dirty_ = false;
    return d;
  }
  size_t unsent_sends() const { return unsent_.size(); }

 private:
  enum class Op { join, rejoin, leave, create, invite, dm, history, presence, send, typing };
  struct Pending {
    Op op;
    std::string room;
    std::string user;
    std::string client_msg_id;
    bool switch_to = true;  // a join: make the room the current one
  };
  struct UnsentSend {
    std::string client_msg_id;
    std::string room;
    std::string text;
  };

  std::string request(Op op, std::string_view type, std::string room, Output& out,
                      std::string user = {});
  void send_join(const std::string& room, bool rejoin, Output& out);
  void write_send(const UnsentSend& s, Output& out);
  void on_result(const boost::json::object& obj, Output& out);
  void on_message(const boost::json::object& obj, Output& out);
  void on_event(const boost::json::object& obj, Output& out);
  void forget_room(const std::string& room);
  static void notice(Output& out, std::string text, std::string room = {});
  static void error(Output& out, std::string text, std::string room = {});

  std::string user_;
  std::string session_;
  SeqFile seqs_;  // joined rooms -> last seq seen (-1: not known yet)
  bool dirty_ = false;
  bool connected_ = false;
  bool welcomed_before_ = false;
  std::string current_;
  std::set<std::string> public_rooms_;      // announced by room.created since start
  std::map<std::string, Pending> pending_;  // by request id
  std::vector<UnsentSend> unsent_;          // in the order typed
  uint64_t next_id_ = 1;
  uint64_t next_msg_ = 1;
};

}  // namespace parley::client

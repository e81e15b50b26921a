#pragma once
// The one seam between transport and core: a connection's frames come in here, are decoded,
// checked and handed to the use cases; results and room traffic go back out as frames.
//
// Threading: every method taking a Client runs on that client's worker. Completions from the
// storage threads are posted back to the worker before they touch any client state. The fan-out
// encodes a committed message once and posts the same bytes to every worker, which delivers
// them to its own connections: no lock on the delivery path.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "app/services.h"
#include "app/use_cases/create_room.h"
#include "app/use_cases/invite_member.h"
#include "app/use_cases/join_room.h"
#include "app/use_cases/open_dm.h"
#include "app/use_cases/read_history.h"
#include "app/use_cases/send_message.h"
#include "gateway/client.h"
#include "gateway/codec.h"
#include "gateway/session_registry.h"
#include "runtime/worker_pool.h"

namespace parley {

class Gateway {
 public:
  Gateway(Services& services, WorkerPool& pool, std::string instance);

  /// Subscribes the fan-out to the message log. Call once before serving.
  void start();

  /// The user named by @p token; any thread.
  Result<std::string> authenticate(const std::string& token) const;

  /// A new connection on @p worker: sends the welcome, takes the session over.
  std::shared_ptr<Client> open(int worker, std::string user, std::string session,
                               std::weak_ptr<FrameSink> sink);
  /// One text frame from @p client.
  void on_frame(const std::shared_ptr<Client>& client, std::string_view text);
  /// The connection is gone (closed, failed or taken over).
  void on_close(const std::shared_ptr<Client>& client);

  /// Closes every connection with 1001 (going away); returns at once, the closes follow.
  void shutdown();

  Services& services() { return s_; }
  const std::string& instance() const { return instance_; }

 private:
  struct Command;  // one decoded command in flight: answered exactly once
  using CommandPtr = std::shared_ptr<Command>;

  // Per-worker delivery state, touched only on its worker.
  struct WorkerState {
    std::unordered_map<std::string, std::vector<Client*>> rooms;
    std::unordered_map<uint64_t, std::shared_ptr<Client>> clients;
  };

  void dispatch(const CommandPtr& cmd);
  void do_join(const CommandPtr& cmd);
  void do_leave(const CommandPtr& cmd);
  void do_send(const CommandPtr& cmd);
  void do_history(const CommandPtr& cmd);
  void do_create_room(const CommandPtr& cmd);
  void do_invite(const CommandPtr& cmd);
  void do_dm(const CommandPtr& cmd);
  void do_typing(const CommandPtr& cmd);
  void do_presence(const CommandPtr& cmd);

  void reply_ok(const CommandPtr& cmd, boost::json::object fields = {});
  void reply_error(const CommandPtr& cmd, const Error& e);
  void deliver_result(const CommandPtr& cmd, Frame frame);
  void arm_deadline(const CommandPtr& cmd);
  void dead_letter(const CommandPtr& cmd, const std::string& reason);
  void release_barrier(const std::shared_ptr<Client>& client);

  // Join: hold live frames, replay what was missed, then go live.
  void replay(const std::shared_ptr<Client>& client, const std::string& room, uint64_t generation,
              int64_t cursor, int64_t head);
  struct Replay;
  void read_replay_page(const std::shared_ptr<Replay>& r);
  void pump_replay(const std::shared_ptr<Replay>& r);
  void go_live(Client& client, const std::string& room, int64_t cursor);
  void unsubscribe(Client& client, const std::string& room);

  // Fan-out.
  void publish(std::vector<Message> messages);
  void publish_event(const std::string& room, Frame frame, uint64_t except_client);
  void broadcast_all(Frame frame);
  void deliver_local(int worker, const std::string& room, int64_t seq, const Frame& frame,
                     uint64_t except_client);

  // Runs @p f on @p client's worker.
  template <typename F>
  void on_worker(const std::shared_ptr<Client>& client, F&& f) {
    pool_.post(client->worker, std::forward<F>(f));
  }

  Services& s_;
  WorkerPool& pool_;
  std::string instance_;
  std::vector<WorkerState> workers_;
  SessionRegistry sessions_;
  std::atomic<uint64_t> next_client_id_{1};

  SendMessage send_;
  ReadHistory history_;
  JoinRoom join_;
  CreateRoom create_room_;
  InviteMember invite_;
  OpenDm dm_;
};

}  // namespace parley

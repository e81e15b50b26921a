#pragma once
// One WebSocket connection after its upgrade: reads client frames into the gateway and writes
// the gateway's frames out. Every queued frame goes out in one gather write (at most one write
// in flight), and the queue is bounded in bytes, control frames included: a client over it is
// closed with 1008. A template on the byte stream (tcp::socket, or TlsStream), instantiated for
// both in the .cpp: the frame logic is written once and the plain path has no indirection.
#include <array>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapters/ws/tls_stream.h"
#include "adapters/ws/worker_deadlines.h"
#include "adapters/ws/ws_frames.h"
#include "gateway/frame.h"

namespace parley {

class Gateway;
struct Client;

// The plain socket on the worker's executor type (see WorkerExecutor).
using WorkerSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, WorkerExecutor>;

template <class Stream>
class WebSocketSession final : public FrameSink,
                               public ws::FrameHandler,
                               private DeadlineHook,
                               public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream stream, Gateway& gateway, int worker);
  ~WebSocketSession() override;

  /// The upgrade is done: open the client of @p user and @p session in the gateway (which keeps
  /// the two strings: the session holds no copy) and start reading.
  void start(std::string user, std::string session);

  // FrameSink
  void send(Frame frame) override;
  void send_result(Frame frame) override;
  size_t queued_bytes() const override { return queued_bytes_; }
  void close(uint16_t code, std::string reason) override;

  // ws::FrameHandler
  void on_text(std::string_view message) override;
  void on_binary() override;
  void on_ping(std::string_view payload) override;
  void on_close(uint16_t code) override;
  void on_error(uint16_t code, std::string_view why) override;

 private:
  void do_read();
  void read_available();  // plain TCP: drains the socket once it is readable
  // Parses @p data, received; false once nothing more is to be read.
  bool on_bytes(std::string_view data);
  void do_write();
  // The end of a write (@p written of its @p bytes), whether it finished at once or later.
  void on_written(boost::system::error_code ec, size_t written, size_t bytes);
  void compact_queue();
  void schedule_flush();
  void arm_keepalive();
  void keepalive_tick();
  WorkerDeadlines& deadlines();
  static void on_keepalive_due(DeadlineHook& hook);
  static void on_hard_close_due(DeadlineHook& hook);
  void queue(ws::Opcode op, Frame payload);
  bool has_output() const { return pong_pending_ || queue_head_ < queue_.size(); }
  void close_slow_consumer();
  void finish();
  // Hands the results still in queue_ back to the gateway (for the session), then forgets them.
  void return_unsent_results();
  // The same for the results of a failed write that @p written bytes of did not cover.
  void return_unwritten_results(size_t written);
  void enqueue(ws::Opcode op, Frame payload, bool result);

  enum class State { open, closing, closed };

  // What the connection runs on: the plain socket moved onto the worker's executor type, or the
  // TLS stream as the handshake left it.
  using Own = std::conditional_t<is_tls_v<Stream>, TlsStream, WorkerSocket>;
  Own stream_;
  // TLS only: where OpenSSL decrypts into (a plain socket reads into the worker's buffer once
  // readable, but a TLS record may sit decrypted in OpenSSL's buffers while the socket is not).
  std::unique_ptr<char[]> read_buffer_;
  Gateway& gateway_;
  int worker_;
  std::shared_ptr<Client> client_;
  ws::FrameParser parser_;

  std::string in_;  // received bytes of a frame not complete yet

  // A message on its way out: the payload is shared with every other recipient, the frame
  // header is this connection's own.
  struct Outgoing {
    Frame payload;
    std::array<uint8_t, 10> header;
    uint8_t header_len;
    bool result = false;  // a command's result: never lost, handed back if dropped unsent
  };
  // Waiting for the next write: queue_[queue_head_] on. A vector, not a std::deque: libstdc++'s
  // deque allocates 576 bytes the moment it is made, on every idle connection.
  std::vector<Outgoing> queue_;
  size_t queue_head_ = 0;
  // In the write in flight. The gather write reads its buffers off it (two a frame) without a
  // vector of its own, and when the whole queue goes out the two vectors swap instead of moving
  // frames: an idle connection keeps one emptied vector's memory, not three.
  std::vector<Outgoing> writing_;
  // The one pong waiting for the next write (RFC 6455 5.5.3: answering only the most recent
  // ping is allowed). A client that pings without reading replaces its payload instead of
  // growing the queue.
  std::string pong_;
  bool pong_pending_ = false;
  size_t queued_bytes_ = 0;  // wire bytes (headers included) of queue_, writing_ and pong_
  size_t max_queue_bytes_;
  bool write_in_flight_ = false;
  bool flush_scheduled_ = false;  // in the worker's flush list
  bool close_queued_ = false;     // the close frame is in queue_ or writing_
  bool close_sent_ = false;       // the close frame is written
  bool peer_closed_ = false;      // the client's close frame arrived
  size_t drained_ = 0;            // bytes read while closing (see kDrainWhileClosing)
  State state_ = State::open;

  // The DeadlineHook base is armed in the worker's keepalive list while open, in its hard-close
  // list once closing (arming one unlinks the other), unlinked once closed.
  bool got_data_ = true;  // something arrived since the last keepalive tick
  int idle_ticks_ = 0;
};

extern template class WebSocketSession<boost::asio::ip::tcp::socket>;
extern template class WebSocketSession<TlsStream>;

}  // namespace parley

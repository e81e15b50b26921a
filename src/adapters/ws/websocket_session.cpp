#include "adapters/ws/websocket_session.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <iterator>
#include <stdexcept>

#include "app/metrics.h"
#include "gateway/gateway.h"

namespace parley {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {
// A closing connection gets this long to flush its last write and close frame before its socket
// is torn down: a client that never reads cannot hold the server's memory forever.
constexpr auto kHardCloseAfter = std::chrono::seconds(15);
// While closing, what the client still sends is read and dropped, up to this much: closing a
// socket with unread data resets the connection, and the reset can destroy our close frame
// (still in our send queue, or in the client's receive buffer on some stacks) before the client
// reads it. Past this the client is not winding down, and its connection is torn down as it is.
constexpr size_t kDrainWhileClosing = 256 * 1024;
// Keepalive: ping a connection silent for a tick; drop it after three silent ticks.
constexpr auto kKeepaliveTick = std::chrono::seconds(30);
constexpr int kMaxIdleTicks = 3;
// One gather write takes at most this much of the queue.
constexpr size_t kMaxWriteBytes = 512 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
// TLS: each connection has a buffer of its own, always in use by the pending read, beside the
// ~70 KiB Asio and OpenSSL hold per connection anyway. Small, since most frames are: a large
// frame takes a few reads (OpenSSL hands out its decrypted record piece by piece).
constexpr size_t kTlsReadChunk = 4 * 1024;
constexpr int kChunksPerTurn = 8;
// A control frame's header: its payload is at most 125 bytes, so the length fits in 7 bits.
constexpr size_t kControlHeader = 2;
constexpr size_t header_size(size_t len) {
  return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}
// An emptied vector keeps its capacity for the next burst up to this many entries; past it the
// memory goes back, so a connection idle after a burst costs no more than one never busy.
constexpr size_t kKeptSlots = 64;
// The waits every idle connection keeps pending (readable, keepalive) are allocated at their own
// size. Asio serves handlers whose allocator is std::allocator from the worker thread's recycling
// cache, blocks sized by the largest operation that used them last (the handshake's write is
// 650 bytes): a wait that parks for minutes would keep one. An allocator of another type is used
// as is.
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p); }
  friend bool operator==(ExactAllocator, ExactAllocator) { return true; }
};
template <typename Handler>
auto exact_size(Handler&& handler) {
  return asio::bind_allocator(ExactAllocator<void>(), std::forward<Handler>(handler));
}
// The executor of the worker @p stream lives on (every connection is made on one).
WorkerExecutor worker_executor(const WorkerExecutor& executor) {
  return executor;
}
WorkerExecutor worker_executor(const asio::any_io_executor& executor) {
  const auto* worker = executor.target<WorkerExecutor>();
  if (worker == nullptr) throw std::logic_error("a connection not on a worker's io_context");
  return *worker;
}
template <class Stream>
WorkerExecutor worker_executor(Stream& stream) {
  return worker_executor(stream.get_executor());
}
// The same descriptor, re-registered on the socket type of the worker's executor (Asio converts
// no socket between executor types; two epoll_ctl calls, once per connection).
WorkerSocket to_worker_socket(asio::ip::tcp::socket socket) {
  WorkerSocket out(worker_executor(socket));
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  auto fd = socket.release(ec);
  // A connection already broken stays closed: its first read fails and ends it.
  if (!ec) out.assign(local.protocol(), fd, ec);
  return out;
}
template <class Own, class Stream>
Own own_stream(Stream stream) {
  if constexpr (is_tls_v<Stream>) {
    return stream;
  } else {
    return to_worker_socket(std::move(stream));
  }
}
// The buffers of a gather write, read off the frames being written: each frame's header, then
// its payload. A view, not a vector of buffers kept beside the frames.
template <class Frames>
class FrameBuffers {
 public:
  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = asio::const_buffer;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = value_type;
    const_iterator() = default;
    const_iterator(const Frames* frames, size_t i) : frames_(frames), i_(i) {}
    value_type operator*() const {
      const auto& out = (*frames_)[i_ / 2];
      return i_ % 2 == 0 ? asio::buffer(out.header.data(), out.header_len)
                         : asio::buffer(*out.payload);
    }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      auto before = *this;
      ++i_;
      return before;
    }
    const_iterator& operator--() {
      --i_;
      return *this;
    }
    const_iterator operator--(int) {
      auto before = *this;
      --i_;
      return before;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }

   private:
    const Frames* frames_ = nullptr;
    size_t i_ = 0;
  };
  using value_type = asio::const_buffer;
  explicit FrameBuffers(const Frames& frames) : frames_(&frames) {}
  const_iterator begin() const { return {frames_, 0}; }
  const_iterator end() const { return {frames_, frames_->size() * 2}; }

 private:
  const Frames* frames_;
};
template <typename T>
void release_if_large(std::vector<T>& v) {
  if (v.empty() && v.capacity() > kKeptSlots) std::vector<T>().swap(v);
}
}  // namespace

template <class Stream>
WebSocketSession<Stream>::WebSocketSession(Stream stream, Gateway& gateway, int worker)
    : stream_(own_stream<Own>(std::move(stream))),
      gateway_(gateway),
      worker_(worker),
      parser_(gateway.services().limits.max_frame_bytes),
      max_queue_bytes_(gateway.services().limits.send_queue_bytes) {
  if constexpr (is_tls_v<Stream>) read_buffer_ = std::make_unique<char[]>(kTlsReadChunk);
}

template <class Stream>
WebSocketSession<Stream>::~WebSocketSession() {
  DeadlineList::cancel(*this);  // after finish() it is not linked; at shutdown it may be
}

template <class Stream>
WorkerDeadlines& WebSocketSession<Stream>::deadlines() {
  return asio::use_service<WorkerDeadlines>(worker_executor(tcp_socket(stream_)).context());
}

template <class Stream>
void WebSocketSession<Stream>::start(std::string user, std::string session) {
  // Plain TCP is read by hand once readable (see do_read); TLS leaves the socket to Asio.
  if constexpr (!is_tls_v<Stream>) stream_.non_blocking(true);
  client_ = gateway_.open(worker_, std::move(user), std::move(session), this->weak_from_this());
  arm_keepalive();
  do_read();
}

// ---- reading --------------------------------------------------------------------------------

template <class Stream>
void WebSocketSession<Stream>::do_read() {
  if constexpr (is_tls_v<Stream>) {
    stream_.async_read_some(
        asio::buffer(read_buffer_.get(), kTlsReadChunk),
        [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
          if (ec || self->state_ == State::closed) return self->finish();
          if (self->on_bytes({self->read_buffer_.get(), n})) self->do_read();
        });
  } else {
    // Wait for readability, then read into the worker's shared buffer: an idle connection
    // holds no read buffer of its own (10,000 idle connections cost no 10,000 buffers).
    stream_.async_wait(asio::ip::tcp::socket::wait_read,
                       exact_size([self = this->shared_from_this()](boost::system::error_code ec) {
                         if (ec || self->state_ == State::closed) return self->finish();
                         self->read_available();
                       }));
  }
}

template <class Stream>
void WebSocketSession<Stream>::read_available() {
  thread_local std::array<char, kReadChunk> buffer;
  // Drain the socket until it would block (the reactor is edge-triggered: only then is waiting
  // again safe), but yield to the other connections of the worker after a few chunks.
  for (int chunk = 0; chunk < kChunksPerTurn; ++chunk) {
    boost::system::error_code ec;
    size_t n = stream_.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return do_read();
    if (ec || n == 0) return finish();
    if (!on_bytes({buffer.data(), n})) return;
  }
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    if (self->state_ != State::closed) self->read_available();
  });
}

template <class Stream>
bool WebSocketSession<Stream>::on_bytes(std::string_view data) {
  got_data_ = true;
  if (state_ == State::closing) {
    drained_ += data.size();
    if (drained_ > kDrainWhileClosing) {
      finish();
      return false;
    }
  }
  if (parser_.done()) return true;  // after a close frame or a protocol error: dropped unparsed
  if (in_.empty()) {
    // The common case: whole frames arrived; only a trailing partial frame is kept.
    size_t used = parser_.parse(data, *this);
    in_.assign(data.substr(used));
  } else {
    in_.append(data);
    in_.erase(0, parser_.parse(in_, *this));
  }
  if (parser_.done()) in_.clear();
  if (in_.empty() && in_.capacity() > 4096) std::string().swap(in_);  // idle: give it back
  // After a close frame or a protocol error nothing more is parsed, but reading goes on
  // until the connection ends (see kDrainWhileClosing).
  return state_ != State::closed;
}

template <class Stream>
void WebSocketSession<Stream>::on_text(std::string_view message) {
  if (state_ != State::open) return;
  gateway_.on_frame(client_, message);
}

template <class Stream>
void WebSocketSession<Stream>::on_binary() {
  close(kCloseUnsupported, "binary frames are not part of the protocol");
}

template <class Stream>
void WebSocketSession<Stream>::on_ping(std::string_view payload) {
  if (state_ != State::open) return;
  // Coalesce: a pong not yet being written takes the newest payload, so a client that pings
  // without reading holds at most two pongs here (one queued, one in the stalled write).
  size_t before = pong_pending_ ? kControlHeader + pong_.size() : 0;
  size_t after = kControlHeader + payload.size();
  if (queued_bytes_ - before + after > max_queue_bytes_) return close_slow_consumer();
  queued_bytes_ = queued_bytes_ - before + after;
  pong_.assign(payload);
  pong_pending_ = true;
  if (!write_in_flight_) schedule_flush();
}

template <class Stream>
void WebSocketSession<Stream>::on_close(uint16_t code) {
  peer_closed_ = true;
  if (state_ == State::open) {
    // The client starts the closing handshake: answer with its code, then hang up.
    close(code == 1005 ? 1000 : code, "");
  } else if (close_sent_) {
    finish();  // the answer to our own close frame
  }
  // Otherwise the client's close crossed ours, which is still being written: the end of that
  // write hangs up.
}

template <class Stream>
void WebSocketSession<Stream>::on_error(uint16_t code, std::string_view why) {
  close(code, std::string(why));
}

// ---- writing --------------------------------------------------------------------------------

template <class Stream>
void WebSocketSession<Stream>::send(Frame frame) {
  enqueue(ws::Opcode::text, std::move(frame), false);
}

template <class Stream>
void WebSocketSession<Stream>::send_result(Frame frame) {
  enqueue(ws::Opcode::text, std::move(frame), true);
}

template <class Stream>
void WebSocketSession<Stream>::enqueue(ws::Opcode op, Frame frame, bool result) {
  if (state_ != State::open) {
    // Closing: a result still has a home, the session.
    if (result && client_) gateway_.return_results(client_, {std::move(frame)});
    return;
  }
  // The header counts too: what is queued is what the socket will be sent.
  if (queued_bytes_ + header_size(frame->size()) + frame->size() > max_queue_bytes_) {
    if (result && client_) gateway_.return_results(client_, {std::move(frame)});
    return close_slow_consumer();
  }
  queue(op, std::move(frame));
  queue_.back().result = result;
}

template <class Stream>
void WebSocketSession<Stream>::return_unwritten_results(size_t written) {
  // A write that failed (the peer reset, or the hard close cut a stalled one) wrote a prefix
  // of its frames: a result not wholly in that prefix never reached the client.
  std::vector<Frame> results;
  size_t end = 0;
  for (const auto& out : writing_) {
    end += out.header_len + out.payload->size();
    if (out.result && end > written) results.push_back(out.payload);
  }
  if (!results.empty() && client_) gateway_.return_results(client_, std::move(results));
}

template <class Stream>
void WebSocketSession<Stream>::return_unsent_results() {
  std::vector<Frame> results;
  for (size_t i = queue_head_; i < queue_.size(); ++i) {
    Outgoing& out = queue_[i];
    queued_bytes_ -= out.header_len + out.payload->size();
    if (out.result) results.push_back(std::move(out.payload));
  }
  queue_.clear();
  queue_head_ = 0;
  if (!results.empty() && client_) gateway_.return_results(client_, std::move(results));
}

template <class Stream>
void WebSocketSession<Stream>::close_slow_consumer() {
  count(Metrics::global().slow_consumer_closes_total);
  close(kClosePolicy, "send queue full: read faster, then resume with since");
}

template <class Stream>
void WebSocketSession<Stream>::queue(ws::Opcode op, Frame payload) {
  Outgoing out{std::move(payload), {}, 0};
  out.header_len =
      static_cast<uint8_t>(ws::encode_header(op, out.payload->size(), out.header.data()));
  queued_bytes_ += out.header_len + out.payload->size();
  queue_.push_back(std::move(out));
  if (!write_in_flight_) schedule_flush();
}

// Cork: a frame is not written the moment it is queued. The session joins its worker's list of
// sessions with output, and one task posted behind the work already queued on the worker (the
// rest of a fan-out batch, other batches, other commands) flushes them all. Every frame a
// socket got meanwhile goes out in one gather write: a fan-out of k messages costs one write per
// socket, not k.
namespace {
template <class Session>
struct FlushList {
  std::vector<std::shared_ptr<Session>> sessions;
  bool posted = false;
};
// One per worker thread and stream type.
template <class Session>
thread_local FlushList<Session> flush_list;
}  // namespace

template <class Stream>
void WebSocketSession<Stream>::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  auto& list = flush_list<WebSocketSession>;
  list.sessions.push_back(this->shared_from_this());
  if (list.posted) return;
  list.posted = true;
  asio::post(stream_.get_executor(), [] {
    auto& list = flush_list<WebSocketSession>;
    auto sessions = std::move(list.sessions);
    list.sessions.clear();
    list.posted = false;
    for (auto& s : sessions) {
      s->flush_scheduled_ = false;
      if (!s->write_in_flight_ && s->has_output() && s->state_ != State::closed) s->do_write();
    }
  });
}

// Drops the written prefix of queue_: all of it once drained (the memory goes back if a burst
// grew it), or, for a queue never drained, once it is half the vector (amortised O(1) a frame).
template <class Stream>
void WebSocketSession<Stream>::compact_queue() {
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
    release_if_large(queue_);
  } else if (queue_head_ * 2 >= queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
}

template <class Stream>
void WebSocketSession<Stream>::do_write() {
  // How far behind this reader is: a few KiB normally, near --send-queue-bytes when it is slow.
  Metrics::global().send_queue_bytes.observe(queued_bytes_);
  // Cork: everything queued since the last write goes out in one gather write.
  size_t bytes = 0;
  if (pong_pending_) {
    // The pong goes first (control frames may go between messages, RFC 6455 5.4): a client
    // timing its round trip with pings should not wait behind a backlog of messages.
    Outgoing out{make_frame(std::move(pong_)), {}, 0};
    pong_.clear();
    pong_pending_ = false;
    out.header_len = static_cast<uint8_t>(
        ws::encode_header(ws::Opcode::pong, out.payload->size(), out.header.data()));
    bytes += out.header_len + out.payload->size();
    writing_.push_back(std::move(out));
  }
  size_t end = queue_head_;
  for (; end < queue_.size(); ++end) {
    size_t size = queue_[end].header_len + queue_[end].payload->size();
    if (bytes != 0 && bytes + size > kMaxWriteBytes) break;
    bytes += size;
  }
  if (writing_.empty() && queue_head_ == 0 && end == queue_.size()) {
    writing_.swap(queue_);  // the whole queue goes out (the usual case): no frame moves
    queue_head_ = 0;
  } else {
    for (; queue_head_ < end; ++queue_head_) writing_.push_back(std::move(queue_[queue_head_]));
  }
  compact_queue();
  write_in_flight_ = true;
  // The buffers point into writing_, which does not change again until the write completes.
  FrameBuffers<std::vector<Outgoing>> buffers(writing_);
  size_t written = 0;
  if constexpr (!is_tls_v<Stream>) {
    // First what the socket takes right now (the socket is non-blocking): a reader keeping up
    // has room, and the write is then one sendmsg, with no operation allocated, started,
    // completed and posted back. The caller (the flush task) holds this session meanwhile.
    boost::system::error_code ec;
    written = stream_.write_some(buffers, ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      return on_written(ec, written, bytes);
    }
    if (written == bytes) return on_written({}, written, bytes);
  }
  // The rest waits for the socket to drain.
  beast::buffers_suffix<FrameBuffers<std::vector<Outgoing>>> rest(buffers);
  rest.consume(written);
  asio::async_write(
      stream_, rest,
      [self = this->shared_from_this(), bytes, written](boost::system::error_code ec, size_t more) {
        self->on_written(ec, written + more, bytes);
      });
}

template <class Stream>
void WebSocketSession<Stream>::on_written(boost::system::error_code ec, size_t written,
                                          size_t bytes) {
  write_in_flight_ = false;
  queued_bytes_ -= bytes;
  if (ec) return_unwritten_results(written);
  writing_.clear();
  release_if_large(writing_);
  if (ec || state_ == State::closed) return finish();
  if (has_output()) return schedule_flush();
  if (close_queued_) {
    // Our close frame is out: no more data from us. The client's close frame (or its hang-up,
    // or the drain limit, or the hard-close timer) ends the connection. After a protocol error
    // its close frame cannot be told apart: its FIN (or a limit) ends it.
    close_sent_ = true;
    boost::system::error_code ignored;
    // Under TLS too, a TCP half-close without close_notify: a read is in flight on the TLS
    // stream, and OpenSSL's shutdown would need it.
    tcp_socket(stream_).shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    if (peer_closed_) finish();
  }
}

// ---- closing --------------------------------------------------------------------------------

template <class Stream>
void WebSocketSession<Stream>::close(uint16_t code, std::string reason) {
  if (state_ != State::open) return;
  state_ = State::closing;
  if (client_) client_->closing = true;
  // A slow consumer's backlog is dropped (it resumes with `since`); any other close first
  // flushes what is queued, results included. The close frame goes last.
  if (code == kClosePolicy) {
    return_unsent_results();
    if (pong_pending_) queued_bytes_ -= kControlHeader + pong_.size();
    pong_.clear();
    pong_pending_ = false;
  }
  close_queued_ = true;
  queue(ws::Opcode::close, make_frame(ws::close_payload(code, reason)));
  // Re-arming the hook in the hard-close list takes it out of the keepalive list.
  deadlines().hard_close.arm(*this, DeadlineList::Clock::now() + kHardCloseAfter,
                             &on_hard_close_due);
  // Tell the gateway soon (not from inside a fan-out loop that may have called us): the client
  // leaves its rooms now, not when the socket is finally gone.
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    if (self->client_) self->gateway_.on_close(self->client_);
  });
}

template <class Stream>
void WebSocketSession<Stream>::arm_keepalive() {
  deadlines().keepalive.arm(*this, DeadlineList::Clock::now() + kKeepaliveTick, &on_keepalive_due);
}

template <class Stream>
void WebSocketSession<Stream>::on_keepalive_due(DeadlineHook& hook) {
  // Linked, the session is alive (a read is pending, and finish() unlinks it): held for the call.
  static_cast<WebSocketSession&>(hook).shared_from_this()->keepalive_tick();
}

template <class Stream>
void WebSocketSession<Stream>::on_hard_close_due(DeadlineHook& hook) {
  static_cast<WebSocketSession&>(hook).shared_from_this()->finish();
}

template <class Stream>
void WebSocketSession<Stream>::keepalive_tick() {
  if (state_ != State::open) return;
  if (got_data_) {
    idle_ticks_ = 0;
  } else if (++idle_ticks_ >= kMaxIdleTicks) {
    return finish();  // a peer that answers nothing is gone
  } else if (queued_bytes_ + kControlHeader > max_queue_bytes_) {
    return close_slow_consumer();  // our own ping counts against the queue too
  } else {
    queue(ws::Opcode::ping, make_frame(""));
  }
  got_data_ = false;
  arm_keepalive();
}

template <class Stream>
void WebSocketSession<Stream>::finish() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  DeadlineList::cancel(*this);
  boost::system::error_code ignored;
  tcp_socket(stream_).close(ignored);
  // What never reached the socket: results go to the session, the rest is dropped.
  return_unsent_results();
  if (client_) gateway_.on_close(client_);
}

template class WebSocketSession<asio::ip::tcp::socket>;
template class WebSocketSession<TlsStream>;

}  // namespace parley

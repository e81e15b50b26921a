#pragma once
// Sessions across instances. A client may drop and come back through any instance of a
// cluster: the news that a session connected somewhere (a claim), and the results addressed to
// where it is, travel on this bus. The single node has none (null in Services).
//
// The order of the claims on the bus decides, not wall clocks: the session's home is the
// instance of its last claim, and of two connections of a session the one claimed later is the
// newer.
//
// Traces: what is published carries the trace of the calling thread's log scope
// (runtime/log_trace.h), that is the command a result answers, or the connection a claim is
// for; the handlers run in the scope of the record's trace, so their log lines name it too.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace parley {

class SessionBus {
 public:
  struct Handlers {
    // A result addressed to this instance by another one, where the session is not connected.
    std::function<void(const std::string& user, const std::string& session, std::string frame)>
        result;
    // Another instance's claim of the session, read after every claim before it: results kept
    // here for the session go to @p instance, and a connection here whose claim was read back
    // before this one is older and taken over.
    std::function<void(const std::string& user, const std::string& session,
                       const std::string& instance)>
        claimed;
    // This instance's claim for its connection @p connection, read back from the bus: any other
    // instance's claim read from now on is newer than that connection.
    std::function<void(const std::string& user, const std::string& session, uint64_t connection)>
        confirmed;
  };

  virtual ~SessionBus() = default;
  /// A result for a session not connected here, addressed to instance @p to (fire and forget).
  virtual void publish_result(const std::string& user, const std::string& session,
                              const std::string& frame, const std::string& to) = 0;
  /// The session connected here, as connection @p connection.
  virtual void publish_claim(const std::string& user, const std::string& session,
                             uint64_t connection) = 0;
  /// The instance of the session's last claim read so far, if it is another instance (and the
  /// claim is younger than the session keep time); empty if it is this one or none is known.
  virtual std::string home_elsewhere(const std::string& user, const std::string& session) = 0;
  /// Registers what the bus says. Called once, before start.
  virtual void subscribe(Handlers handlers) = 0;
};

using SessionBusPtr = std::shared_ptr<SessionBus>;

}  // namespace parley

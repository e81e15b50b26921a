#pragma once
// Sessions across instances. A client may drop and come back through any instance of a
// cluster: the results that found its session offline, and the news that the session is now
// connected somewhere, travel on this bus. The single node has none (null in Services).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace parley {

class SessionBus {
 public:
  struct Handlers {
    // A result kept by another instance for a session that was not connected there.
    std::function<void(const std::string& user, const std::string& session, std::string frame)>
        result;
    // The session connected to another instance at @p at_ms (wall clock): results kept here for
    // it are stale, and a connection of it here that is older has been taken over.
    std::function<void(const std::string& user, const std::string& session, int64_t at_ms)> claimed;
  };

  virtual ~SessionBus() = default;
  /// A result for a session not connected here (fire and forget).
  virtual void publish_result(const std::string& user, const std::string& session,
                              const std::string& frame) = 0;
  /// The session connected here at @p at_ms (wall clock).
  virtual void publish_claim(const std::string& user, const std::string& session,
                             int64_t at_ms) = 0;
  /// Registers what other instances say. Called once, before start.
  virtual void subscribe(Handlers handlers) = 0;
};

using SessionBusPtr = std::shared_ptr<SessionBus>;

}  // namespace parley

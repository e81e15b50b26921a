#pragma once
// Services wired with every fake, for use-case tests: the fakes answer synchronously, so a
// use case's `done` has run by the time handle() returns.
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "app/room_changes.h"
#include "app/services.h"
#include "fakes/fake_dead_letters.h"
#include "fakes/fake_message_log.h"
#include "fakes/fake_password_hasher.h"
#include "fakes/fake_room_events.h"
#include "fakes/fake_room_store.h"
#include "fakes/fake_token_signer.h"
#include "fakes/fake_user_store.h"
#include "fakes/inline_executor.h"
#include "fakes/manual_clock.h"

namespace parley::fakes {

struct FakeServices {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<FakeMessageLog> log = std::make_shared<FakeMessageLog>(clock);
  std::shared_ptr<FakeRoomStore> rooms = std::make_shared<FakeRoomStore>(clock);
  std::shared_ptr<FakeUserStore> users = std::make_shared<FakeUserStore>();
  std::shared_ptr<FakeDeadLetters> dead_letters = std::make_shared<FakeDeadLetters>();
  std::shared_ptr<FakePasswordHasher> hasher = std::make_shared<FakePasswordHasher>();
  std::shared_ptr<FakeTokenSigner> tokens = std::make_shared<FakeTokenSigner>();
  std::shared_ptr<InlineExecutor> blocking = std::make_shared<InlineExecutor>();
  std::shared_ptr<FakeRoomEvents> events = std::make_shared<FakeRoomEvents>();
  Services services;

  explicit FakeServices(Limits limits = {}) : services(limits) {
    services.clock = clock;
    services.log = log;
    services.history = log;
    services.rooms = rooms;
    services.users = users;
    services.dead_letters = dead_letters;
    services.hasher = hasher;
    services.tokens = tokens;
    services.blocking = blocking;
    services.events = events;
    rooms->on_change([this](const RoomChange& c) { apply_room_change(services, c); });
  }

  /// A room known to both the store and the in-memory directory, as after start-up.
  void add_room(const std::string& name, RoomKind kind, std::set<std::string> members = {},
                const std::string& creator = "alice") {
    Room room{name, kind, creator, clock->now_ms(), std::move(members)};
    rooms->put(room);
    services.directory.add_room(std::move(room));
  }
  /// A registered user (the password hashed by the fake hasher).
  void add_user(const std::string& name, const std::string& password = "correct horse") {
    users->put(name, FakePasswordHasher::encode(password));
  }
};

/// Catches the one answer of a use case. Every use case answers exactly once: a second answer
/// fails the test.
template <typename T>
struct Answer {
  std::optional<Result<T>> result;
  int calls = 0;

  std::function<void(Result<T>)> done() {
    return [this](Result<T> r) {
      ++calls;
      result.emplace(std::move(r));
    };
  }
  bool answered() const { return calls == 1 && result.has_value(); }
  bool ok() const { return answered() && result->ok(); }
  const T& value() const { return result->value(); }
  /// The error code, or nullopt if the answer was a value or there was none.
  std::optional<Errc> code() const {
    if (!answered() || result->ok()) return std::nullopt;
    return result->error().code;
  }
};

}  // namespace parley::fakes

// The single node: one SQLite database behind every driven port.
#include <filesystem>

#include "adapters/crypto/jwt_token_signer.h"
#include "adapters/sqlite/sqlite_storage.h"
#include "app/room_changes.h"
#include "cli/wiring.h"

namespace parley {

Wiring wire_embedded(const ServeOptions& o, Services& services) {
  std::filesystem::create_directories(o.data);
  SqliteOptions storage_options{(std::filesystem::path(o.data) / "parley.db").string(),
                                o.sync == "full"};
  storage_options.write_queue_max_jobs = storage_options.read_queue_max_jobs = o.storage_queue_jobs;
  storage_options.write_queue_max_bytes = storage_options.read_queue_max_bytes =
      o.storage_queue_bytes;
  auto storage = std::make_shared<SqliteStorage>(storage_options, services.clock);
  services.log = storage;
  services.history = storage;
  services.rooms = storage;
  services.users = storage;
  services.dead_letters = storage;
  services.tokens = std::make_shared<JwtTokenSigner>(JwtTokenSigner::load_or_create_secret(
      (std::filesystem::path(o.data) / "token.key").string()));
  services.directory.load(storage->load_rooms());
  storage->on_change([&services](const RoomChange& c) { apply_room_change(services, c); });
  return Wiring{[storage] { storage->start(); }, [storage] { storage->stop(); },
                "data in " + o.data + ", epoch " + storage->epoch()};
}

}  // namespace parley

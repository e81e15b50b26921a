// A gateway instance of a cluster: Kafka is the log, PostgreSQL the history and the accounts.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "adapters/cluster/cluster_dead_letters.h"
#include "adapters/cluster/cluster_events.h"
#include "adapters/cluster/cluster_log.h"
#include "adapters/cluster/session_bus.h"
#include "adapters/crypto/jwt_token_signer.h"
#include "adapters/crypto/random_hex.h"
#include "adapters/kafka/kafka_admin.h"
#include "adapters/kafka/kafka_config.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/postgres/pg_store.h"
#include "app/room_changes.h"
#include "cli/cluster_key.h"
#include "cli/cluster_settings.h"
#include "cli/wiring.h"
#include "runtime/thread_pool_executor.h"

namespace parley {

KafkaOptions kafka_options(const ClusterFlags& flags) {
  KafkaOptions k;
  k.bootstrap = flags.kafka;
  k.topic_prefix = flags.topic_prefix;
  k.partitions = flags.partitions;
  k.replication = flags.replication;
  for (const auto& kv : flags.kafka_config) k.overrides.push_back(parse_kafka_property(kv));
  return k;
}

ClusterEngines open_cluster_engines(const ClusterFlags& flags) {
  if (flags.kafka.empty() || flags.postgres.empty()) {
    throw std::runtime_error("a cluster role needs both --kafka and --postgres");
  }
  ClusterEngines e;
  e.kafka = kafka_options(flags);
  ensure_topics(e.kafka);
  PgStoreOptions pg;
  pg.conninfo = flags.postgres;
  pg.messages_topic = e.kafka.messages();
  // A PostgreSQL that is still starting, or slow on a loaded machine, is waited for a while:
  // instances and persisters are often started together with it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      e.store = std::make_shared<PgStore>(pg);
      break;
    } catch (const std::exception& error) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      spdlog::warn("PostgreSQL not ready ({}); trying again", error.what());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  check_cluster_settings(e.kafka, *e.store, flags.dedupe_window);
  e.kafka.mac = load_cluster_key(flags.cluster_key_file, *e.store);
  return e;
}

namespace {

// One name per process: an instance restarted under the same name must not take the answers
// meant for its previous life, whose records may still be in the log.
std::string origin_of(const std::string& instance) {
  return instance + "/" + random_hex(6);
}

}  // namespace

Wiring wire_cluster(const ServeOptions& o, Services& services, const std::string& instance) {
  auto [kafka, store] = open_cluster_engines(o.cluster);
  // Two handles: the log's records (sends, rooms) on one, which the ttl sweeper may purge and
  // which probes Kafka for /readyz; session results, events and dead letters on the other, so a
  // purge (per handle in librdkafka) never drops them.
  auto producer = std::make_shared<KafkaProducer>(kafka);
  auto log_producer = std::make_shared<KafkaProducer>(kafka, kafka.messages());

  std::string secret;
  if (!o.token_key_file.empty()) {
    secret = JwtTokenSigner::load_or_create_secret(o.token_key_file);
  } else {
    auto shared = store->shared_setting("token_key", [] { return random_hex(32); });
    if (!shared) throw std::runtime_error("cannot read the token key: " + shared.error().message);
    secret = *shared;
  }
  services.tokens = std::make_shared<JwtTokenSigner>(secret);

  ClusterLogOptions log_options;
  log_options.origin = origin_of(instance);
  log_options.dedupe_window = o.cluster.dedupe_window;
  log_options.fetch_wait_ms = o.cluster.log_fetch_wait_ms;
  // History reads may wait for Kafka (a watermark, a range past PostgreSQL): threads of their
  // own, so that they never hold up password hashing on services.blocking.
  auto readers = std::make_shared<ThreadPoolExecutor>(4);
  auto log = std::make_shared<ClusterLog>(log_options, kafka, log_producer, store, services.clock,
                                          readers);
  log->load();
  services.log = log;
  services.history = log;
  services.rooms = log;
  services.users = store;
  services.dead_letters =
      std::make_shared<ClusterDeadLetters>(log_options.origin, kafka, producer, store);
  auto bus = std::make_shared<KafkaSessionBus>(log_options.origin, kafka, producer, services.clock);
  services.sessions = bus;
  ClusterEventsOptions events_options;
  events_options.instance = log_options.origin;
  auto events = std::make_shared<ClusterEvents>(events_options, kafka, producer, services.clock);
  services.remote_presence = events;
  events->share_quota(&services.limiter);
  services.directory.load(log->load_rooms());
  log->on_change([&services](const RoomChange& c) { apply_room_change(services, c); });
  // An instance reads only the partitions its clients use: the changes its own commands made
  // reach the others on the events topic too (a new public room is announced to everyone).
  log->on_own_change([events](const RoomChange& c) { events->publish_room_change(c); });
  events->on_room_change([&services](const RoomChange& c) { apply_room_change(services, c); });
  services.readiness = [store, producer, log_producer, log]() -> Status {
    if (!store->healthy()) return make_error(Errc::unavailable, "PostgreSQL is unreachable");
    // log_producer: an active probe (a silent partition shows within seconds); both: false
    // while a handle is replaced after a fatal error.
    if (!log_producer->reachable() || !producer->reachable()) {
      return make_error(Errc::unavailable, "Kafka is unreachable");
    }
    if (!log->caught_up()) return make_error(Errc::unavailable, "catching up with the log");
    return Ok{};
  };
  std::string description =
      "kafka " + kafka.bootstrap + ", topics " + kafka.messages() + ", epoch " + log->epoch();
  return Wiring{[log, bus, events, &services] {
                  // The gateway's fan-out is in place by now: room events go through the
                  // cluster's, which tells the other instances.
                  events->start(services.events);
                  services.events = events;
                  bus->start();
                  log->follow();
                },
                [log, producer, log_producer, store, bus, events, readers] {
                  events->stop();
                  bus->stop();
                  log->stop();
                  readers->stop();
                  log_producer->stop();
                  producer->stop();
                  store->stop();
                },
                description};
}

}  // namespace parley

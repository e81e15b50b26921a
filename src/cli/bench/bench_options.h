#pragma once
// The flags of `parley bench`, one struct for every scenario (each reads what it needs).
#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

struct BenchOptions {
  std::string scenario;           // fanout | rooms | idle | connect-storm | history
  std::vector<std::string> urls;  // several: a cluster, connections spread round-robin
  double rate = 100;              // fanout/rooms: messages/s in total; storm: connects/s;
                                  // history: pages/s
  double duration_s = 10;
  double warmup_s = 2;
  double drain_s = 5;  // after the last send: how long deliveries may still arrive
  size_t size = 100;   // message text bytes
  int members = 100;   // fanout: the room's members; rooms: members per room
  int rooms = 10;
  int senders = 10;       // fanout: members that send (rooms: everyone sends)
  int connections = 100;  // idle: connections held; history: readers
  int conns_per_user = 50;
  std::string user_prefix;  // default: "b" + a per-run random suffix
  std::string password = "bench-password-1";
  int register_concurrency = 4;
  double connect_timeout_s = 10;
  // idle
  int server_pid = 0;  // 0: find the local server listening on the first URL's port
  // connect-storm
  bool hold = false;         // keep storm connections open (a ramp) instead of closing each at once
  bool reconnect = false;    // open the storm's connections, drop them all, reopen at --rate
  double retry_for_s = 120;  // --reconnect: a client gives up this long after its due time
  int background = 100;      // connected clients measured during the storm (0: none)
  double background_rate = 200;  // their sends per second, in total
  // history
  std::string via = "ws";  // ws | http
  int page_size = 50;
  int messages = 500;  // history: messages written to the room first
  // --step
  bool step = false;
  double step_factor = 1.5;
  double p99_bound_ms = 50;
  int max_steps = 12;
  bool json = false;
};

}  // namespace parley::bench

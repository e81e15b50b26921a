#include "adapters/kafka/record_mac.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "app/metrics.h"

namespace parley {

namespace {

// Domain separation: the same key may never MAC anything else the same way.
constexpr std::string_view kDomain{"parley-record-v1\0", 17};
// Records with a traceparent header: their own tag, so that one with the header stripped (or
// one without it given a header) never verifies under the other construction.
constexpr std::string_view kTracedDomain{"parley-record-traced-v1\0", 24};

void update(crypto_generichash_blake2b_state& st, std::string_view bytes) {
  crypto_generichash_blake2b_update(&st, reinterpret_cast<const unsigned char*>(bytes.data()),
                                    bytes.size());
}

// A length prefix: topic and key are variable, so ("ab","c") and ("a","bc") must differ.
void update_length(crypto_generichash_blake2b_state& st, size_t n) {
  const unsigned char be[4] = {static_cast<unsigned char>(n >> 24),
                               static_cast<unsigned char>(n >> 16),
                               static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  crypto_generichash_blake2b_update(&st, be, sizeof be);
}

}  // namespace

RecordMac::RecordMac(const Key& key) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  crypto_generichash_blake2b_init(&keyed_, key.data(), key.size(), kTagBytes);
  keyed_traced_ = keyed_;
  update(keyed_, kDomain);
  update(keyed_traced_, kTracedDomain);
}

std::optional<RecordMac> RecordMac::from_hex(std::string_view hex) {
  auto blank = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!hex.empty() && blank(hex.front())) hex.remove_prefix(1);
  while (!hex.empty() && blank(hex.back())) hex.remove_suffix(1);
  if (hex.size() != 2 * kKeyBytes) return std::nullopt;
  Key key{};
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != kKeyBytes || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  RecordMac mac(key);
  sodium_memzero(key.data(), key.size());
  return mac;
}

std::string RecordMac::random_hex_key() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  Key key{};
  randombytes_buf(key.data(), key.size());
  std::string hex(2 * kKeyBytes + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  hex.pop_back();
  sodium_memzero(key.data(), key.size());
  return hex;
}

RecordMac::Tag RecordMac::sign(std::string_view topic, std::string_view key, std::string_view value,
                               std::string_view traceparent) const {
  crypto_generichash_blake2b_state st = traceparent.empty() ? keyed_ : keyed_traced_;
  update_length(st, topic.size());
  update(st, topic);
  update_length(st, key.size());
  update(st, key);
  if (!traceparent.empty()) {
    update_length(st, traceparent.size());
    update(st, traceparent);
  }
  update(st, value);  // last: its length needs no prefix
  Tag tag{};
  crypto_generichash_blake2b_final(&st, tag.data(), tag.size());
  return tag;
}

bool RecordMac::verify(std::string_view topic, std::string_view key, std::string_view value,
                       std::string_view tag, std::string_view traceparent) const {
  if (tag.size() != kTagBytes) return false;
  Tag expected = sign(topic, key, value, traceparent);
  return sodium_memcmp(expected.data(), tag.data(), kTagBytes) == 0;
}

std::string RecordMac::fingerprint() const {
  Tag tag = sign("parley-key-fingerprint", {}, {});
  std::string hex(17, '\0');
  sodium_bin2hex(hex.data(), hex.size(), tag.data(), 8);
  hex.pop_back();
  return hex;
}

void note_rejected(std::string_view topic, int32_t partition, int64_t offset, const char* why) {
  count(Metrics::global().records_rejected_total[Metrics::record_topic_index(topic)]);
  // One line a second at most: a flood of forged records must not become a flood of logs.
  static std::atomic<int64_t> last_ms{0};
  static std::atomic<uint64_t> quiet{0};
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t last = last_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) {
    quiet.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  spdlog::warn("{} partition {} offset {}: {}; record dropped ({} more dropped unlogged)", topic,
               partition, offset, why, quiet.exchange(0, std::memory_order_relaxed));
}

}  // namespace parley

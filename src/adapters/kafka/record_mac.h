#pragma once
// Authenticated records. Every record parley writes to Kafka carries, in its `parley-mac`
// header, a MAC under the cluster's shared key over the topic, the key and the value: a record
// written by anyone without the key (Kafka write access is not trusted) is told apart from the
// cluster's own, and a genuine record copied to another topic does not verify there.
// A record that carries a `traceparent` header (a command's trace, trace_context.h) has it
// covered too, under a second domain tag: a writer without the key can neither attach a trace
// to a genuine record nor strip one from it (either way the tag no longer verifies).
// Keyed BLAKE2b-256 (libsodium's crypto_generichash with a key, its MAC mode). Readers check it
// before anything reads the record (Consumed::authentic); a record that fails is dropped and
// counted (note_rejected).
//
// Cheap and never throwing on the hot path: the keyed state is computed once, and each record
// costs a copy of it and one pass over its bytes (under a microsecond for a send record,
// docs/benchmarks.md; HMAC-SHA-512-256, crypto_auth, measured 2.5-3x keyed BLAKE2b here).
#include <sodium.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

class RecordMac {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kTagBytes = crypto_generichash_blake2b_BYTES;
  static constexpr const char* kHeader = "parley-mac";
  static constexpr const char* kTraceHeader = "traceparent";
  using Key = std::array<unsigned char, kKeyBytes>;
  using Tag = std::array<unsigned char, kTagBytes>;

  explicit RecordMac(const Key& key);
  /// The key from 64 hex digits (whitespace around them ignored); nullopt if malformed.
  static std::optional<RecordMac> from_hex(std::string_view hex);
  /// A new random key, as 64 hex digits (randombytes_buf).
  static std::string random_hex_key();

  /// The tag of a record of @p topic (its full name, prefix included), with its `traceparent`
  /// header if @p traceparent is not empty.
  Tag sign(std::string_view topic, std::string_view key, std::string_view value,
           std::string_view traceparent = {}) const;
  /// Whether @p tag is the tag of that record (constant time).
  bool verify(std::string_view topic, std::string_view key, std::string_view value,
              std::string_view tag, std::string_view traceparent = {}) const;
  /// A name of the key that does not reveal it (16 hex digits): roles compare keys by it.
  std::string fingerprint() const;

 private:
  crypto_generichash_blake2b_state keyed_;         // after the key and the domain tag
  crypto_generichash_blake2b_state keyed_traced_;  // the same, with the traced records' tag
};

/// Counts a record dropped for want of a valid MAC (Metrics::records_rejected_total, by topic)
/// and logs it, at most one line a second (the rest are counted in the next line).
void note_rejected(std::string_view topic, int32_t partition, int64_t offset, const char* why);

}  // namespace parley

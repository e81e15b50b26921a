#include "adapters/ws/session_id.h"

#include <sodium.h>

#include <array>
#include <cstdint>

namespace parley::ws {

bool init_session_ids() {
  return sodium_init() >= 0;  // 1 when already initialised: still usable
}

std::string new_session_id() {
  std::array<uint8_t, 16> bytes;
  randombytes_buf(bytes.data(), bytes.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::array<char, sodium_base64_ENCODED_LEN(16, kVariant)> text;  // 22 chars and the NUL
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(), kVariant);
  return std::string(text.data());
}

}  // namespace parley::ws

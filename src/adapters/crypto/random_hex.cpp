#include "adapters/crypto/random_hex.h"

#include <sodium.h>

#include <vector>

namespace parley {

std::string random_hex(size_t bytes) {
  if (bytes == 0) return {};  // libsodium must not be handed an empty vector's null data()
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();  // the NUL sodium_bin2hex writes
  return hex;
}

}  // namespace parley

// Codec frames for the fuzz targets: a CRC-32 closes every frame (conflict/codec.h), which a
// mutation almost never keeps right, so targets also try each input with its CRC repaired
// and reach the Cap'n Proto decoding and the invariant checks behind it.
#pragma once

#include <string>
#include <string_view>

#include "conflict/codec.h"

namespace sb::fuzz {

inline std::string WithFixedCrc(std::string_view bytes) {
  std::string out(bytes);
  if (out.size() < 8) return out;
  uint32_t crc = Crc32(std::string_view(out).substr(0, out.size() - 4));
  for (size_t i = 0; i < 4; ++i) {
    out[out.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  }
  return out;
}

}  // namespace sb::fuzz

// Codec frames for the fuzz targets: a CRC-32 closes every frame (conflict/codec.h), which a
// mutation almost never keeps right, so targets also try each input with its CRC repaired
// and reach the Cap'n Proto decoding and the invariant checks behind it.
#pragma once

#include <string>
#include <string_view>

#include "conflict/codec.h"
#include "tests/fuzz/fuzz_util.h"

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

// A state (a record or a directory): what decodes re-encodes canonically and decodes again
// equal, and joining it into itself changes nothing. Tried as given and with the CRC repaired.
template <class State>
void CheckState(std::string_view in, Result<State> (*decode)(std::string_view),
                std::string (*encode)(const State&)) {
  for (const std::string& bytes : {std::string(in), WithFixedCrc(in)}) {
    Result<State> s = decode(bytes);
    if (!s.ok()) continue;
    std::string enc = encode(*s);
    Result<State> again = decode(enc);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *s);
    FUZZ_CHECK(encode(*again) == enc);
    State joined = *s;
    joined.Join(*s);
    FUZZ_CHECK(joined == *s);
  }
}

}  // namespace sb::fuzz

// Helpers shared by the libFuzzer targets (tests/fuzz/*_fuzz.cpp).
//
// A target feeds its input to one decoder. A clean refusal (a Status error) is the decoder
// doing its job and never a failure; a failure is a crash, a sanitizer report, or a broken
// property the target checks on what decoded (it re-encodes and decodes again, and the two
// must agree) — reported with FUZZ_CHECK, which aborts so libFuzzer keeps the input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz property broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace sb::fuzz {

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A fixed "now" for checks that take the time: the seeds are made at kSeedTimeMs
// (tests/fuzz/make_seeds.cpp) and the targets judge them a minute later, so a fuzz run is
// reproducible whatever the wall clock says.
inline constexpr uint64_t kSeedTimeMs = 1'700'000'000'000;
inline constexpr uint64_t kNowMs = kSeedTimeMs + 60'000;

// Reads length-prefixed pieces (2 bytes little-endian length, then the bytes) from `in`;
// false when `in` is exhausted. A short last piece takes what is left.
inline bool NextPiece(std::string_view* in, std::string_view* piece) {
  if (in->size() < 2) return false;
  size_t n =
      static_cast<uint8_t>((*in)[0]) | (static_cast<size_t>(static_cast<uint8_t>((*in)[1])) << 8);
  in->remove_prefix(2);
  if (n > in->size()) n = in->size();
  *piece = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

inline void AppendPiece(std::string* out, std::string_view piece) {
  out->push_back(static_cast<char>(piece.size() & 0xFF));
  out->push_back(static_cast<char>((piece.size() >> 8) & 0xFF));
  out->append(piece);
}

}  // namespace sb::fuzz

#include "base/ids.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace sb {
namespace {

// 16 bytes as a version 4, variant 1 UUID.
std::string FormatUuid(unsigned char b[16]) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char buf[37];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return buf;
}

void InitSodium() {
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe can be done
}

class RandomIds final : public IdSource {
 public:
  std::string NewUuid() override {
    InitSodium();
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    return FormatUuid(b);
  }
  uint64_t NewNonZero64() override {
    InitSodium();
    uint64_t id = 0;
    while (id == 0) randombytes_buf(&id, sizeof id);
    return id;
  }
};

}  // namespace

IdSource* IdSource::Random() {
  static RandomIds ids;
  return &ids;
}

uint64_t SeededIds::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string SeededIds::NewUuid() {
  unsigned char b[16];
  for (int half = 0; half < 2; ++half) {
    uint64_t x = Next();
    for (int i = 0; i < 8; ++i) b[half * 8 + i] = static_cast<unsigned char>(x >> (8 * i));
  }
  return FormatUuid(b);
}

uint64_t SeededIds::NewNonZero64() {
  uint64_t id = 0;
  while (id == 0) id = Next();
  return id;
}

std::string NewUuid() {
  return IdSource::Random()->NewUuid();
}

uint64_t RandomReplicaId() {
  return IdSource::Random()->NewNonZero64();
}

std::string RandomToken() {
  InitSodium();
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace sb

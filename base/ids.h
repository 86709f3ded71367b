// Where ids come from. Production draws them from libsodium's CSPRNG; a test or a simulation
// that must repeat a run passes a SeededIds instead (an IdSource is handed in, like a Clock).
// Secrets (bearer tokens, keys) never come from an IdSource: RandomToken is always random.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sb {

class IdSource {
 public:
  virtual ~IdSource() = default;
  // A version 4 UUID, lower-case 8-4-4-4-12 hex.
  virtual std::string NewUuid() = 0;
  // A 64-bit id that is never 0 (a replica id).
  virtual uint64_t NewNonZero64() = 0;

  // The process-wide random source (libsodium). Thread-safe.
  static IdSource* Random();
};

// A repeatable sequence from a seed (SplitMix64): the same seed, the same ids. Not for
// anything an attacker may guess. Not thread-safe.
class SeededIds final : public IdSource {
 public:
  explicit SeededIds(uint64_t seed) : state_(seed) {}
  std::string NewUuid() override;
  uint64_t NewNonZero64() override;

 private:
  uint64_t Next();
  uint64_t state_;
};

// Shorthands for IdSource::Random().
std::string NewUuid();
uint64_t RandomReplicaId();
// A secret bearer token: 32 random bytes as 64 hex characters.
std::string RandomToken();
// Lower-case 8-4-4-4-12 hex.
bool IsUuid(std::string_view s);

}  // namespace sb

// Hybrid logical clock (Kulkarni et al., 2014): 48-bit milliseconds and a 16-bit counter.
// Pure: physical time is passed in by the caller (from a Clock), never read here.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace sb {

struct Hlc {
  uint64_t packed = 0;  // (millis << 16) | counter; integer order is timestamp order

  static constexpr uint64_t kMaxMillis = (uint64_t{1} << 48) - 1;
  static Hlc Make(uint64_t millis, uint16_t counter) { return Hlc{(millis << 16) | counter}; }
  uint64_t millis() const { return packed >> 16; }
  uint16_t counter() const { return static_cast<uint16_t>(packed & 0xffff); }
  std::string ToString() const;  // "1700000000123.4"

  friend auto operator<=>(const Hlc&, const Hlc&) = default;
};

// "3 h 2 min", "4 min 10 s", "45 s", "850 ms": a duration for people (rounded down).
std::string HumanDuration(uint64_t ms);

// The refusal for a clock running ahead of the broker's, in human terms: "this agent's clock is
// 3 h 2 min ahead of the broker's; at most 60 s is allowed: set the clock of ...".
std::string ClockAheadMessage(uint64_t ahead_ms, uint64_t max_skew_ms);

// One replica's clock. Not thread-safe: owned by one event loop.
class HlcClock {
 public:
  // Remote timestamps more than `max_skew_ms` ahead of local physical time are refused.
  explicit HlcClock(uint64_t max_skew_ms = 60'000) : max_skew_ms_(max_skew_ms) {}

  // A timestamp for a local event at physical time `physical_ms`; strictly greater than every
  // timestamp this clock has issued or observed.
  Hlc Now(uint64_t physical_ms);

  // Observes a remote timestamp. Fails with InvalidArgument (and changes nothing) when it is
  // further ahead of `physical_ms` than the allowed skew, so a replica with a wrong clock cannot
  // win every future conflict.
  Status Observe(Hlc remote, uint64_t physical_ms);

  // Checks a remote timestamp against the skew limit without observing it.
  Status CheckSkew(Hlc remote, uint64_t physical_ms) const;

  // Observes a timestamp that was already checked against the skew limit by the replica that
  // relayed it (an agent observes what its broker accepted): the next local timestamp is
  // greater, so an edit made after seeing another is stamped after it even on a replica whose
  // clock is behind.
  void ObserveChecked(Hlc remote, uint64_t physical_ms);

  // Moves the clock to `to`, possibly backwards: for a replica whose clock ran ahead and was
  // set right, whose earlier future timestamps were all refused (see LocalDirectory). Causal
  // order does not rest on timestamps (dots do), so a later edit stamped lower still
  // supersedes what it has seen; timestamps only order concurrent edits.
  void Reset(Hlc to) { last_ = to; }

  Hlc last() const { return last_; }
  uint64_t max_skew_ms() const { return max_skew_ms_; }

 private:
  uint64_t max_skew_ms_;
  Hlc last_;
};

}  // namespace sb

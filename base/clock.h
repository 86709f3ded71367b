// Time enters Switchboard only through a Clock, passed into constructors; only main wires the
// system clock. Tests and the simulator use ManualClock, which moves only when told to.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace sb {

// "2026-11-29T13:23:18.123Z": milliseconds since the epoch, in UTC.
std::string IsoTime(uint64_t millis);

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall time, for HLC and display).
  virtual uint64_t NowMillis() = 0;
  // Monotonic milliseconds (for timeouts, rates and latencies); arbitrary origin.
  virtual uint64_t MonotonicMillis() = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  uint64_t NowMillis() override;
  uint64_t MonotonicMillis() override;
  static SystemClock* Get();  // a process-wide instance for main() to wire in
};

// A clock that moves only when Advance/Set is called. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t start_ms = 1'790'000'000'000) : now_(start_ms) {}
  uint64_t NowMillis() override { return now_.load(); }
  uint64_t MonotonicMillis() override { return now_.load(); }
  void Advance(uint64_t ms) { now_ += ms; }
  void Set(uint64_t ms) { now_ = ms; }

 private:
  std::atomic<uint64_t> now_;
};

}  // namespace sb

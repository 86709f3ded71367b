// Rate-limits log lines per key (an organization, a peer), so that a hostile or broken peer
// cannot fill the disk or drown other events: at most one line per key per interval, and the
// next allowed line says how many were suppressed. Time is passed in.
// Not thread-safe: owned by one event loop.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sb {

class LogLimiter {
 public:
  explicit LogLimiter(uint64_t interval_ms = 10'000, size_t max_keys = 10'000)
      : interval_ms_(interval_ms), max_keys_(max_keys) {}

  // True when a line for `key` may be written now; `*suppressed` is how many were held back
  // since the last one.
  bool Allow(const std::string& key, uint64_t now_ms, uint64_t* suppressed);

 private:
  struct Slot {
    uint64_t last_ms = 0;
    uint64_t suppressed = 0;
    bool used = false;
  };
  uint64_t interval_ms_;
  size_t max_keys_;
  std::map<std::string, Slot> slots_;
};

}  // namespace sb

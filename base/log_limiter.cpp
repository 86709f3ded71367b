#include "base/log_limiter.h"

namespace sb {

bool LogLimiter::Allow(const std::string& key, uint64_t now_ms, uint64_t* suppressed) {
  if (slots_.size() >= max_keys_ && !slots_.count(key)) slots_.clear();  // bounded memory
  Slot& s = slots_[key];
  if (s.used && now_ms < s.last_ms + interval_ms_) {
    ++s.suppressed;
    return false;
  }
  *suppressed = s.suppressed;
  s = Slot{now_ms, 0, true};
  return true;
}

}  // namespace sb

#include "conflict/hlc.h"

#include <algorithm>

namespace sb {

std::string Hlc::ToString() const {
  return std::to_string(millis()) + "." + std::to_string(counter());
}

namespace {
// The successor of `t` within millisecond `ms` >= t.millis(); a full counter spills into the
// next millisecond rather than wrapping (the clock runs ahead by a millisecond at worst).
Hlc Advance(Hlc t, uint64_t ms) {
  if (ms > t.millis()) return Hlc::Make(std::min(ms, Hlc::kMaxMillis), 0);
  if (t.counter() == 0xffff) return Hlc::Make(std::min(t.millis() + 1, Hlc::kMaxMillis), 0);
  return Hlc{t.packed + 1};
}
}  // namespace

Hlc HlcClock::Now(uint64_t physical_ms) {
  last_ = Advance(last_, physical_ms);
  return last_;
}

Status HlcClock::CheckSkew(Hlc remote, uint64_t physical_ms) const {
  if (remote.millis() > physical_ms + max_skew_ms_) {
    return Status::InvalidArgument("clock skew: remote timestamp " + remote.ToString() + " is " +
                                   std::to_string(remote.millis() - physical_ms) +
                                   " ms ahead of local time (limit " +
                                   std::to_string(max_skew_ms_) + " ms)");
  }
  return Status::Ok();
}

Status HlcClock::Observe(Hlc remote, uint64_t physical_ms) {
  RETURN_IF_ERROR(CheckSkew(remote, physical_ms));
  Hlc base = std::max(last_, remote);
  last_ = Advance(base, physical_ms);
  return Status::Ok();
}

}  // namespace sb

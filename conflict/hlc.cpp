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

std::string HumanDuration(uint64_t ms) {
  if (ms < 1000) return std::to_string(ms) + " ms";
  uint64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s";  // "60 s", not "1 min"
  uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  s %= 60;
  auto part = [](uint64_t n, const char* unit) { return std::to_string(n) + " " + unit; };
  if (d > 0) return part(d, "d") + (h > 0 ? " " + part(h, "h") : "");
  if (h > 0) return part(h, "h") + (m > 0 ? " " + part(m, "min") : "");
  if (m > 0) return part(m, "min") + (s > 0 ? " " + part(s, "s") : "");
  return part(s, "s");
}

std::string ClockAheadMessage(uint64_t ahead_ms, uint64_t max_skew_ms) {
  return "this agent's clock is " + HumanDuration(ahead_ms) + " ahead of the broker's; at most " +
         HumanDuration(max_skew_ms) +
         " is allowed: set the clock of the agent's computer right (turn on time "
         "synchronisation, e.g. `timedatectl set-ntp true`); edits stamped that far in the "
         "future would win every conflict, so none are taken until then";
}

Status HlcClock::CheckSkew(Hlc remote, uint64_t physical_ms) const {
  if (remote.millis() > physical_ms + max_skew_ms_) {
    return Status::InvalidArgument("clock skew: remote timestamp " + remote.ToString() + " is " +
                                   HumanDuration(remote.millis() - physical_ms) +
                                   " ahead of local time (at most " + HumanDuration(max_skew_ms_) +
                                   " is allowed)");
  }
  return Status::Ok();
}

void HlcClock::ObserveChecked(Hlc remote, uint64_t physical_ms) {
  last_ = Advance(std::max(last_, remote), physical_ms);
}

Status HlcClock::Observe(Hlc remote, uint64_t physical_ms) {
  RETURN_IF_ERROR(CheckSkew(remote, physical_ms));
  Hlc base = std::max(last_, remote);
  last_ = Advance(base, physical_ms);
  return Status::Ok();
}

}  // namespace sb

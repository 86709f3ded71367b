#include "conflict/mv_register.h"

#include <algorithm>

namespace sb {

MvRegister MvRegister::WriteDelta(const Dot& dot, Value value, Hlc stamp,
                                  CausalContext* delta_context) const {
  MvRegister delta;
  delta.entries_.emplace(dot, RegisterEntry{std::move(value), stamp});
  CollectDots(delta_context);
  delta_context->Add(dot);
  return delta;
}

void MvRegister::CollectDots(CausalContext* context) const {
  for (const auto& [dot, entry] : entries_) context->Add(dot);
}

void MvRegister::Join(const CausalContext& my_ctx, const MvRegister& other,
                      const CausalContext& other_ctx) {
  if (&other == this) return;  // idempotent
  // The usual write: one entry each, and the other's supersedes mine. The general case below
  // would erase mine and copy theirs in; assigning in place keeps my value's buffer.
  if (entries_.size() == 1 && other.entries_.size() == 1) {
    auto& [dot, entry] = *entries_.begin();
    const auto& [their_dot, their_entry] = *other.entries_.begin();
    if (dot != their_dot && other_ctx.Contains(dot) && !my_ctx.Contains(their_dot)) {
      dot = their_dot;  // the only item: no order to keep
      entry = their_entry;
      return;
    }
  }
  // Drop my entries that the other side has seen and no longer holds.
  erase_if(entries_, [&](const auto& mine) {
    return !other.entries_.contains(mine.first) && other_ctx.Contains(mine.first);
  });
  // Take the other's entries that I have not seen.
  for (const auto& [dot, entry] : other.entries_) {
    if (!my_ctx.Contains(dot)) entries_.emplace(dot, entry);
  }
}

namespace {
bool DisplayOrder(const std::pair<Dot, RegisterEntry>& a, const std::pair<Dot, RegisterEntry>& b) {
  // Greater (stamp, replica, counter) first; the dot breaks every remaining tie.
  if (a.second.stamp != b.second.stamp) return a.second.stamp > b.second.stamp;
  return a.first > b.first;
}
}  // namespace

std::optional<std::pair<Dot, RegisterEntry>> MvRegister::Displayed() const {
  if (entries_.empty()) return std::nullopt;
  auto best = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (DisplayOrder(*it, *best)) best = it;
  }
  return *best;
}

std::vector<std::pair<Dot, RegisterEntry>> MvRegister::Siblings() const {
  std::vector<std::pair<Dot, RegisterEntry>> out(entries_.begin(), entries_.end());
  std::sort(out.begin(), out.end(), DisplayOrder);
  return out;
}

}  // namespace sb

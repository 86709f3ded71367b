#include "conflict/aw_set.h"

namespace sb {

AwSet AwSet::AddDelta(const std::string& element, const Dot& dot,
                      CausalContext* delta_context) const {
  AwSet delta = RemoveDelta(element, delta_context);
  delta.elements_[element].insert(dot);
  delta_context->Add(dot);
  return delta;
}

AwSet AwSet::RemoveDelta(const std::string& element, CausalContext* delta_context) const {
  auto it = elements_.find(element);
  if (it != elements_.end()) {
    for (const Dot& d : it->second) delta_context->Add(d);
  }
  return AwSet();
}

void AwSet::CollectDots(CausalContext* context) const {
  for (const auto& [element, dots] : elements_) {
    for (const Dot& d : dots) context->Add(d);
  }
}

void AwSet::Join(const CausalContext& my_ctx, const AwSet& other, const CausalContext& other_ctx) {
  if (&other == this) return;  // idempotent
  static const FlatSet<Dot> kNone;
  erase_if(elements_, [&](auto& mine) {
    auto o = other.elements_.find(mine.first);
    const FlatSet<Dot>& theirs = o == other.elements_.end() ? kNone : o->second;
    erase_if(mine.second,
             [&](const Dot& d) { return !theirs.contains(d) && other_ctx.Contains(d); });
    return mine.second.empty();
  });
  for (const auto& [element, dots] : other.elements_) {
    for (const Dot& d : dots) {
      if (!my_ctx.Contains(d)) elements_[element].insert(d);
    }
  }
}

std::vector<std::string> AwSet::Elements() const {
  std::vector<std::string> out;
  out.reserve(elements_.size());
  for (const auto& [element, dots] : elements_) out.push_back(element);
  return out;
}

}  // namespace sb

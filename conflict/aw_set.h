// Add-wins set of text elements (an observed-remove set as a "dot map" of dot sets): an add
// tags the element with a fresh dot; a remove supersedes only the adds it has seen, so an add
// concurrent with a remove wins. Shares its record's causal context, like MvRegister.
#pragma once

#include <string>
#include <vector>

#include "conflict/causal_context.h"
#include "conflict/flat_map.h"

namespace sb {

namespace internal {
struct Access;
}  // namespace internal

class AwSet {
 public:
  // The delta of adding `element` with `dot`: the element tagged with the new dot; the
  // element's earlier dots go into `delta_context` with the new one (they are replaced).
  AwSet AddDelta(const std::string& element, const Dot& dot, CausalContext* delta_context) const;
  // The delta of removing `element`: no entries; its observed dots go into `delta_context`.
  AwSet RemoveDelta(const std::string& element, CausalContext* delta_context) const;
  void CollectDots(CausalContext* context) const;

  void Join(const CausalContext& my_ctx, const AwSet& other, const CausalContext& other_ctx);

  bool Contains(const std::string& element) const { return elements_.contains(element); }
  std::vector<std::string> Elements() const;  // sorted
  bool empty() const { return elements_.empty(); }

  const FlatMap<std::string, FlatSet<Dot>>& raw() const { return elements_; }

  friend bool operator==(const AwSet&, const AwSet&) = default;

 private:
  friend struct internal::Access;  // conflict/internal/access.h

  FlatMap<std::string, FlatSet<Dot>> elements_;  // element -> live add dots, never empty
};

}  // namespace sb

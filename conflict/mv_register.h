// Multi-value register (a "dot fun" in delta-CRDT terms): each write is tagged with a fresh
// dot and supersedes exactly the entries its writer had seen; concurrent writes stay as
// siblings. The displayed value is the sibling with the greatest (stamp, replica).
//
// A register has no causal context of its own: it shares its record's (see record.h), and its
// join is defined relative to both sides' contexts.
#pragma once

#include <optional>
#include <vector>

#include "conflict/causal_context.h"
#include "conflict/flat_map.h"
#include "conflict/hlc.h"
#include "conflict/value.h"

namespace sb {

namespace internal {
struct Access;
}  // namespace internal

struct RegisterEntry {
  Value value;
  Hlc stamp;
  friend bool operator==(const RegisterEntry&, const RegisterEntry&) = default;
};

class MvRegister {
 public:
  // A register holds one entry unless writes were concurrent: that one is kept inline, so a
  // register costs no allocation of its own.
  using Entries = SmallFlatMap<Dot, RegisterEntry, 1>;

  // The delta of writing `value` with `dot`; `delta_context` receives the new dot and the
  // dots of every entry the write supersedes (all entries of this register).
  MvRegister WriteDelta(const Dot& dot, Value value, Hlc stamp, CausalContext* delta_context) const;
  // Adds the dots of every current entry to `context` (they are superseded by a clear).
  void CollectDots(CausalContext* context) const;

  // Joins `other` (with context `other_ctx`) into this register (with context `my_ctx`):
  // keeps entries both hold, and entries one holds that the other has not seen.
  void Join(const CausalContext& my_ctx, const MvRegister& other, const CausalContext& other_ctx);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // The displayed sibling, if any: greatest (stamp, replica).
  std::optional<std::pair<Dot, RegisterEntry>> Displayed() const;
  // Siblings, displayed one first, then by descending (stamp, replica).
  std::vector<std::pair<Dot, RegisterEntry>> Siblings() const;

  const Entries& entries() const { return entries_; }

  friend bool operator==(const MvRegister&, const MvRegister&) = default;

 private:
  friend struct internal::Access;  // conflict/internal/access.h

  Entries entries_;
};

}  // namespace sb

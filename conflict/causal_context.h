// Dots and causal contexts (Almeida et al., "Delta State Replicated Data Types", 2018).
// A dot names one write: (replica, counter). A causal context is the set of dots a state has
// seen, kept as a version vector plus a "dot cloud" for the dots beyond a gap; the cloud is
// folded into the vector as gaps fill, so the usual case costs one entry per replica.
#pragma once

#include <cstdint>
#include <string>

#include "conflict/flat_map.h"

namespace sb {

using ReplicaId = uint64_t;  // 0 is never a valid replica

// 16 lower-case hex digits, as replicas are shown to users and in logs.
std::string ReplicaHex(ReplicaId r);

struct Dot {
  ReplicaId replica = 0;
  uint64_t counter = 0;  // >= 1
  friend auto operator<=>(const Dot&, const Dot&) = default;
  std::string ToString() const;
};

class CausalContext {
 public:
  // replica -> every counter 1..n seen. The few replicas that write to one record are held
  // inline, so a context costs no allocation of its own until more have written.
  using VersionVector = SmallFlatMap<ReplicaId, uint64_t, 4>;

  bool Contains(const Dot& dot) const;
  // Adds one dot; compacts.
  void Add(const Dot& dot);
  // Forgets one dot (the later dots of its replica move to the cloud). Subtract forgets many
  // at once: a copy of a record that leaves out a field its recipient may not read forgets
  // that field's writes (views.h HideFields), or the recipient would take the values for
  // deleted when they reach it later.
  void Remove(const Dot& dot);
  // The next dot of `replica` (one past the highest it has seen of that replica), not added.
  Dot Next(ReplicaId replica) const;
  // Set union; compacts.
  void Join(const CausalContext& other);
  // Set difference: forgets every dot of `other` (this - other); the result is canonical, as
  // after dot-by-dot Remove of each dot of `other`. Works on version-vector ranges: it costs
  // the entries and cloud dots of both sides, plus the dots that must move to the cloud (a
  // replica's range above the first dot `other` takes from it, less `other`'s dots).
  void Subtract(const CausalContext& other);
  bool empty() const { return vector_.empty() && cloud_.empty(); }
  // True when every dot of `other` is contained in this context.
  bool Includes(const CausalContext& other) const;

  // Inspection, for encoding and tests. After any mutation the representation is canonical:
  // no cloud dot is covered by the vector or continues it, and no vector entry is zero.
  const VersionVector& vector() const { return vector_; }
  const FlatSet<Dot>& cloud() const { return cloud_; }

  // Builds a context from raw parts (decoding); the result is compacted.
  static CausalContext FromParts(VersionVector vector, FlatSet<Dot> cloud);

  friend bool operator==(const CausalContext&, const CausalContext&) = default;
  std::string ToString() const;

 private:
  void Compact();

  VersionVector vector_;  // replica -> every counter 1..n seen
  FlatSet<Dot> cloud_;    // seen dots beyond a gap
};

}  // namespace sb

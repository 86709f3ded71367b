// A directory record: named fields (registers and add-wins sets) sharing one causal context,
// so metadata costs one context per record, not per cell. Deletion is the field `deleted`,
// written like any other: a delete supersedes the values its writer had seen, and an edit
// concurrent with it survives, so delete and edit never lose each other (see views.h for how
// such a record is reported).
//
// Mutators are const and return a delta (a small Record); the caller joins the delta into the
// state. Joining is commutative, associative and idempotent.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "conflict/aw_set.h"
#include "conflict/causal_context.h"
#include "conflict/flat_map.h"
#include "conflict/hlc.h"
#include "conflict/mv_register.h"

namespace sb {

namespace internal {
struct Access;
}  // namespace internal

using Field = std::variant<MvRegister, AwSet>;

// Names every kind shares.
inline constexpr char kDeletedField[] = "deleted";  // boolean register
inline constexpr char kOwnerField[] = "owner";      // the owning organization's id

class Record {
 public:
  Record() = default;
  Record(std::string id, std::string kind) : id_(std::move(id)), kind_(std::move(kind)) {}

  const std::string& id() const { return id_; }
  const std::string& kind() const { return kind_; }
  const CausalContext& context() const { return context_; }
  const FlatMap<std::string, Field>& fields() const { return fields_; }

  // --- Mutations: each returns a delta; nothing changes until the delta is joined. ---
  Record WriteDelta(const std::string& field, Value value, ReplicaId replica, Hlc stamp) const;
  Record AddDelta(const std::string& field, const std::string& element, ReplicaId replica) const;
  Record RemoveDelta(const std::string& field, const std::string& element) const;
  // Writes deleted=true and supersedes every observed value except the owner's.
  Record DeleteDelta(ReplicaId replica, Hlc stamp) const;

  // Joins a delta or a whole state of the same record. Kinds should agree (validation refuses
  // a delta that changes a record's kind); if they do not, the greater name is kept so that
  // join stays a total, commutative operation.
  void Join(const Record& other);

  // --- Reading ---
  const MvRegister* Register(const std::string& field) const;
  const AwSet* Set(const std::string& field) const;
  // The displayed value of a register field, if it has one.
  std::optional<Value> Displayed(const std::string& field) const;
  bool IsDeleted() const;
  std::string Owner() const;  // "" when none

  friend bool operator==(const Record&, const Record&) = default;

 private:
  friend struct internal::Access;  // conflict/internal/access.h

  Record EmptyDelta() const { return Record(id_, kind_); }

  std::string id_;
  std::string kind_;
  CausalContext context_;
  FlatMap<std::string, Field> fields_;  // no empty fields are kept
};

// Taking back an edit the authority (the broker) refused. `refused` is the record part of a
// delta `replica` made; `base` is what the record goes back to: the authority's state of it
// joined with `replica`'s edits still pending (none of which is `refused`). `issued`, if any,
// is `replica`'s own state of the record from before the refusal.
//
// The result is `base` — its values, none of `refused`'s — with a context that also holds:
// - every dot of `replica` that `refused`'s context holds: the refused write's own dots and
//   those of `replica`'s writes it superseded;
// - the top of `issued`'s version-vector range of `replica` (the last write it issued in
//   order for this record; a dot of `replica` only in `issued`'s cloud is not looked at).
// So `replica` never issues those dots again (its Next for the record passes them), and the
// record joins as if the edit had not been made: for any state X holding no value written
// with one of those dots that `base` has not seen (the refused writes reached no one),
//   Retract(base, ...) ⊔ X == Retract(base ⊔ X, ...)
// — the values are those of base ⊔ X (tests/conflict/audience_properties_test.cpp). Other
// replicas' dots in `refused`'s context (the values it superseded) are not kept: the values
// `base` holds stay.
Record Retract(const Record& base, const Record& refused, ReplicaId replica,
               const Record* issued = nullptr);

// What `replica` wrote of `state` that `state` still holds, as a delta to send again to a
// replica that lost it (a broker restored from a backup, store/backup.h): `replica`'s live
// register entries and set element dots, with `state`'s context less the dots of the other
// replicas' live entries. Joined anywhere, it brings `replica`'s values and removes only what
// `state` has seen removed (so values others wrote that `state` still holds stay wherever
// they are). Empty (no fields) when `replica` has no live entry in `state`.
Record AuthoredPart(const Record& state, ReplicaId replica);

// The greatest stamp of `r`'s register entries that is at most `at_most`; Hlc{} when none is.
// A replica's clock observes the stamps of the state it holds: a delta it makes from that state
// is stamped at least as high as every entry in it (codec.h refuses one that is not), and an
// edit made after seeing a value is stamped after it.
Hlc HighestStamp(const Record& r, Hlc at_most = Hlc{~uint64_t{0}});

// A delta as replicas exchange it: the author's replica and clock, and record deltas.
struct Delta {
  ReplicaId author = 0;
  Hlc stamp;
  std::vector<Record> records;
  friend bool operator==(const Delta&, const Delta&) = default;
};

}  // namespace sb

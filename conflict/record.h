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

  // Raw access for decoding; the caller is responsible for the invariant that every entry's
  // dot is in the context (codec.cpp checks it).
  CausalContext& mutable_context() { return context_; }
  FlatMap<std::string, Field>& mutable_fields() { return fields_; }

  friend bool operator==(const Record&, const Record&) = default;

 private:
  Record EmptyDelta() const { return Record(id_, kind_); }

  std::string id_;
  std::string kind_;
  CausalContext context_;
  FlatMap<std::string, Field> fields_;  // no empty fields are kept
};

// A delta as replicas exchange it: the author's replica and clock, and record deltas.
struct Delta {
  ReplicaId author = 0;
  Hlc stamp;
  std::vector<Record> records;
  friend bool operator==(const Delta&, const Delta&) = default;
};

}  // namespace sb

#include "conflict/replica.h"

#include "base/utf8.h"

namespace sb {

Replica::Replica(ReplicaId id, const FieldSchema& schema, uint64_t max_skew_ms)
    : id_(id), schema_(schema), clock_(max_skew_ms) {}

Delta Replica::Wrap(std::vector<Record> records, Hlc stamp) {
  Delta d{id_, stamp, std::move(records)};
  dir_.Join(d);
  return d;
}

Result<const Record*> Replica::Existing(const std::string& id) const {
  const Record* r = dir_.Find(id);
  if (!r) return Status::NotFound("no record " + id);
  return r;
}

Result<Delta> Replica::Set(const std::string& id, const std::string& kind,
                           const std::map<std::string, Value>& fields, uint64_t now_ms) {
  RETURN_IF_ERROR(schema_.ValidateKind(kind));
  if (!MatchesPattern(Pattern::kUuid, id)) {
    return Status::InvalidArgument("record id '" + id + "': " + PatternRule(Pattern::kUuid));
  }
  if (fields.empty()) return Status::InvalidArgument("no fields to write");
  for (const auto& [name, value] : fields) {
    if (name == kDeletedField) {
      return Status::InvalidArgument(kind + "." + name + ": use Delete or Restore");
    }
    RETURN_IF_ERROR(schema_.ValidateValue(kind, name, value));
  }
  const Record* existing = dir_.Find(id);
  if (existing && existing->kind() != kind) {
    return Status::InvalidArgument("record " + id + " is a " + existing->kind() + ", not a " +
                                   kind);
  }
  if (existing && existing->IsDeleted()) {
    return Status::FailedPrecondition("record " + id + " is deleted; restore it first");
  }
  Record base = existing ? *existing : Record(id, kind);
  Record delta(id, kind);
  Hlc stamp = clock_.Now(now_ms);
  // Apply writes one by one to a scratch copy so each new dot is fresh.
  for (const auto& [name, value] : fields) {
    Record d = base.WriteDelta(name, value, id_, stamp);
    base.Join(d);
    delta.Join(d);
  }
  return Wrap({std::move(delta)}, stamp);
}

Result<Delta> Replica::AddElement(const std::string& id, const std::string& field,
                                  const std::string& element, uint64_t now_ms) {
  ASSIGN_OR_RETURN(const Record* r, Existing(id));
  RETURN_IF_ERROR(schema_.ValidateElement(r->kind(), field, element));
  if (r->IsDeleted()) return Status::FailedPrecondition("record " + id + " is deleted");
  const FieldSpec* spec = schema_.Field(r->kind(), field);
  const AwSet* set = r->Set(field);
  if (set && !set->Contains(element) && set->raw().size() >= spec->max_elements) {
    return Status::InvalidArgument(r->kind() + "." + field + ": more than " +
                                   std::to_string(spec->max_elements) + " elements");
  }
  Hlc stamp = clock_.Now(now_ms);
  return Wrap({r->AddDelta(field, element, id_)}, stamp);
}

Result<Delta> Replica::RemoveElement(const std::string& id, const std::string& field,
                                     const std::string& element, uint64_t now_ms) {
  ASSIGN_OR_RETURN(const Record* r, Existing(id));
  RETURN_IF_ERROR(schema_.ValidateElement(r->kind(), field, element));
  if (r->IsDeleted()) return Status::FailedPrecondition("record " + id + " is deleted");
  const AwSet* set = r->Set(field);
  if (!set || !set->Contains(element)) {
    return Status::NotFound(r->kind() + "." + field + " has no element '" + element + "'");
  }
  Hlc stamp = clock_.Now(now_ms);
  return Wrap({r->RemoveDelta(field, element)}, stamp);
}

Result<Delta> Replica::Delete(const std::string& id, uint64_t now_ms) {
  ASSIGN_OR_RETURN(const Record* r, Existing(id));
  if (r->IsDeleted()) return Status::FailedPrecondition("record " + id + " is already deleted");
  Hlc stamp = clock_.Now(now_ms);
  return Wrap({r->DeleteDelta(id_, stamp)}, stamp);
}

Result<Delta> Replica::Restore(const std::string& id, uint64_t now_ms) {
  ASSIGN_OR_RETURN(const Record* r, Existing(id));
  if (!r->IsDeleted()) return Status::FailedPrecondition("record " + id + " is not deleted");
  Hlc stamp = clock_.Now(now_ms);
  return Wrap({r->WriteDelta(kDeletedField, Value(false), id_, stamp)}, stamp);
}

Status Replica::Apply(const Delta& delta, uint64_t now_ms) {
  RETURN_IF_ERROR(clock_.CheckSkew(delta.stamp, now_ms)
                      .WithContext("delta from replica " + std::to_string(delta.author)));
  RETURN_IF_ERROR(ValidateDelta(delta, schema_, dir_));
  RETURN_IF_ERROR(clock_.Observe(delta.stamp, now_ms));
  dir_.Join(delta);
  return Status::Ok();
}

Status ValidateDelta(const Delta& delta, const FieldSchema& schema, const Directory& dir) {
  for (const Record& r : delta.records) {
    RETURN_IF_ERROR(schema.ValidateKind(r.kind()).WithContext("record " + r.id()));
    if (!MatchesPattern(Pattern::kUuid, r.id())) {
      return Status::InvalidArgument("record id '" + Printable(r.id(), 40) +
                                     "': " + PatternRule(Pattern::kUuid));
    }
    if (const Record* existing = dir.Find(r.id()); existing && existing->kind() != r.kind()) {
      return Status::InvalidArgument("record " + r.id() + " is a " + existing->kind() +
                                     "; a delta may not make it a " + r.kind());
    }
    for (const auto& [name, field] : r.fields()) {
      const FieldSpec* spec = schema.Field(r.kind(), name);
      if (!spec) return Status::InvalidArgument(r.kind() + "." + name + ": unknown field");
      bool is_set = spec->type == FieldType::kTextSet;
      if (is_set != std::holds_alternative<AwSet>(field)) {
        return Status::InvalidArgument(r.kind() + "." + name + ": must be " +
                                       FieldTypeName(spec->type));
      }
      if (const auto* reg = std::get_if<MvRegister>(&field)) {
        for (const auto& [dot, e] : reg->entries()) {
          if (e.stamp > delta.stamp) {
            return Status::InvalidArgument(r.kind() + "." + name +
                                           ": value stamped after its delta");
          }
          RETURN_IF_ERROR(schema.ValidateValue(r.kind(), name, e.value));
        }
      } else {
        // No element-count check here: concurrent adds on different replicas legitimately
        // merge into a set larger than one replica may create, and refusing the merged state
        // would stop anti-entropy. The limit applies to local edits (PlanEdit, AddElement).
        const auto& set = std::get<AwSet>(field);
        for (const auto& [element, dots] : set.raw()) {
          RETURN_IF_ERROR(schema.ValidateElement(r.kind(), name, element));
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace sb

#include "conflict/edit.h"

#include <algorithm>
#include <set>

#include "base/utf8.h"

namespace sb {

namespace {

Status CheckShape(const FieldSchema& schema, const Record* existing, const RecordEdit& e) {
  RETURN_IF_ERROR(schema.ValidateKind(e.kind));
  if (!MatchesPattern(Pattern::kUuid, e.id)) {
    return Status::InvalidArgument("id '" + Printable(e.id, 64) +
                                   "': " + PatternRule(Pattern::kUuid));
  }
  if (existing && existing->kind() != e.kind) {
    return Status::InvalidArgument("record " + e.id + " is a " + existing->kind() + ", not a " +
                                   e.kind);
  }
  if (e.remove && (e.restore || !e.values.empty() || !e.sets.empty())) {
    return Status::InvalidArgument("a delete carries no field values");
  }
  if ((e.remove || e.restore) && !existing) return Status::NotFound("no record " + e.id);
  if (e.remove && existing->IsDeleted()) {
    return Status::FailedPrecondition("record " + e.id + " is already deleted");
  }
  if (e.restore && !existing->IsDeleted()) {
    return Status::FailedPrecondition("record " + e.id + " is not deleted");
  }
  if (existing && existing->IsDeleted() && !e.restore && !e.remove) {
    return Status::FailedPrecondition("record " + e.id + " is deleted; restore it first");
  }
  for (const auto& [name, v] : e.values) {
    if (name == kDeletedField) {
      return Status::InvalidArgument(e.kind + "." + name + ": use delete or restore");
    }
    RETURN_IF_ERROR(schema.ValidateValue(e.kind, name, v));
  }
  for (const auto& [name, elements] : e.sets) {
    const FieldSpec* spec = schema.Field(e.kind, name);
    if (!spec) return Status::InvalidArgument(e.kind + "." + name + ": unknown field");
    if (spec->type != FieldType::kTextSet) {
      return Status::InvalidArgument(e.kind + "." + name + ": must be " +
                                     FieldTypeName(spec->type) + ", got a list");
    }
    std::set<std::string> distinct(elements.begin(), elements.end());
    if (distinct.size() > spec->max_elements) {
      return Status::InvalidArgument(e.kind + "." + name + ": more than " +
                                     std::to_string(spec->max_elements) + " elements");
    }
    for (const auto& el : distinct) RETURN_IF_ERROR(schema.ValidateElement(e.kind, name, el));
  }
  return Status::Ok();
}

}  // namespace

Result<PlannedEdit> PlanEdit(const FieldSchema& schema, const Record* existing,
                             const RecordEdit& edit, ReplicaId replica, Hlc stamp) {
  RETURN_IF_ERROR(CheckShape(schema, existing, edit));
  PlannedEdit plan;
  plan.created = existing == nullptr;
  Record base = existing ? *existing : Record(edit.id, edit.kind);
  plan.delta = Record(edit.id, edit.kind);
  auto take = [&](const Record& d, const std::string& field) {
    base.Join(d);
    plan.delta.Join(d);
    if (std::find(plan.changed.begin(), plan.changed.end(), field) == plan.changed.end()) {
      plan.changed.push_back(field);
    }
  };
  if (edit.remove) {
    take(base.DeleteDelta(replica, stamp), kDeletedField);
    return plan;
  }
  if (edit.restore)
    take(base.WriteDelta(kDeletedField, Value(false), replica, stamp), kDeletedField);
  for (const auto& [name, v] : edit.values) {
    const MvRegister* reg = base.Register(name);
    bool same = reg ? (reg->size() == 1 && reg->Displayed()->second.value == v)
                    : std::holds_alternative<Null>(v);
    if (!same) take(base.WriteDelta(name, v, replica, stamp), name);
  }
  for (const auto& [name, elements] : edit.sets) {
    std::set<std::string> want(elements.begin(), elements.end());
    const AwSet* have = base.Set(name);
    // Copied: joining into `base` below may erase the field and invalidate `have`.
    const std::vector<std::string> current = have ? have->Elements() : std::vector<std::string>{};
    if (std::equal(current.begin(), current.end(), want.begin(), want.end())) continue;
    for (const auto& el : current) {
      if (!want.count(el)) take(base.RemoveDelta(name, el), name);
    }
    // A write that changes the contents states all of them: every element it lists is added
    // again (a new dot replacing the element's old ones), so a concurrent write of other
    // contents, which removes only the dots its writer had seen, leaves these elements in
    // (add-wins) — not only the ones this write happened to add. A write of the contents
    // already there changes nothing (as a register's same value), and says so (`unchanged`).
    for (const auto& el : want) take(base.AddDelta(name, el, replica), name);
  }
  std::sort(plan.changed.begin(), plan.changed.end());
  return plan;
}

}  // namespace sb

// Planning an edit of one record: the whole edit is validated against the field schema first
// and turned into one record delta, or refused with the field and the rule it broke. Nothing
// is applied: the caller joins the delta into its state once the delta is durable.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "conflict/field_schema.h"
#include "conflict/record.h"

namespace sb {

struct RecordEdit {
  std::string id;
  std::string kind;
  std::map<std::string, Value> values;                   // scalar fields; Null clears one
  std::map<std::string, std::vector<std::string>> sets;  // set fields: their complete contents
  bool remove = false;   // delete the record (values and sets must then be empty)
  bool restore = false;  // undelete a deleted record (may come with values)
};

struct PlannedEdit {
  Record delta;                      // empty (no fields, empty context) when nothing changes
  std::vector<std::string> changed;  // names of the fields the delta writes, sorted
  bool created = false;              // the record did not exist before
  bool empty() const { return delta.context().empty(); }
};

// Plans `edit` against `existing` (nullptr when the record does not exist yet). Refuses an
// unknown kind, a malformed id, a kind change, unknown fields, wrong types, constraint
// violations, too many set elements, and edits of a deleted record (unless restoring).
// Writes only fields whose displayed value would change (or that are in conflict, which a
// write resolves), so repeating an edit yields an empty delta. A set write that changes the
// contents adds every element it lists again (not only the new ones), so that a concurrent
// write of other contents cannot remove an element this write stated (add-wins).
Result<PlannedEdit> PlanEdit(const FieldSchema& schema, const Record* existing,
                             const RecordEdit& edit, ReplicaId replica, Hlc stamp);

}  // namespace sb

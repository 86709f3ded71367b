// One replica of the directory: its id, its hybrid clock and its state, with the editing
// operations users perform (validated against the field schema) and the application of deltas
// received from others (validated, then joined). Pure: time is passed in as milliseconds.
// Not thread-safe; owned by one event loop.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "conflict/directory.h"
#include "conflict/field_schema.h"
#include "conflict/hlc.h"

namespace sb {

class Replica {
 public:
  Replica(ReplicaId id, const FieldSchema& schema, uint64_t max_skew_ms = 60'000);

  ReplicaId id() const { return id_; }
  const Directory& state() const { return dir_; }
  const FieldSchema& schema() const { return schema_; }
  HlcClock& clock() { return clock_; }

  // Creates the record if it does not exist (with `kind`) and writes each field. Every value is
  // validated first; on any error nothing changes and the error names the field and the rule.
  // Writing a record of another kind, or editing a deleted record, is refused.
  Result<Delta> Set(const std::string& id, const std::string& kind,
                    const std::map<std::string, Value>& fields, uint64_t now_ms);
  Result<Delta> AddElement(const std::string& id, const std::string& field,
                           const std::string& element, uint64_t now_ms);
  Result<Delta> RemoveElement(const std::string& id, const std::string& field,
                              const std::string& element, uint64_t now_ms);
  Result<Delta> Delete(const std::string& id, uint64_t now_ms);
  // Writes deleted=false on a deleted record, keeping whatever values it still has.
  Result<Delta> Restore(const std::string& id, uint64_t now_ms);

  // Validates a delta from another replica (kinds, fields, types, constraints, clock skew)
  // and joins it. On error nothing changes. Joining a delta already seen changes nothing.
  Status Apply(const Delta& delta, uint64_t now_ms);

 private:
  Result<const Record*> Existing(const std::string& id) const;
  Delta Wrap(std::vector<Record> records, Hlc stamp);

  ReplicaId id_;
  const FieldSchema& schema_;
  HlcClock clock_;
  Directory dir_;
};

// Checks every record of `delta` against `schema`: known kind, known fields of the right type,
// values within their constraints, a kind that matches the record already in `dir`.
Status ValidateDelta(const Delta& delta, const FieldSchema& schema, const Directory& dir);

}  // namespace sb

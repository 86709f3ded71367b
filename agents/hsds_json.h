// HSDS 3.0 JSON in and out of the directory, and JSON views of records for the local API.
//
// Document shape (import and export; see examples/data/README.md):
//   { "hsds_version": "3.0",
//     "organizations": [ { "id": ..., "name": ..., <organization fields>,
//         "services":  [ { <service fields>, "phones": [...], "schedules": [...],
//                          "languages": [...], "service_at_locations": [...] } ],
//         "locations": [ { <location fields>, "phones": [...], "schedules": [...],
//                          "languages": [...] } ],
//         "phones":    [ { <phone fields> } ] } ],
//     "services": [...], "locations": [...], "phones": [...], "schedules": [...],
//     "languages": [...], "service_at_locations": [...] }      <- records without a parent
// A nested record's link to its parent (organization_id, service_id, location_id) is implied
// by where it sits, and its owner is the organization it sits in.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "conflict/directory.h"
#include "conflict/edit.h"
#include "conflict/field_json.h"
#include "conflict/field_schema.h"

namespace sb {

// Converts one record's JSON fields to an edit: JSON strings for text and enum fields,
// integers for integer fields, booleans, arrays of strings for set fields, null to clear.
// Errors name "kind.field" and the rule ("must be integer, got string").
Result<RecordEdit> EditFromJson(const FieldSchema& schema, const std::string& kind,
                                const std::string& id, const nlohmann::json& fields);

struct ImportProblem {
  std::string where;   // "organizations[3].services[1]" and the record id when known
  std::string record;  // the record id, if it had one
  std::string error;
};

// Parses an HSDS document into edits (owner and parent links filled in). Collects every
// problem rather than stopping at the first; returns edits only when there are none.
Result<std::vector<RecordEdit>> ParseHsds(const FieldSchema& schema, const nlohmann::json& doc,
                                          std::vector<ImportProblem>* problems);

// The directory as an HSDS document (deleted records left out; displayed values).
nlohmann::json ExportHsds(const Directory& dir, const FieldSchema& schema);

// The view of one record the API returns: per field the displayed value, siblings when in
// conflict, published and proposed values, pending; owner; last change.
nlohmann::json RecordJson(const Record& r, const FieldSchema& schema);
// A short form for listings: id, kind, owner, name (if any), deleted, conflicts count.
nlohmann::json RecordSummaryJson(const Record& r, const FieldSchema& schema);

nlohmann::json ValueJson(const Value& v);
// A value as JSON, typed by its field: a kNumber field's text becomes a JSON number.
nlohmann::json FieldValueJson(const FieldSpec* spec, const Value& v);

}  // namespace sb

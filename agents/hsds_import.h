// Importing HSDS 3.0 as it is published: compiled organization, service and
// service_at_location objects, taxonomy and taxonomy_term objects, arrays of them, API Pages
// ({total_items, page_number, contents: [...]}) and arrays of Pages, and the project's own
// older envelope ({hsds_version, organizations: [...], ...}). Nested objects are flattened to
// HsdsObjects (agents/hsds_model.h) with the links their nesting implies, an object repeated
// in several places is one record, and the mapping of hsds_model.h turns them into record
// edits (owners filled in). Every problem is reported with its JSON path; with skip_invalid
// the valid records are imported and the rest reported.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "agents/hsds_json.h"
#include "agents/hsds_model.h"
#include "base/status.h"
#include "conflict/edit.h"
#include "conflict/field_schema.h"

namespace sb {

struct HsdsImportOptions {
  bool skip_invalid = false;
  std::string importer_org; /* owner for taxonomies */
};

struct HsdsImportResult {
  std::vector<RecordEdit> edits;
  std::vector<ImportProblem> problems;
  size_t objects = 0;
  size_t skipped = 0;
};

// Turns flat HSDS objects (link fields already set, as the tabular form and the flattening of
// compiled JSON give them) into record edits: validates every value, applies the mapping of
// hsds_model.h (Switchboard attributes -> categories/populations, derived service areas ->
// countries_served, the 24/7 schedule, bed capacities, the location's first address, phone
// languages, byday text, numbers, unknown properties -> extra) and sets every record's owner.
// Objects with the same kind and id are merged (equal copies are one object; copies that
// disagree are a problem naming both `where`s).
// Record problems (a value, a missing required field, an unknown link) are listed in
// `problems`, each with its path; without skip_invalid any problem leaves `edits` empty (the
// caller refuses the import and shows them all); with skip_invalid `edits` holds the valid
// records and `skipped` counts the others (a record whose parent is invalid is skipped too,
// and named). A non-OK result is reserved for input that is not HSDS at all.
Result<HsdsImportResult> EditsFromHsdsObjects(const FieldSchema& schema,
                                              std::vector<HsdsObject> objects,
                                              const HsdsImportOptions& options);

// Detects the document's shape, flattens it (depth-limited) and calls EditsFromHsdsObjects;
// `objects` counts the distinct objects found. InvalidArgument when the shape is none of the
// accepted ones.
Result<HsdsImportResult> ImportHsdsJson(const FieldSchema& schema, const nlohmann::json& doc,
                                        const HsdsImportOptions& options);

// ImportHsdsJson for callers that take every record or none (benchmarks, tools): the edits, or
// InvalidArgument naming the first problems and how many there are.
Result<std::vector<RecordEdit>> HsdsEditsOrError(const FieldSchema& schema,
                                                 const nlohmann::json& doc,
                                                 const HsdsImportOptions& options = {});

}  // namespace sb

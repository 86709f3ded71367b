// The tabular serialization of HSDS 3.0 (schema/compiled/tabular.json): one CSV file per
// object kind (organizations.csv, services.csv, service_at_location.csv, ...) and a
// datapackage.json (a Frictionless Data package) describing them. The objects are the flat
// HsdsObjects of agents/hsds_model.h: a column per scalar property of the official schema,
// link ids (organization_id, service_id, ...) as columns, nested arrays as rows of their own
// files.
//
// Cells. RFC 4180 (agents/csv.h), UTF-8. An empty cell is an absent property (so an empty
// string or a null does not survive a round trip: both are written as an empty cell), except
// in a plain text column the official schema requires (metadata.previous_value,
// address.state_province, organization.description, ...), where it is the empty text. A
// number is written as its JSON text and read back as a JSON number (canonical, as
// conflict/field_json.h gives it); a boolean as true/false. Columns of the official schema
// are typed by the field table (conflict/hsds_schema.cpp) and the official types; schedule
// byday stays the iCal text ("2MO,-1FR") for the mapping to read. A column the official
// schema does not have is an additional property when its name looks like one (lower-case
// snake_case): typed by the datapackage.json field type when there is one (string, number,
// integer, boolean; array and object cells hold JSON; `any` cells hold JSON, or text that is
// not JSON), else by the field table (e.g. organization.countries_served, a list of codes),
// else text.
//
// Rows are numbered as a spreadsheet shows them: the header is row 1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agents/hsds_import.h"
#include "agents/hsds_json.h"
#include "agents/hsds_model.h"
#include "agents/tabular_source.h"
#include "base/status.h"

namespace sb {

// One object kind of the tabular form, as schema/compiled/tabular.json gives it.
struct TabularColumn {
  const char* name = "";
  bool number = false;      // official type "number" (else "string")
  const char* format = "";  // "uuid", "email", "uri", "date-time" or ""
  bool required = false;    // `required` or `tabular_required`
};
struct TabularTable {
  const char* kind = "";
  const char* file = "";               // "organizations.csv"
  std::vector<TabularColumn> columns;  // the scalar properties, in the official order
};
// The 21 tables in the official order (datapackage_metadata.order).
const std::vector<TabularTable>& TabularTables();
const TabularTable* TabularTableOf(std::string_view kind);

struct TabularReadOptions {
  TabularLimits limits;
};

// Reads a folder or a .zip holding the CSVs (+ datapackage.json; without one, the files are
// recognised by their official names, and service_at_locations.csv too). Returns the objects
// of every well-formed row, in file then row order, each with `where` = "services.csv row 12".
//
// A problem in one row (a cell that is not a number or a boolean where the column needs one,
// text that is not UTF-8, an empty id, a row with more or fewer cells than the header) is
// appended to `problems` ("services.csv row 12 column latitude: ...") and the row is left
// out; the caller decides (an all-or-nothing import refuses when there is any problem).
// Input that is not a readable tabular package gets a non-OK result and nothing: a bad header
// (no `id` column, a column twice, an empty column name or one that is not a property name,
// a column named after a nested array), malformed CSV (a quoted cell that never closes), a
// cell over 1 MiB, a package over 1 GiB uncompressed, a zip bomb, zip entries escaping the
// folder, symbolic links, a datapackage.json that is not a data package or names a file
// outside the package, a .csv that is no HSDS table, no HSDS table at all.
Result<std::vector<HsdsObject>> ReadTabular(const std::string& path,
                                            std::vector<ImportProblem>* problems,
                                            const TabularReadOptions& options = {});

// The same, for a zip archive held in memory (an upload to POST /v1/import).
Result<std::vector<HsdsObject>> ReadTabularZip(std::string zip,
                                               std::vector<ImportProblem>* problems,
                                               const TabularReadOptions& options = {});

// Writes one CSV per kind present (the header: the official columns in the official order,
// then the additional properties in name order; rows in the order given) and a
// datapackage.json listing each resource with its schema fields (additional properties with
// the type their values have), into `dir`, which must not exist or be empty. Written to a
// temporary folder next to it and renamed into place, so `dir` holds the whole package or
// nothing; files 0644, folder 0755. InvalidArgument (nothing written) for an object whose
// kind has no table, with an empty or disagreeing id, or with a property that is a nested
// array (nested objects are objects of their own).
Status WriteTabular(const std::vector<HsdsObject>& objects, const std::string& dir);
// The same package as a zip archive in memory (GET /v1/export?format=tabular).
Result<std::string> TabularZip(const std::vector<HsdsObject>& objects);

// A package to upload, as zip bytes: a .zip file as it is; a folder's files as they are (not
// parsed: the receiver reads and checks them), zipped. The folder's symbolic links, special
// files and size limit are refused here already.
Result<std::string> PackTabular(const std::string& path, const TabularLimits& limits = {});

// Import of a tabular package (agents/hsds_tabular_import.cpp): ReadTabularZip (an upload) or
// ReadTabular (a folder or .zip), then EditsFromHsdsObjects. The rows the reader left out are
// problems of the result like the import's own (first, in file and row order): without
// skip_invalid any problem leaves `edits` empty; with it they count in `skipped`. A package
// that cannot be read at all is a non-OK result. metadata.csv (derived from the history on
// export) and meta_table_descriptions.csv are read but not imported.
Result<HsdsImportResult> ImportTabularZip(const FieldSchema& schema, std::string zip,
                                          const HsdsImportOptions& options,
                                          const TabularReadOptions& read_options = {});
Result<HsdsImportResult> ImportTabular(const FieldSchema& schema, const std::string& path,
                                       const HsdsImportOptions& options,
                                       const TabularReadOptions& read_options = {});

}  // namespace sb

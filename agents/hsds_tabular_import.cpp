// The tabular form into record edits (agents/hsds_tabular.h): what the reader left out joins
// the import's own problems; metadata and table descriptions are not records.
#include "agents/hsds_tabular.h"

#include <set>

namespace sb {

namespace {

Result<HsdsImportResult> EditsOf(const FieldSchema& schema, Result<std::vector<HsdsObject>> objects,
                                 std::vector<ImportProblem> read_problems,
                                 const HsdsImportOptions& options) {
  if (!objects.ok()) return objects.status();
  // metadata.csv is derived from the history on export, and meta_table_descriptions.csv
  // describes the files: neither is a record (as the JSON import ignores `metadata`).
  std::erase_if(*objects, [](const HsdsObject& o) {
    return o.kind == "metadata" || o.kind == "meta_table_description";
  });
  ASSIGN_OR_RETURN(HsdsImportResult result,
                   EditsFromHsdsObjects(schema, std::move(objects).value(), options));
  if (read_problems.empty()) return result;
  std::set<std::string> rows;  // the rows left out: "services.csv row 12" (one per row)
  for (const ImportProblem& p : read_problems) {
    rows.insert(p.where.substr(0, p.where.find(" column ")));
  }
  result.skipped += rows.size();
  result.objects += rows.size();
  read_problems.insert(read_problems.end(), result.problems.begin(), result.problems.end());
  result.problems = std::move(read_problems);
  if (!options.skip_invalid) result.edits.clear();
  return result;
}

}  // namespace

Result<HsdsImportResult> ImportTabularZip(const FieldSchema& schema, std::string zip,
                                          const HsdsImportOptions& options,
                                          const TabularReadOptions& read_options) {
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> objects = ReadTabularZip(std::move(zip), &problems, read_options);
  return EditsOf(schema, std::move(objects), std::move(problems), options);
}

Result<HsdsImportResult> ImportTabular(const FieldSchema& schema, const std::string& path,
                                       const HsdsImportOptions& options,
                                       const TabularReadOptions& read_options) {
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> objects = ReadTabular(path, &problems, read_options);
  return EditsOf(schema, std::move(objects), std::move(problems), options);
}

}  // namespace sb

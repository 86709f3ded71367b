// HSDS import (agents/hsds_json.h), as POST /v1/import and `dir import` run it: the bounded
// JSON parser, then ParseHsds, then each edit planned and joined as the agent does. Property:
// what imported exports (ExportHsds) to a document that parses and imports again. And the
// HSDS importer (agents/hsds_import.h) on the same document: a refusal comes with no edits,
// and every edit of an import with skip_invalid plans into an empty directory (what it
// validated is all the planner checks).
#include <map>

#include "agents/hsds_import.h"
#include "agents/hsds_json.h"
#include "base/json.h"
#include "conflict/edit.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace sb;

Directory Import(const std::vector<RecordEdit>& edits) {
  Directory dir;
  Hlc stamp{fuzz::kSeedTimeMs << 16};
  for (const RecordEdit& e : edits) {
    Result<PlannedEdit> p = PlanEdit(FieldSchema::Hsds(), dir.Find(e.id), e, 1, stamp);
    if (!p.ok() || p->empty()) continue;
    dir.Join(p->delta);
  }
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<nlohmann::json> doc = ParseJson(fuzz::AsView(data, size), "the import");
  if (!doc.ok()) return 0;
  for (bool skip : {false, true}) {
    HsdsImportOptions options;
    options.skip_invalid = skip;
    options.importer_org = "0a000000-0000-4000-8000-000000000001";
    Result<HsdsImportResult> imported = ImportHsdsJson(FieldSchema::Hsds(), *doc, options);
    if (!imported.ok()) continue;
    FUZZ_CHECK(skip || imported->problems.empty() || imported->edits.empty());
    Directory planned;
    Hlc stamp{fuzz::kSeedTimeMs << 16};
    for (const RecordEdit& e : imported->edits) {
      Result<PlannedEdit> p = PlanEdit(FieldSchema::Hsds(), planned.Find(e.id), e, 1, stamp);
      if (!p.ok())
        std::fprintf(stderr, "an imported edit does not plan: %s\n", p.status().ToString().c_str());
      FUZZ_CHECK(p.ok());
      if (!p->empty()) planned.Join(p->delta);
    }
  }
  std::vector<ImportProblem> problems;
  Result<std::vector<RecordEdit>> edits = ParseHsds(FieldSchema::Hsds(), *doc, &problems);
  if (!edits.ok()) {
    FUZZ_CHECK(!problems.empty() || !edits.status().message().empty());
    for (const ImportProblem& p : problems) (void)DumpJson(nlohmann::json{{"error", p.error}});
    return 0;
  }
  Directory dir = Import(*edits);
  std::string text = DumpJson(ExportHsds(dir, FieldSchema::Hsds()));
  Result<nlohmann::json> back = ParseJson(text, "the export", kReplyLimits);
  FUZZ_CHECK(back.ok());
  std::vector<ImportProblem> problems2;
  Result<std::vector<RecordEdit>> edits2 = ParseHsds(FieldSchema::Hsds(), *back, &problems2);
  if (!edits2.ok()) {
    std::fprintf(stderr, "export does not import again: %s\n%s\n",
                 edits2.status().ToString().c_str(), text.c_str());
  }
  FUZZ_CHECK(edits2.ok());
  for (const auto& [id, r] : dir.records()) {
    (void)DumpJson(RecordJson(r, FieldSchema::Hsds()));
    (void)DumpJson(RecordSummaryJson(r, FieldSchema::Hsds()));
  }
  return 0;
}

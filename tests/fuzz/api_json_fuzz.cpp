// API JSON bodies: the bounded parser (base/json.h ParseJson) with the limits the agent's API
// applies to request bodies, then the body shape of PUT /v1/records/ID ({"kind", "fields"})
// through EditFromJson (agents/hsds_json.h) and the edit planner, as api_server.cpp does.
// Properties: what parses dumps (DumpJson, which never throws) to text that parses again to
// the same text; the depth of what parses is within the limit.
#include "agents/hsds_json.h"
#include "base/json.h"
#include "conflict/edit.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sb;
  const JsonLimits limits{1 << 20, 64};
  std::string_view text = fuzz::AsView(data, size);
  nlohmann::json stored = ParseStoredJson(text, limits);
  Result<nlohmann::json> body = ParseJson(text, "the request body", limits);
  FUZZ_CHECK(body.ok() == !stored.is_discarded());
  if (!body.ok()) return 0;
  FUZZ_CHECK(JsonDepth(*body) <= limits.max_depth);
  std::string dumped = DumpJson(*body);
  Result<nlohmann::json> again = ParseJson(dumped, "the dump", JsonLimits{1 << 22, 64});
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(DumpJson(*again) == dumped);
  (void)DumpJson(*body, 2);

  if (!body->is_object() || !body->contains("fields")) return 0;
  std::string kind = "service";
  if (auto k = body->find("kind"); k != body->end() && k->is_string()) kind = k->get<std::string>();
  const std::string id = "00000000-0000-4000-8000-000000000001";
  Result<RecordEdit> edit = EditFromJson(FieldSchema::Hsds(), kind, id, (*body)["fields"]);
  if (!edit.ok()) return 0;
  Hlc stamp{fuzz::kSeedTimeMs << 16};
  Result<PlannedEdit> plan = PlanEdit(FieldSchema::Hsds(), nullptr, *edit, 1, stamp);
  if (plan.ok() && !plan->empty()) {
    (void)DumpJson(RecordJson(plan->delta, FieldSchema::Hsds()));
  }
  return 0;
}

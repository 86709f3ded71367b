// Referral payloads (transport/referral_rules.h ParseReferralPayload): the JSON a recipient
// decrypts and opens. What is accepted stays within the limits and is accepted again after
// DumpJson (what the sender seals).
#include "base/json.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/referral_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sb;
  Result<nlohmann::json> p = ParseReferralPayload(fuzz::AsView(data, size));
  if (!p.ok()) return 0;
  FUZZ_CHECK(p->is_object());
  FUZZ_CHECK(JsonDepth(*p) <= kMaxReferralPayloadDepth);
  std::string text = DumpJson(*p);
  Result<nlohmann::json> again = ParseReferralPayload(text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(DumpJson(*again) == text);
  return 0;
}

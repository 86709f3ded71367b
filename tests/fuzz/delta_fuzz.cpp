// The delta codec (conflict/codec.h DecodeDelta, and DecodeDeltaBatch on the same bytes): what
// decodes re-encodes canonically and decodes again equal; the broker's checks (ValidateDelta)
// refuse cleanly or accept; joining a decoded delta is idempotent.
#include "conflict/codec.h"
#include "conflict/replica.h"
#include "tests/fuzz/codec_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void Try(std::string_view bytes) {
  using namespace sb;
  Result<Delta> d = DecodeDelta(bytes);
  if (!d.ok()) return;
  std::string enc = EncodeDelta(*d);
  Result<Delta> again = DecodeDelta(enc);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *d);
  FUZZ_CHECK(EncodeDelta(*again) == enc);
  Directory dir;
  (void)ValidateDelta(*d, FieldSchema::Hsds(), dir);
  dir.Join(*d);
  Directory twice = dir;
  twice.Join(*d);
  FUZZ_CHECK(twice == dir);
}

void TryBatch(std::string_view bytes) {
  using namespace sb;
  Result<std::vector<Delta>> b = DecodeDeltaBatch(bytes);
  if (!b.ok()) return;
  std::string enc = EncodeDeltaBatch(*b);
  Result<std::vector<Delta>> again = DecodeDeltaBatch(enc);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *b);
  FUZZ_CHECK(EncodeDeltaBatch(*again) == enc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = sb::fuzz::AsView(data, size);
  Try(in);
  Try(sb::fuzz::WithFixedCrc(in));
  TryBatch(in);
  TryBatch(sb::fuzz::WithFixedCrc(in));
  return 0;
}

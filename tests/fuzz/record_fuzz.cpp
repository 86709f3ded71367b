// A single record's state (conflict/codec.h DecodeRecord, the store's values): what decodes
// re-encodes canonically and decodes again equal; joining a record into itself changes nothing.
#include "conflict/codec.h"
#include "tests/fuzz/codec_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void Try(std::string_view bytes) {
  using namespace sb;
  Result<Record> r = DecodeRecord(bytes);
  if (!r.ok()) return;
  std::string enc = EncodeRecord(*r);
  Result<Record> again = DecodeRecord(enc);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *r);
  FUZZ_CHECK(EncodeRecord(*again) == enc);
  Record joined = *r;
  joined.Join(*r);
  FUZZ_CHECK(joined == *r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = sb::fuzz::AsView(data, size);
  Try(in);
  Try(sb::fuzz::WithFixedCrc(in));
  return 0;
}

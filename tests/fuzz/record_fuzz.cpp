// A single record's state (conflict/codec.h DecodeRecord, the store's values): what decodes
// re-encodes canonically and decodes again equal; joining a record into itself changes nothing.
#include "conflict/codec.h"
#include "tests/fuzz/codec_util.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sb::fuzz::CheckState<sb::Record>(sb::fuzz::AsView(data, size), sb::DecodeRecord,
                                   sb::EncodeRecord);
  return 0;
}

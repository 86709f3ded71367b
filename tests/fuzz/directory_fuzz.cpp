// Directory states (conflict/codec.h DecodeDirectory, snapshots and stores): what decodes
// re-encodes canonically and decodes again equal; joining a state into itself changes nothing.
#include "conflict/codec.h"
#include "tests/fuzz/codec_util.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sb::fuzz::CheckState<sb::Directory>(sb::fuzz::AsView(data, size), sb::DecodeDirectory,
                                      sb::EncodeDirectory);
  return 0;
}

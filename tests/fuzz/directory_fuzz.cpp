// Directory states (conflict/codec.h DecodeDirectory, snapshots and stores): what decodes
// re-encodes canonically and decodes again equal; joining a state into itself changes nothing.
#include "conflict/codec.h"
#include "tests/fuzz/codec_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void Try(std::string_view bytes) {
  using namespace sb;
  Result<Directory> d = DecodeDirectory(bytes);
  if (!d.ok()) return;
  std::string enc = EncodeDirectory(*d);
  Result<Directory> again = DecodeDirectory(enc);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *d);
  FUZZ_CHECK(EncodeDirectory(*again) == enc);
  Directory joined = *d;
  joined.Join(*d);
  FUZZ_CHECK(joined == *d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = sb::fuzz::AsView(data, size);
  Try(in);
  Try(sb::fuzz::WithFixedCrc(in));
  return 0;
}

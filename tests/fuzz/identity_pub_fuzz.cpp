// identity.pub (crypto/identity.h ParsePublicIdentity): the file a partner sends to the
// maintainers. What parses writes back (PublicIdentityJson) and parses again equal.
#include "crypto/identity.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sb;
  Result<PublicIdentity> p = ParsePublicIdentity(fuzz::AsView(data, size));
  if (!p.ok()) return 0;
  Result<PublicIdentity> again = ParsePublicIdentity(PublicIdentityJson(*p));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *p);
  return 0;
}

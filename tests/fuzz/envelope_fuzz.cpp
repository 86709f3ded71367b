// The wire envelope (transport/protocol.h DecodeEnvelope), every message kind: what decodes
// must encode and decode again to an equal message.
#include <variant>

#include "tests/fuzz/fuzz_util.h"
#include "transport/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sb;
  Result<proto::Message> m = proto::DecodeEnvelope(fuzz::AsView(data, size));
  if (!m.ok()) return 0;
  FUZZ_CHECK(proto::MessageName(*m) != nullptr);
  std::string again = proto::EncodeEnvelope(*m);
  Result<proto::Message> m2 = proto::DecodeEnvelope(again);
  FUZZ_CHECK(m2.ok());
  FUZZ_CHECK(*m2 == *m);
  FUZZ_CHECK(proto::EncodeEnvelope(*m2) == again);  // encoding is deterministic
  return 0;
}

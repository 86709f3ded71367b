// One Cap'n Proto message kind of the sync protocol (transport/protocol.h), built once per
// kind with SB_FUZZ_KINDS set to the kinds' variant indexes (tests/fuzz/meson.build). Inputs
// of other kinds are rejected from the corpus (return -1) so each target's corpus stays on its
// kind. What decodes must round-trip, and the payloads a receiver decodes next (deltas,
// snapshot records, signed referral and transition bodies) go through their own decoders and
// the referral rules, as the broker and agents do on receipt.
#include <variant>

#include "conflict/codec.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/protocol.h"
#include "transport/referral_rules.h"

namespace {

using namespace sb;
using namespace sb::proto;

constexpr size_t kKinds[] = {SB_FUZZ_KINDS};

bool Wanted(const Message& m) {
  for (size_t k : kKinds) {
    if (m.index() == k) return true;
  }
  return false;
}

void Delta(const std::string& bytes) {
  if (bytes.empty()) return;
  Result<sb::Delta> d = DecodeDelta(bytes);
  if (!d.ok()) return;
  Result<sb::Delta> again = DecodeDelta(EncodeDelta(*d));
  FUZZ_CHECK(again.ok() && *again == *d);
}

void Body(const Signed& s) {
  if (s.empty()) return;
  if (Result<ReferralBody> b = DecodeReferralBody(s.body); b.ok()) {
    PostRefusalCode code;
    (void)CheckReferralBody(*b, fuzz::kNowMs, false, &code);
    (void)CheckReferralBody(*b, fuzz::kNowMs, true, &code);
  }
  if (Result<TransitionBody> t = DecodeTransitionBody(s.body); t.ok()) {
    (void)CheckTransitionBody(*t, fuzz::kNowMs);
  }
}

struct Deeper {
  void operator()(const Push& m) {
    for (const PushItem& i : m.items) Delta(i.delta.delta);
  }
  void operator()(const PushAck& m) {
    for (const PushResult& r : m.results) Delta(r.current);
  }
  void operator()(const Updates& m) {
    for (const LogEntry& e : m.entries) Delta(e.delta.delta);
  }
  void operator()(const SnapshotChunk& m) { Delta(m.records); }
  void operator()(const ReferralPost& m) {
    Body(m.referral);
    Body(m.transition);
  }
  void operator()(const ReferralUpdate& m) {
    Body(m.referral);
    for (const Signed& t : m.transitions) Body(t);
  }
  void operator()(const ReferralBody& b) {
    PostRefusalCode code;
    (void)CheckReferralBody(b, fuzz::kNowMs, false, &code);
    (void)CheckReferralBody(b, fuzz::kNowMs, true, &code);
  }
  void operator()(const TransitionBody& t) { (void)CheckTransitionBody(t, fuzz::kNowMs); }
  template <typename Other>
  void operator()(const Other&) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<Message> m = DecodeEnvelope(fuzz::AsView(data, size));
  if (!m.ok()) return 0;
  if (!Wanted(*m)) return -1;
  std::string again = EncodeEnvelope(*m);
  Result<Message> m2 = DecodeEnvelope(again);
  FUZZ_CHECK(m2.ok());
  FUZZ_CHECK(*m2 == *m);
  std::visit(Deeper{}, *m);
  return 0;
}

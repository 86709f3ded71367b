// Properties of the codec on arbitrary states (not only those replicas reach): round trips are
// exact, and hostile bytes behind a valid frame and checksum never crash the decoder nor yield a
// state that breaks the record invariants.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "conflict/codec.h"

namespace sb {
namespace {

// Text without NUL bytes (see codec_test.cpp, TextWithAnEmbeddedNulRoundTripsExactly).
rc::Gen<std::string> GenText(int max_len) {
  return rc::gen::resize(
      max_len, rc::gen::container<std::string>(rc::gen::map(
                   rc::gen::inRange(1, 256), [](int c) { return static_cast<char>(c); })));
}

rc::Gen<Dot> GenDot() {
  return rc::gen::build<Dot>(rc::gen::set(&Dot::replica, rc::gen::inRange<ReplicaId>(1, 7)),
                             rc::gen::set(&Dot::counter, rc::gen::inRange<uint64_t>(1, 20)));
}

rc::Gen<Value> GenValue() {
  return rc::gen::oneOf(
      rc::gen::just(Value(Null{})),
      rc::gen::map(GenText(20), [](std::string s) { return Value(s); }),
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t i) { return Value(i); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return Value(b); }));
}

// A record whose every entry's dot is in its context; entries are stamped at most `max_stamp`.
Record GenRecord(const std::string& id, uint64_t max_stamp) {
  Record r(id, *GenText(12));
  std::set<Dot> seen = *rc::gen::container<std::set<Dot>>(GenDot());
  std::map<ReplicaId, uint64_t> vector = *rc::gen::container<std::map<ReplicaId, uint64_t>>(
      rc::gen::inRange<ReplicaId>(1, 7), rc::gen::inRange<uint64_t>(0, 8));
  int fields = *rc::gen::inRange(0, 5);
  for (int i = 0; i < fields; ++i) {
    std::string name = *rc::gen::nonEmpty(GenText(10));
    if (*rc::gen::arbitrary<bool>()) {
      MvRegister reg;
      for (const Dot& d : *rc::gen::nonEmpty(rc::gen::container<std::set<Dot>>(GenDot()))) {
        reg.mutable_entries()[d] =
            RegisterEntry{*GenValue(), Hlc{*rc::gen::inRange<uint64_t>(0, max_stamp + 1)}};
        seen.insert(d);
      }
      r.mutable_fields()[name] = reg;
    } else {
      AwSet set;
      for (const std::string& e :
           *rc::gen::nonEmpty(rc::gen::container<std::set<std::string>>(GenText(8)))) {
        std::set<Dot> dots = *rc::gen::nonEmpty(rc::gen::container<std::set<Dot>>(GenDot()));
        seen.insert(dots.begin(), dots.end());
        set.mutable_raw()[e] = dots;
      }
      r.mutable_fields()[name] = set;
    }
  }
  r.mutable_context() = CausalContext::FromParts(vector, seen);
  return r;
}

rc::Gen<Delta> GenDelta() {
  return rc::gen::exec([] {
    Delta d;
    d.author = *rc::gen::inRange<ReplicaId>(1, 1000);
    d.stamp = Hlc{*rc::gen::inRange<uint64_t>(0, uint64_t{1} << 62)};
    int n = *rc::gen::inRange(0, 4);
    for (int i = 0; i < n; ++i)
      d.records.push_back(GenRecord(*rc::gen::nonEmpty(GenText(36)), d.stamp.packed));
    return d;
  });
}

rc::Gen<Directory> GenDirectory() {
  return rc::gen::exec([] {
    Directory dir;
    int n = *rc::gen::inRange(0, 5);
    for (int i = 0; i < n; ++i)
      dir.Join(GenRecord(*rc::gen::nonEmpty(GenText(36)), UINT64_MAX - 1));
    return dir;
  });
}

// The invariants a decoder guarantees (codec.h): no zero dots, no empty fields, every entry's
// dot inside its record's context.
void AssertValid(const Record& r) {
  RC_ASSERT(!r.id().empty());
  for (const auto& [name, f] : r.fields()) {
    RC_ASSERT(!name.empty());
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      RC_ASSERT(!reg->empty());
      for (const auto& [dot, e] : reg->entries()) {
        RC_ASSERT(dot.replica != 0u && dot.counter != 0u);
        RC_ASSERT(r.context().Contains(dot));
      }
    } else {
      RC_ASSERT(!std::get<AwSet>(f).empty());
      for (const auto& [element, dots] : std::get<AwSet>(f).raw()) {
        RC_ASSERT(!dots.empty());
        for (const Dot& dot : dots) RC_ASSERT(dot.replica != 0u && r.context().Contains(dot));
      }
    }
  }
}

RC_GTEST_PROP(CodecProperties, DeltaRoundTripsExactly, ()) {
  Delta d = *GenDelta();
  std::string bytes = EncodeDelta(d);
  Result<Delta> back = DecodeDelta(bytes);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == d);
  RC_ASSERT(EncodeDelta(*back) == bytes);
}

RC_GTEST_PROP(CodecProperties, DirectoryAndRecordRoundTripExactly, ()) {
  Directory dir = *GenDirectory();
  std::string bytes = EncodeDirectory(dir);
  Result<Directory> back = DecodeDirectory(bytes);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == dir);
  RC_ASSERT(EncodeDirectory(*back) == bytes);
  for (const auto& [id, r] : dir.records()) {
    Result<Record> rec = DecodeRecord(EncodeRecord(r));
    RC_ASSERT(rec.ok());
    RC_ASSERT(*rec == r);
  }
}

// Re-frames `payload` with a valid header and checksum, so decoding reaches Cap'n Proto.
std::string Reframe(const std::string& original, std::string payload) {
  std::string out = original.substr(0, 4) + payload;
  uint32_t crc = Crc32(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return out;
}

RC_GTEST_PROP(CodecProperties, CorruptedPayloadWithAValidChecksumIsRefusedOrValid, ()) {
  Delta d = *GenDelta();
  std::string bytes = EncodeDelta(d);
  std::string payload = bytes.substr(4, bytes.size() - 8);
  auto edits = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::pair<size_t, uint8_t>>>(
      rc::gen::pair(rc::gen::inRange<size_t>(0, payload.size()), rc::gen::arbitrary<uint8_t>())));
  for (auto [at, byte] : edits) payload[at] = static_cast<char>(byte);
  Result<Delta> back = DecodeDelta(Reframe(bytes, payload));
  RC_CLASSIFY(back.ok(), "decoded");
  if (!back.ok()) {
    RC_ASSERT(back.status().code() == Code::kCorruption);
    return;
  }
  RC_ASSERT(back->author != 0u);
  for (const Record& r : back->records) AssertValid(r);
  // Whatever decodes re-encodes to something that decodes to the same bytes again.
  Result<Delta> again = DecodeDelta(EncodeDelta(*back));
  RC_ASSERT(again.ok());
  RC_ASSERT(EncodeDelta(*again) == EncodeDelta(*back));
}

RC_GTEST_PROP(CodecProperties, RandomWordsWithAValidChecksumNeverCrashTheDecoder,
              (const std::vector<uint64_t>& words)) {
  std::string payload(reinterpret_cast<const char*>(words.data()), words.size() * 8);
  std::string header = "SBS";
  header.push_back(static_cast<char>(kFormatVersion));
  Result<Directory> dir = DecodeDirectory(Reframe(header, payload));
  if (dir.ok()) {
    for (const auto& [id, r] : dir->records()) AssertValid(r);
  } else {
    RC_ASSERT(dir.status().code() == Code::kCorruption);
  }
}

}  // namespace
}  // namespace sb

// Properties of the codec on arbitrary states (not only those replicas reach): round trips are
// exact, and hostile bytes behind a valid frame and checksum never crash the decoder nor yield a
// state that breaks the record invariants.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "conflict/codec.h"
#include "conflict/internal/access.h"

namespace sb {
namespace {

std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

// Text as a decoder accepts it: well-formed UTF-8 from every plane; with `controls`, also
// control characters (values may hold them; ids, kinds and field names may not). No NUL
// (see codec_test.cpp, TextWithAnEmbeddedNulRoundTripsExactly).
rc::Gen<std::string> GenText(int max_len, bool controls = true) {
  auto code_point = rc::gen::oneOf(
      rc::gen::inRange<uint32_t>(0x20, 0x7F), rc::gen::inRange<uint32_t>(0xA0, 0x800),
      rc::gen::inRange<uint32_t>(0x800, 0xD800), rc::gen::inRange<uint32_t>(0xE000, 0x10000),
      rc::gen::inRange<uint32_t>(0x10000, 0x110000),
      rc::gen::inRange<uint32_t>(controls ? 1 : 0x20, controls ? 0x20 : 0x21));
  return rc::gen::map(
      rc::gen::resize(max_len, rc::gen::container<std::vector<uint32_t>>(code_point)),
      [](const std::vector<uint32_t>& cps) {
        std::string s;
        for (uint32_t cp : cps) s += Utf8(cp);
        return s;
      });
}

rc::Gen<std::string> GenName(int max_len) {
  return GenText(max_len, false);
}

// Replica ids: small ones (so dots collide) and 64-bit ones like RandomReplicaId's.
rc::Gen<ReplicaId> GenReplica() {
  return rc::gen::element<ReplicaId>(1, 2, 3, 6, 0x9e3779b97f4a7c15, uint64_t{1} << 63, UINT64_MAX);
}

rc::Gen<Dot> GenDot() {
  return rc::gen::build<Dot>(rc::gen::set(&Dot::replica, GenReplica()),
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
  Record r(id, *GenName(12));
  std::set<Dot> seen = *rc::gen::container<std::set<Dot>>(GenDot());
  std::map<ReplicaId, uint64_t> vector = *rc::gen::container<std::map<ReplicaId, uint64_t>>(
      GenReplica(), rc::gen::inRange<uint64_t>(0, 8));
  int fields = *rc::gen::inRange(0, 5);
  for (int i = 0; i < fields; ++i) {
    std::string name = *rc::gen::nonEmpty(GenName(10));
    if (*rc::gen::arbitrary<bool>()) {
      MvRegister reg;
      for (const Dot& d : *rc::gen::nonEmpty(rc::gen::container<std::set<Dot>>(GenDot()))) {
        internal::Access::Entries(reg)[d] =
            RegisterEntry{*GenValue(), Hlc{*rc::gen::inRange<uint64_t>(0, max_stamp + 1)}};
        seen.insert(d);
      }
      internal::Access::Fields(r)[name] = reg;
    } else {
      AwSet set;
      for (const std::string& e :
           *rc::gen::nonEmpty(rc::gen::container<std::set<std::string>>(GenText(8)))) {
        std::set<Dot> dots = *rc::gen::nonEmpty(rc::gen::container<std::set<Dot>>(GenDot()));
        seen.insert(dots.begin(), dots.end());
        internal::Access::Elements(set)[e] = FlatSet<Dot>(dots.begin(), dots.end());
      }
      internal::Access::Fields(r)[name] = set;
    }
  }
  internal::Access::Context(r) =
      CausalContext::FromParts(FlatMap<ReplicaId, uint64_t>(vector.begin(), vector.end()),
                               FlatSet<Dot>(seen.begin(), seen.end()));
  return r;
}

// Record ids: UUIDs in canonical lower case (which version 2 packs into 16 bytes), UUIDs in
// upper case (which it must not), and arbitrary names.
rc::Gen<std::string> GenId() {
  auto uuid = [](bool upper) {
    return rc::gen::map(
        rc::gen::arbitrary<std::pair<uint64_t, uint64_t>>(),
        [upper](std::pair<uint64_t, uint64_t> p) {
          char buf[40];
          std::snprintf(
              buf, sizeof buf,
              upper ? "%08llX-%04llX-%04llX-%04llX-%012llX" : "%08llx-%04llx-%04llx-%04llx-%012llx",
              (unsigned long long)(p.first >> 32), (unsigned long long)((p.first >> 16) & 0xFFFF),
              (unsigned long long)(p.first & 0xFFFF), (unsigned long long)(p.second >> 48),
              (unsigned long long)(p.second & 0xFFFFFFFFFFFFull));
          return std::string(buf);
        });
  };
  return rc::gen::oneOf(uuid(false), uuid(false), uuid(true), rc::gen::nonEmpty(GenName(36)));
}

rc::Gen<Delta> GenDelta() {
  return rc::gen::exec([] {
    Delta d;
    d.author = *rc::gen::oneOf(rc::gen::inRange<ReplicaId>(1, 1000), GenReplica());
    d.stamp = Hlc{*rc::gen::inRange<uint64_t>(0, uint64_t{1} << 62)};
    int n = *rc::gen::inRange(0, 4);
    for (int i = 0; i < n; ++i) d.records.push_back(GenRecord(*GenId(), d.stamp.packed));
    return d;
  });
}

rc::Gen<Directory> GenDirectory() {
  return rc::gen::exec([] {
    Directory dir;
    int n = *rc::gen::inRange(0, 5);
    for (int i = 0; i < n; ++i) dir.Join(GenRecord(*GenId(), UINT64_MAX - 1));
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

// The frame's checksum is zlib's CRC-32 (older builds computed it with zlib), at every length
// and alignment the sliced loop and its byte tail can meet.
RC_GTEST_PROP(CodecProperties, Crc32IsZlibsCrc32, (const std::string& text, uint8_t skip)) {
  std::string_view s = std::string_view(text).substr(std::min<size_t>(skip % 8, text.size()));
  uLong want = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(s.data()),
                     static_cast<uInt>(s.size()));
  RC_ASSERT(Crc32(s) == static_cast<uint32_t>(want));
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

// Byte sequences that are not UTF-8: a lone continuation byte, an overlong '/', a surrogate,
// a code point above U+10FFFF, a truncated sequence, and bytes that never occur in UTF-8.
rc::Gen<std::string> GenNotUtf8() {
  return rc::gen::map(
      rc::gen::tuple(GenName(6),
                     rc::gen::element<std::string>("\x80", "\xC0\xAF", "\xED\xA0\x80",
                                                   "\xF4\x90\x80\x80", "\xE2\x82", "\xFF\xFE"),
                     GenName(6)),
      [](const std::tuple<std::string, std::string, std::string>& t) {
        return std::get<0>(t) + std::get<1>(t) + std::get<2>(t);
      });
}

// Issue 10: whatever text of a delta is not UTF-8 (an id, a kind, a field name, a value, a
// set element), the delta is refused whole, with a reason that names what it was and never
// repeats the bytes; a stored record keeps decoding (it was checked when it came in).
RC_GTEST_PROP(CodecProperties, TextThatIsNotUtf8IsRefusedWhereverItStands, ()) {
  std::string bad = *GenNotUtf8();
  Record r("0b6e5a52-0000-4000-8000-000000000001", "service");
  int where = *rc::gen::inRange(0, 5);
  Hlc stamp{100};
  switch (where) {
    case 0:
      r = Record(bad, "service");
      break;
    case 1:
      r = Record(r.id(), bad);
      break;
    case 2:
      r.Join(r.WriteDelta(bad, Value(std::string("x")), 1, stamp));
      break;
    case 3:
      r.Join(r.WriteDelta("name", Value(bad), 1, stamp));
      break;
    default:
      r.Join(r.AddDelta("languages", bad, 1));
      break;
  }
  if (where < 2) r.Join(r.WriteDelta("name", Value(std::string("ok")), 1, stamp));
  std::string bytes = EncodeDelta(Delta{1, stamp, {r}});
  Result<Delta> back = DecodeDelta(bytes);
  RC_ASSERT(!back.ok());
  RC_ASSERT(back.status().code() == Code::kCorruption);
  RC_ASSERT(back.status().message().find("UTF-8") != std::string::npos);
  RC_ASSERT(back.status().message().find(bad) == std::string::npos);
  if (where >= 3) {
    Result<Record> stored = DecodeRecord(EncodeRecord(r));
    RC_ASSERT(stored.ok());
    RC_ASSERT(*stored == r);
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

// --- Format version 2 (schemas/FORMATS.md) ---

RC_GTEST_PROP(CodecProperties, EncodersWriteVersion2, ()) {
  Delta d = *GenDelta();
  RC_ASSERT(EncodeDelta(d)[3] == static_cast<char>(2));
  RC_ASSERT(EncodeDeltaBatch(std::vector<Delta>{d})[3] == static_cast<char>(2));
  RC_ASSERT(EncodeDirectory(Directory())[3] == static_cast<char>(2));
}

RC_GTEST_PROP(CodecProperties, EqualStatesBuiltInAnyOrderEncodeToEqualBytes, ()) {
  std::vector<Record> records;
  int n = *rc::gen::inRange(0, 5);
  for (int i = 0; i < n; ++i) records.push_back(GenRecord(*GenId(), UINT64_MAX - 1));
  Directory forward, backward;
  for (const Record& r : records) forward.Join(r);
  for (auto it = records.rbegin(); it != records.rend(); ++it) backward.Join(*it);
  RC_ASSERT(forward == backward);
  RC_ASSERT(EncodeDirectory(forward) == EncodeDirectory(backward));
  for (const auto& [id, r] : forward.records()) {
    RC_ASSERT(EncodeRecord(r) == EncodeRecord(backward.records().at(id)));
  }
}

RC_GTEST_PROP(CodecProperties, BatchRoundTripsExactlyAndInOrder, ()) {
  std::vector<Delta> deltas = *rc::gen::container<std::vector<Delta>>(
      *rc::gen::element<size_t>(0, 1, 2, 3, 5, 8), GenDelta());
  std::string bytes = EncodeDeltaBatch(deltas);
  Result<std::vector<Delta>> back = DecodeDeltaBatch(bytes);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == deltas);
  RC_ASSERT(EncodeDeltaBatch(*back) == bytes);
  // A batch is no larger than its deltas sent one by one (one table and one frame for all).
  size_t one_by_one = 0;
  for (const Delta& d : deltas) one_by_one += EncodeDelta(d).size();
  RC_ASSERT(deltas.size() < 2 || bytes.size() <= one_by_one);
  RC_CLASSIFY(deltas.size() >= 2, "two or more deltas");
}

RC_GTEST_PROP(CodecProperties, Version1BytesStillDecodeToTheSameState, ()) {
  Delta d = *GenDelta();
  Result<Delta> back = DecodeDelta(EncodeDeltaV1(d));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == d);
  Directory dir = *GenDirectory();
  Result<Directory> state = DecodeDirectory(EncodeDirectoryV1(dir));
  RC_ASSERT(state.ok());
  RC_ASSERT(*state == dir);
  for (const auto& [id, r] : dir.records()) {
    Result<Record> rec = DecodeRecord(EncodeRecordV1(r));
    RC_ASSERT(rec.ok());
    RC_ASSERT(*rec == r);
    // Re-encoding what an old build stored writes version 2 of the same state.
    RC_ASSERT(EncodeRecord(*rec) == EncodeRecord(r));
  }
}

RC_GTEST_PROP(CodecProperties, EveryTruncationOfAVersion2BatchIsRefused, ()) {
  std::vector<Delta> deltas =
      *rc::gen::container<std::vector<Delta>>(*rc::gen::element<size_t>(0, 1, 2, 4), GenDelta());
  std::string bytes = EncodeDeltaBatch(deltas);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<std::vector<Delta>> back = DecodeDeltaBatch(bytes.substr(0, n));
    RC_ASSERT(!back.ok());
    RC_ASSERT(back.status().code() == Code::kCorruption);
  }
}

// Damage behind a valid checksum reaches the varint reader: whatever it yields is refused as
// Corruption or is a valid set of deltas that re-encodes stably; it never crashes or returns
// part of a batch.
RC_GTEST_PROP(CodecProperties, CorruptedVersion2BatchIsRefusedOrValid, ()) {
  std::vector<Delta> deltas =
      *rc::gen::container<std::vector<Delta>>(*rc::gen::element<size_t>(0, 1, 2, 4), GenDelta());
  std::string bytes = EncodeDeltaBatch(deltas);
  std::string payload = bytes.substr(4, bytes.size() - 8);
  if (payload.empty()) return;
  auto edits = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::pair<size_t, uint8_t>>>(
      rc::gen::pair(rc::gen::inRange<size_t>(0, payload.size()), rc::gen::arbitrary<uint8_t>())));
  for (auto [at, byte] : edits) payload[at] = static_cast<char>(byte);
  if (*rc::gen::arbitrary<bool>()) payload.resize(*rc::gen::inRange<size_t>(0, payload.size()));
  Result<std::vector<Delta>> back = DecodeDeltaBatch(Reframe(bytes, payload));
  RC_CLASSIFY(back.ok(), "decoded");
  if (!back.ok()) {
    RC_ASSERT(back.status().code() == Code::kCorruption);
    return;
  }
  for (const Delta& d : *back) {
    RC_ASSERT(d.author != 0u);
    for (const Record& r : d.records) AssertValid(r);
  }
  Result<std::vector<Delta>> again = DecodeDeltaBatch(EncodeDeltaBatch(*back));
  RC_ASSERT(again.ok());
  RC_ASSERT(*again == *back);
}

RC_GTEST_PROP(CodecProperties, RandomVersion2BodiesNeverCrashAnyDecoder,
              (const std::string& payload)) {
  for (char tag : {'D', 'B', 'R', 'S'}) {
    std::string header = std::string("SB") + tag + static_cast<char>(2);
    std::string framed = Reframe(header, payload);
    Status s = tag == 'D'   ? DecodeDelta(framed).status()
               : tag == 'B' ? DecodeDeltaBatch(framed).status()
               : tag == 'R' ? DecodeRecord(framed).status()
                            : DecodeDirectory(framed).status();
    RC_ASSERT(s.ok() || s.code() == Code::kCorruption);
  }
}

TEST(CodecVersion2, AOneFieldWriteOfAUuidRecordIsSmall) {
  Record r("0b6e5a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "phone");
  ReplicaId a = 0x9e3779b97f4a7c15, b = 0x7f4a7c159e3779b9;
  r.Join(r.WriteDelta("number", Value(std::string("+12025550100")), a, Hlc{1ull << 40}));
  Record delta = r.WriteDelta("number", Value(std::string("+12025550199")), b, Hlc{2ull << 40});
  std::string bytes = EncodeDelta(Delta{b, Hlc{2ull << 40}, {delta}});
  // id 36 + field 6 + value 12 = 54 bytes of payload; two 64-bit replica ids in the table.
  EXPECT_LT(bytes.size(), 100u) << bytes.size();
  EXPECT_LT(bytes.size(), EncodeDeltaV1(Delta{b, Hlc{2ull << 40}, {delta}}).size() / 2);
}

}  // namespace
}  // namespace sb

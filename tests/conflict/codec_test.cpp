#include "conflict/codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <string>

#include "conflict/replica.h"
#include "schemas/crdt.capnp.h"

namespace sb {
namespace {

const char kA[] = "00000000-0000-4000-8000-000000000001";
const char kB[] = "00000000-0000-4000-8000-000000000002";
constexpr uint64_t kT0 = 1'700'000'000'000;

Value Text(const char* s) {
  return Value(std::string(s));
}

// Two replicas with concurrent edits, so states hold siblings, sets and context clouds.
struct Fixture {
  const FieldSchema& schema = FieldSchema::Hsds();
  Replica a{1, schema}, b{2, schema};
  Delta last;

  Fixture() {
    Must(a.Set(kA, "service",
               {{"name", Text("Casa \"Luz\"")},
                {"available_24_7", Value(true)},
                {"capacity_beds_available", Value(int64_t{12})},
                {"description", Value(Null{})}},
               kT0));
    Must(b.Set(kA, "service", {{"name", Text("Casa Luz")}}, kT0));
    Must(a.AddElement(kA, "categories", "legal", kT0 + 1));
    Must(b.Set(kB, "phone", {{"number", Text("+14155550123")}}, kT0 + 1));
    Must(b.Delete(kB, kT0 + 2));
    last = *b.AddElement(kA, "categories", "medical", kT0 + 3);
    Must(a.Apply(last, kT0 + 3));  // a sees b's dot for kA before b's other deltas: a cloud
  }
  void Must(const Result<Delta>& d) { ASSERT_TRUE(d.ok()) << d.status().ToString(); }
  void Must(const Status& s) { ASSERT_TRUE(s.ok()) << s.ToString(); }
};

// A version 1 frame around a hand-built Cap'n Proto message.
std::string Framed(char tag, capnp::MessageBuilder& msg, uint8_t version = kOldestFormatVersion) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(msg);
  std::string out = "SB";
  out.push_back(tag);
  out.push_back(static_cast<char>(version));
  out.append(words.asChars().begin(), words.asChars().size());
  uint32_t crc = Crc32(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return out;
}

void ExpectCorruption(const Status& s, const std::string& needle) {
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

TEST(Codec, DeltaRoundTrips) {
  Fixture f;
  ASSERT_FALSE(f.a.state().Find(kA)->context().cloud().empty());
  Delta whole = f.a.state().AsDelta(1, f.a.clock().last());
  for (const Delta& d : {f.last, whole}) {
    Result<Delta> back = DecodeDelta(EncodeDelta(d));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, d);
  }
}

TEST(Codec, DirectoryAndRecordRoundTrip) {
  Fixture f;
  for (const Directory* dir : {&f.a.state(), &f.b.state()}) {
    Result<Directory> back = DecodeDirectory(EncodeDirectory(*dir));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, *dir);
    for (const auto& [id, r] : dir->records()) {
      Result<Record> rec = DecodeRecord(EncodeRecord(r));
      ASSERT_TRUE(rec.ok()) << rec.status().ToString();
      EXPECT_EQ(*rec, r);
    }
  }
  Result<Directory> empty = DecodeDirectory(EncodeDirectory(Directory()));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
}

TEST(Codec, EqualStatesEncodeToEqualBytesAndDifferentStatesDoNot) {
  Fixture f;
  ASSERT_TRUE(f.a.Apply(f.b.state().AsDelta(2, f.b.clock().last()), kT0 + 4).ok());
  ASSERT_TRUE(f.b.Apply(f.a.state().AsDelta(1, f.a.clock().last()), kT0 + 4).ok());
  ASSERT_EQ(f.a.state(), f.b.state());
  EXPECT_EQ(EncodeDirectory(f.a.state()), EncodeDirectory(f.b.state()));
  ASSERT_TRUE(f.a.AddElement(kA, "categories", "hotline", kT0 + 5).ok());
  EXPECT_NE(EncodeDirectory(f.a.state()), EncodeDirectory(f.b.state()));
}

TEST(Codec, EveryTruncationIsAnError) {
  Fixture f;
  for (const std::string& bytes : {EncodeDelta(f.last), EncodeDirectory(f.a.state())}) {
    bool delta = bytes[2] == 'D';
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::string_view cut(bytes.data(), n);
      Status s = delta ? DecodeDelta(cut).status() : DecodeDirectory(cut).status();
      EXPECT_EQ(s.code(), Code::kCorruption) << "prefix of " << n << " bytes: " << s.ToString();
    }
  }
}

TEST(Codec, EverySingleByteFlipIsAnError) {
  Fixture f;
  for (const std::string& bytes : {EncodeDelta(f.last), EncodeDirectory(f.a.state())}) {
    bool delta = bytes[2] == 'D';
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        Status s = delta ? DecodeDelta(bad).status() : DecodeDirectory(bad).status();
        // Byte 3 is the format version: an unknown one may be reported as such.
        bool version = i == 3 && s.code() == Code::kFailedPrecondition;
        EXPECT_TRUE(s.code() == Code::kCorruption || version)
            << "byte " << i << " ^ " << int(mask) << ": " << s.ToString();
      }
    }
  }
}

TEST(Codec, WrongTagOrMagicIsRefused) {
  Fixture f;
  ExpectCorruption(DecodeDirectory(EncodeDelta(f.last)).status(), "another kind of object");
  ExpectCorruption(DecodeDelta(EncodeDirectory(f.a.state())).status(), "another kind of object");
  ExpectCorruption(DecodeRecord(EncodeDelta(f.last)).status(), "another kind of object");
  std::string bytes = EncodeDelta(f.last);
  bytes[0] = 'X';
  ExpectCorruption(DecodeDelta(bytes).status(), "not a Switchboard encoding");
}

TEST(Codec, NewerFormatVersionIsAFailedPreconditionNamingTheVersion) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<wire::Delta>().setAuthor(1);
  Result<Delta> d = DecodeDelta(Framed('D', msg, kFormatVersion + 1));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(d.status().message().find("format version 3"), std::string::npos)
      << d.status().message();
  EXPECT_NE(d.status().message().find("upgrade"), std::string::npos) << d.status().message();
  EXPECT_TRUE(DecodeDelta(Framed('D', msg)).ok());  // the same message at version 1 is fine
}

TEST(Codec, OversizeInputIsRefusedBeforeDecoding) {
  std::string huge(kMaxDeltaBytes + 1, '\0');
  Result<Delta> d = DecodeDelta(huge);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kResourceExhausted);
  EXPECT_NE(d.status().message().find(std::to_string(kMaxDeltaBytes)), std::string::npos);
}

TEST(Codec, GarbageIsCorruption) {
  EXPECT_EQ(DecodeDelta("").status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeDelta(std::string(64, '\xff')).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeDirectory("SBS\x01").status().code(), Code::kCorruption);
}

// --- Invariants Cap'n Proto cannot check: each framed with a valid checksum. ---

wire::Record::Builder OneRecord(capnp::MallocMessageBuilder& msg, const char* id = kA) {
  auto root = msg.initRoot<wire::Delta>();
  root.setAuthor(1);
  root.initStamp().setPacked(Hlc::Make(kT0, 0).packed);
  auto rec = root.initRecords(1)[0];
  rec.setId(id);
  rec.setKind("service");
  auto vec = rec.initContext().initVector(1);
  vec[0].setReplica(1);
  vec[0].setCounter(2);
  return rec;
}

void AddEntry(wire::Field::Builder f, uint64_t replica, uint64_t counter, uint64_t stamp) {
  auto e = f.initRegister(1)[0];
  e.initDot().setReplica(replica);
  e.getDot().setCounter(counter);
  e.initValue().setText("x");
  e.initStamp().setPacked(stamp);
}

TEST(Codec, DecoderRefusesEntriesOutsideTheContext) {
  capnp::MallocMessageBuilder msg;
  auto f = OneRecord(msg).initFields(1)[0];
  f.setName("name");
  AddEntry(f, 1, 3, Hlc::Make(kT0, 0).packed);  // the context holds 1:1..2
  ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "entry outside context");
}

TEST(Codec, DecoderRefusesZeroDotsAndZeroAuthor) {
  capnp::MallocMessageBuilder msg;
  auto f = OneRecord(msg).initFields(1)[0];
  f.setName("name");
  AddEntry(f, 0, 1, Hlc::Make(kT0, 0).packed);
  ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "zero replica or counter");
  msg.getRoot<wire::Delta>().setAuthor(0);
  AddEntry(f, 1, 1, Hlc::Make(kT0, 0).packed);
  ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "without author");
}

TEST(Codec, DecoderRefusesEntriesStampedAfterTheirDelta) {
  capnp::MallocMessageBuilder msg;
  auto f = OneRecord(msg).initFields(1)[0];
  f.setName("name");
  AddEntry(f, 1, 1, Hlc::Make(kT0 + 1, 0).packed);
  ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "stamped after its delta");
}

TEST(Codec, DecoderRefusesDuplicateFieldsAndVectorEntriesAndMissingIds) {
  {
    capnp::MallocMessageBuilder msg;
    auto fields = OneRecord(msg).initFields(2);
    for (unsigned i = 0; i < 2; ++i) {
      fields[i].setName("name");
      AddEntry(fields[i], 1, i + 1, Hlc::Make(kT0, 0).packed);
    }
    ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "appears twice");
  }
  {
    capnp::MallocMessageBuilder msg;
    auto vec = OneRecord(msg).getContext().initVector(2);
    vec[0].setReplica(1);
    vec[1].setReplica(1);
    ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "names a replica twice");
  }
  {
    capnp::MallocMessageBuilder msg;
    OneRecord(msg, "");
    ExpectCorruption(DecodeDelta(Framed('D', msg)).status(), "record without id");
  }
}

TEST(Codec, DirectoryDecoderRefusesRecordsOutOfOrder) {
  capnp::MallocMessageBuilder msg;
  auto recs = msg.initRoot<wire::DirectoryState>().initRecords(2);
  recs[0].setId(kB);
  recs[1].setId(kA);
  ExpectCorruption(DecodeDirectory(Framed('S', msg)).status(), "out of order");
  recs[0].setId(kA);
  recs[1].setId(kA);
  ExpectCorruption(DecodeDirectory(Framed('S', msg)).status(), "out of order");
}

// BUG (conflict/codec.cpp, PutRecord/PutValue): std::string is passed to Cap'n Proto setters,
// which convert through kj::StringPtr(t.c_str()) and so stop at the first NUL byte. A text value
// (or id, kind, field name, element) containing "\0" is silently truncated on encode, and the
// round trip returns a different state. Fix: pass explicit lengths, e.g.
// b.setText(capnp::Text::Reader(s.data(), s.size())).
TEST(Codec, TextWithAnEmbeddedNulRoundTripsExactly) {
  Record r(kA, "service");
  r.Join(
      r.WriteDelta("description", Value(std::string("before\0after", 12)), 1, Hlc::Make(kT0, 0)));
  Result<Record> back = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  std::optional<Value> got = back->Displayed("description");
  ASSERT_TRUE(got && std::holds_alternative<std::string>(*got));
  EXPECT_EQ(std::get<std::string>(*got).size(), 12u)
      << "decoded as " << ValueToString(*got) << ", written as \"before\\0after\"";
  EXPECT_EQ(*back, r);
}

}  // namespace
}  // namespace sb

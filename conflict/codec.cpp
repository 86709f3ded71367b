#include "conflict/codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/utf8.h"
#include "conflict/codec_internal.h"
#include "conflict/internal/access.h"
#include "schemas/crdt.capnp.h"

namespace sb {

namespace {

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), sliced by 8: table k gives the CRC of
// a byte followed by k zero bytes, so eight input bytes take eight lookups and no loop-carried
// byte steps. Computes what zlib's crc32() does, about five times faster on the short
// messages a delta makes (zlib 1.2.13 went a byte at a time there).
struct CrcTables {
  uint32_t t[8][256];
};

constexpr CrcTables MakeCrcTables() {
  CrcTables c{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t x = i;
    for (int k = 0; k < 8; ++k) x = (x >> 1) ^ (0xEDB88320u & (0u - (x & 1)));
    c.t[0][i] = x;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t i = 0; i < 256; ++i) {
      c.t[k][i] = (c.t[k - 1][i] >> 8) ^ c.t[0][c.t[k - 1][i] & 0xFF];
    }
  }
  return c;
}

constexpr CrcTables kCrc = MakeCrcTables();

uint32_t LoadLe32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

uint32_t Crc32(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  uint32_t c = 0xFFFFFFFFu;
  const auto& t = kCrc.t;
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo = LoadLe32(p) ^ c, hi = LoadLe32(p + 4);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
  }
  for (; n > 0; ++p, --n) c = (c >> 8) ^ t[0][(c ^ *p) & 0xFF];
  return ~c;
}

namespace {

enum class Tag : char { kDelta = 'D', kState = 'S', kRecord = 'R', kBatch = 'B' };
constexpr size_t kHeader = 4, kTrailer = 4;

// ---------- encoding ----------

// With its length: a std::string converted implicitly would stop at an embedded NUL.
capnp::Text::Reader TextOf(const std::string& s) {
  return capnp::Text::Reader(s.data(), s.size());
}

void PutDot(wire::Dot::Builder b, const Dot& d) {
  b.setReplica(d.replica);
  b.setCounter(d.counter);
}

void PutContext(wire::CausalContext::Builder b, const CausalContext& c) {
  auto vec = b.initVector(c.vector().size());
  unsigned i = 0;
  for (const auto& [replica, n] : c.vector()) {
    vec[i].setReplica(replica);
    vec[i].setCounter(n);
    ++i;
  }
  auto cloud = b.initCloud(c.cloud().size());
  i = 0;
  for (const Dot& d : c.cloud()) PutDot(cloud[i++], d);
}

void PutValue(wire::FieldValue::Builder b, const Value& v) {
  if (std::holds_alternative<std::string>(v))
    b.setText(TextOf(std::get<std::string>(v)));
  else if (std::holds_alternative<int64_t>(v))
    b.setInteger(std::get<int64_t>(v));
  else if (std::holds_alternative<bool>(v))
    b.setBoolean(std::get<bool>(v));
  else
    b.setNull();
}

void PutRecord(wire::Record::Builder b, const Record& r) {
  b.setId(TextOf(r.id()));
  b.setKind(TextOf(r.kind()));
  PutContext(b.initContext(), r.context());
  auto fields = b.initFields(r.fields().size());
  unsigned i = 0;
  for (const auto& [name, field] : r.fields()) {
    auto fb = fields[i++];
    fb.setName(TextOf(name));
    if (const auto* reg = std::get_if<MvRegister>(&field)) {
      auto entries = fb.initRegister(reg->entries().size());
      unsigned j = 0;
      for (const auto& [dot, e] : reg->entries()) {
        PutDot(entries[j].initDot(), dot);
        PutValue(entries[j].initValue(), e.value);
        entries[j].initStamp().setPacked(e.stamp.packed);
        ++j;
      }
    } else {
      const auto& set = std::get<AwSet>(field);
      auto elems = fb.initSet(set.raw().size());
      unsigned j = 0;
      for (const auto& [element, dots] : set.raw()) {
        elems[j].setElement(TextOf(element));
        auto db = elems[j].initDots(dots.size());
        unsigned k = 0;
        for (const Dot& d : dots) PutDot(db[k++], d);
        ++j;
      }
    }
  }
}

// Version 2: `body` writes the message after the header; the CRC follows. The header fits the
// string's inline buffer, so the body's writer makes the only allocation (with room for the
// CRC).
template <typename Fn>
std::string FrameV2(Tag tag, Fn body) {
  std::string out;
  out.append("SB");
  out.push_back(static_cast<char>(tag));
  out.push_back(static_cast<char>(kFormatVersion));
  body(&out);
  uint32_t crc = Crc32(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return out;
}

std::string Frame(Tag tag, capnp::MessageBuilder& msg) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(msg);
  kj::ArrayPtr<const char> bytes = words.asChars();
  std::string out;
  out.reserve(kHeader + bytes.size() + kTrailer);
  out.append("SB");
  out.push_back(static_cast<char>(tag));
  out.push_back(static_cast<char>(kOldestFormatVersion));
  out.append(bytes.begin(), bytes.size());
  uint32_t crc = Crc32(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return out;
}

// ---------- decoding ----------

using codec::DecodeError;
using codec::TextCheck;

Dot GetDot(wire::Dot::Reader r) {
  if (r.getReplica() == 0 || r.getCounter() == 0)
    throw DecodeError{"dot with zero replica or counter"};
  return Dot{r.getReplica(), r.getCounter()};
}

CausalContext GetContext(wire::CausalContext::Reader r) {
  CausalContext::VersionVector vec;
  vec.reserve(r.getVector().size());
  for (auto e : r.getVector()) {
    if (e.getReplica() == 0) throw DecodeError{"version vector names replica 0"};
    if (!vec.emplace(e.getReplica(), e.getCounter()).second) {
      throw DecodeError{"version vector names a replica twice"};
    }
  }
  FlatSet<Dot> cloud;
  for (auto d : r.getCloud()) cloud.insert(cloud.end(), GetDot(d));
  return CausalContext::FromParts(std::move(vec), std::move(cloud));
}

std::string GetText(capnp::Text::Reader t, TextCheck check, const char* what,
                    TextKind kind = TextKind::kName) {
  std::string_view s(t.cStr(), t.size());
  codec::CheckWireText(s, check, what, kind);
  return std::string(s);
}

Value GetValue(wire::FieldValue::Reader r, TextCheck check) {
  switch (r.which()) {
    case wire::FieldValue::NULL_:
      return Null{};
    case wire::FieldValue::TEXT:
      return GetText(r.getText(), check, "a text value", TextKind::kAny);
    case wire::FieldValue::INTEGER:
      return static_cast<int64_t>(r.getInteger());
    case wire::FieldValue::BOOLEAN:
      return r.getBoolean();
  }
  throw DecodeError{"unknown value type"};
}

Record GetRecord(wire::Record::Reader r, TextCheck check) {
  std::string id = GetText(r.getId(), check, "a record id");
  if (id.empty()) throw DecodeError{"record without id"};
  Record rec(id, GetText(r.getKind(), check, "a record kind"));
  internal::Access::Context(rec) = GetContext(r.getContext());
  const CausalContext& ctx = rec.context();
  for (auto f : r.getFields()) {
    std::string name = GetText(f.getName(), check, "a field name");
    if (name.empty()) throw DecodeError{"record " + id + ": field without name"};
    Field field;
    switch (f.which()) {
      case wire::Field::REGISTER: {
        MvRegister reg;
        for (auto e : f.getRegister()) {
          Dot dot = GetDot(e.getDot());
          if (!ctx.Contains(dot)) throw DecodeError{"record " + id + ": entry outside context"};
          if (!internal::Access::Entries(reg)
                   .emplace(dot, RegisterEntry{GetValue(e.getValue(), check),
                                               Hlc{e.getStamp().getPacked()}})
                   .second) {
            throw DecodeError{"record " + id + ": duplicate dot in field " + name};
          }
        }
        if (reg.empty()) continue;
        field = std::move(reg);
        break;
      }
      case wire::Field::SET: {
        AwSet set;
        for (auto e : f.getSet()) {
          FlatSet<Dot> dots;
          for (auto d : e.getDots()) {
            Dot dot = GetDot(d);
            if (!ctx.Contains(dot)) throw DecodeError{"record " + id + ": element outside context"};
            dots.insert(dots.end(), dot);
          }
          if (dots.empty()) continue;
          std::string element = GetText(e.getElement(), check, "a set element", TextKind::kAny);
          if (!internal::Access::Elements(set)
                   .emplace(std::move(element), std::move(dots))
                   .second) {
            throw DecodeError{"record " + id + ": duplicate element in field " + name};
          }
        }
        if (set.empty()) continue;
        field = std::move(set);
        break;
      }
      default:
        throw DecodeError{"record " + id + ": field " + name + " of unknown type"};
    }
    if (!internal::Access::Fields(rec).emplace(name, std::move(field)).second) {
      throw DecodeError{"record " + id + ": field " + name + " appears twice"};
    }
  }
  return rec;
}

// Checks the frame and decodes its body inside a catch boundary: a version 1 body through
// Cap'n Proto with `read_v1`, a version 2 body with `read_v2`.
template <typename T, typename FnV1, typename FnV2>
Result<T> Unframe(std::string_view bytes, Tag tag, size_t max_bytes, FnV1 read_v1, FnV2 read_v2) {
  const char* what = tag == Tag::kDelta   ? "delta"
                     : tag == Tag::kState ? "directory state"
                     : tag == Tag::kBatch ? "delta batch"
                                          : "record";
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption(std::string("cannot decode ") + what + ": " + why);
  };
  if (bytes.size() > max_bytes) {
    return Status::ResourceExhausted(std::string(what) + " of " + std::to_string(bytes.size()) +
                                     " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  if (bytes.size() < kHeader + kTrailer) return corrupt("truncated");
  if (bytes[0] != 'S' || bytes[1] != 'B') return corrupt("not a Switchboard encoding");
  if (bytes[2] != static_cast<char>(tag)) return corrupt("holds another kind of object");
  std::string_view body = bytes.substr(0, bytes.size() - kTrailer);
  uint32_t want = 0;
  for (int i = 0; i < 4; ++i) {
    want |= uint32_t(static_cast<unsigned char>(bytes[bytes.size() - kTrailer + i])) << (8 * i);
  }
  if (Crc32(body) != want) return corrupt("checksum mismatch (truncated or corrupted)");
  // After the checksum, so that a damaged version byte reads as damage, not as a newer format.
  auto version = static_cast<uint8_t>(bytes[3]);
  bool v1 = version == kOldestFormatVersion && tag != Tag::kBatch;
  if (!v1 && version != kFormatVersion) {
    return Status::FailedPrecondition(
        std::string(what) + " has format version " + std::to_string(version) +
        "; this build reads version" +
        (tag == Tag::kBatch ? " " : "s " + std::to_string(kOldestFormatVersion) + " and ") +
        std::to_string(kFormatVersion) +
        (version > kFormatVersion ? " (upgrade switchboard)" : ""));
  }
  std::string_view payload = body.substr(kHeader);
  try {
    if (!v1) return read_v2(payload);
    if (payload.size() < sizeof(capnp::word)) return corrupt("truncated");
    if (payload.size() % sizeof(capnp::word) != 0) return corrupt("misaligned message");
    // Copy into word-aligned memory: the caller's buffer has no alignment guarantee.
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(payload.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), payload.data(), payload.size());
    capnp::ReaderOptions options;
    options.traversalLimitInWords = words.size() * 4 + 1024;  // bounds amplification
    options.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    return read_v1(reader);
  } catch (const kj::Exception& e) {
    return corrupt(e.getDescription().cStr());
  } catch (const DecodeError& e) {
    return corrupt(e.what);
  } catch (const std::bad_alloc&) {
    return corrupt("out of memory while decoding");
  }
}

}  // namespace

std::string EncodeDelta(const Delta& delta) {
  return FrameV2(Tag::kDelta, [&](std::string* out) { codec::EncodeDeltaV2(delta, out); });
}

Result<Delta> DecodeDelta(std::string_view bytes) {
  return Unframe<Delta>(
      bytes, Tag::kDelta, kMaxDeltaBytes,
      [](capnp::MessageReader& reader) {
        auto root = reader.getRoot<wire::Delta>();
        Delta d;
        d.author = root.getAuthor();
        if (d.author == 0) throw DecodeError{"delta without author"};
        d.stamp = Hlc{root.getStamp().getPacked()};
        for (auto r : root.getRecords()) {
          d.records.push_back(GetRecord(r, TextCheck::kWire));
          for (const auto& [name, f] : d.records.back().fields()) {
            if (const auto* reg = std::get_if<MvRegister>(&f)) {
              for (const auto& [dot, e] : reg->entries()) {
                if (e.stamp > d.stamp) throw DecodeError{"entry stamped after its delta"};
              }
            }
          }
        }
        return d;
      },
      [](std::string_view body) { return codec::DecodeDeltaV2(body); });
}

std::string EncodeDeltaBatch(std::span<const Delta> deltas) {
  return FrameV2(Tag::kBatch, [&](std::string* out) { codec::EncodeDeltaBatchV2(deltas, out); });
}

Result<std::vector<Delta>> DecodeDeltaBatch(std::string_view bytes) {
  return Unframe<std::vector<Delta>>(
      bytes, Tag::kBatch, kMaxDeltaBytes,
      [](capnp::MessageReader&) -> std::vector<Delta> {
        throw DecodeError{"a delta batch has no version 1 form"};  // unreachable: refused above
      },
      [](std::string_view body) { return codec::DecodeDeltaBatchV2(body); });
}

std::string EncodeDirectory(const Directory& dir) {
  return FrameV2(Tag::kState, [&](std::string* out) { codec::EncodeDirectoryV2(dir, out); });
}

Result<Directory> DecodeDirectory(std::string_view bytes) {
  return Unframe<Directory>(
      bytes, Tag::kState, kMaxStateBytes,
      [](capnp::MessageReader& reader) {
        Directory dir;
        std::string last;
        for (auto r : reader.getRoot<wire::DirectoryState>().getRecords()) {
          Record rec = GetRecord(r, TextCheck::kWire);
          if (!last.empty() && rec.id() <= last) throw DecodeError{"records out of order"};
          last = rec.id();
          dir.Join(rec);
        }
        return dir;
      },
      [](std::string_view body) { return codec::DecodeDirectoryV2(body); });
}

std::string EncodeRecord(const Record& record) {
  return FrameV2(Tag::kRecord, [&](std::string* out) { codec::EncodeRecordV2(record, out); });
}

Result<Record> DecodeRecord(std::string_view bytes) {
  return Unframe<Record>(
      bytes, Tag::kRecord, kMaxDeltaBytes * 4,
      [](capnp::MessageReader& reader) {
        return GetRecord(reader.getRoot<wire::Record>(), TextCheck::kStored);
      },
      [](std::string_view body) { return codec::DecodeRecordV2(body, TextCheck::kStored); });
}

std::string EncodeDeltaV1(const Delta& delta) {
  capnp::MallocMessageBuilder msg(128);
  auto root = msg.initRoot<wire::Delta>();
  root.setAuthor(delta.author);
  root.initStamp().setPacked(delta.stamp.packed);
  auto records = root.initRecords(delta.records.size());
  for (size_t i = 0; i < delta.records.size(); ++i) PutRecord(records[i], delta.records[i]);
  return Frame(Tag::kDelta, msg);
}

std::string EncodeRecordV1(const Record& record) {
  capnp::MallocMessageBuilder msg(128);
  PutRecord(msg.initRoot<wire::Record>(), record);
  return Frame(Tag::kRecord, msg);
}

std::string EncodeDirectoryV1(const Directory& dir) {
  capnp::MallocMessageBuilder msg;
  auto root = msg.initRoot<wire::DirectoryState>();
  auto records = root.initRecords(dir.records().size());
  unsigned i = 0;
  for (const auto& [id, r] : dir.records()) PutRecord(records[i++], r);
  return Frame(Tag::kState, msg);
}

}  // namespace sb

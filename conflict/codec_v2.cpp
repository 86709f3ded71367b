// Format version 2: a hand-written varint body (schemas/FORMATS.md, "Version 2"). Replica ids
// are written once per message in a sorted table and referred to by index; counters, lengths
// and stamp differences are LEB128 varints; canonical UUIDs travel as 16 raw bytes.
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <span>

#include "conflict/codec_internal.h"
#include "conflict/internal/access.h"

namespace sb::codec {
namespace {

// ---------- writing ----------

// Appends to a string through a cursor: one room check per item written, where appending to
// the string itself kept its length and terminator up to date byte by byte. The string is
// sized once from an estimate of the message and grows (doubling) only if that falls short;
// the destructor trims it to what was written.
class Writer {
 public:
  Writer(std::string* out, size_t expected) : out_(out), p_(out->data() + out->size()), end_(p_) {
    Grow(expected);
  }
  ~Writer() { out_->resize(static_cast<size_t>(p_ - out_->data())); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Varint(uint64_t v) {
    Need(10);
    while (v >= 0x80) {
      *p_++ = static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Byte(uint8_t b) {
    Need(1);
    *p_++ = static_cast<char>(b);
  }
  void Bytes(const void* data, size_t n) {
    Need(n);
    std::memcpy(p_, data, n);
    p_ += n;
  }
  void Fixed64(uint64_t v) {
    Need(8);
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(p_, &v, 8);
      p_ += 8;
    } else {
      for (int i = 0; i < 8; ++i) *p_++ = static_cast<char>((v >> (8 * i)) & 0xFF);
    }
  }

 private:
  void Need(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) Grow(n);
  }
  [[gnu::noinline]] void Grow(size_t n) {
    size_t used = static_cast<size_t>(p_ - out_->data());
    out_->resize(std::max(used + n, 2 * out_->size()));
    p_ = out_->data() + used;
    end_ = out_->data() + out_->size();
  }

  std::string* out_;
  char* p_;    // the next byte to write
  char* end_;  // the end of the room made so far
};

void PutVarint(Writer& out, uint64_t v) {
  out.Varint(v);
}

void PutFixed64(Writer& out, uint64_t v) {
  out.Fixed64(v);
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// A stamp relative to `base`, modulo 2^64 (exact both ways for any pair of values).
void PutStamp(Writer& out, Hlc stamp, Hlc base) {
  PutVarint(out, ZigZag(static_cast<int64_t>(base.packed - stamp.packed)));
}

void PutString(Writer& out, std::string_view s) {
  PutVarint(out, s.size());
  out.Bytes(s.data(), s.size());
}

// Each byte's value as a lower-case hex digit, or 0xFF.
struct HexValues {
  uint8_t of[256];
};
constexpr HexValues MakeHexValues() {
  HexValues h{};
  for (int c = 0; c < 256; ++c) {
    h.of[c] = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0xFF;
  }
  return h;
}
constexpr HexValues kHexValues = MakeHexValues();

constexpr size_t kUuidText = 36, kUuidBytes = 16;

// True (and fills `raw`) when `id` is a UUID in canonical lower-case 8-4-4-4-12 form.
bool PackUuid(std::string_view id, unsigned char raw[kUuidBytes]) {
  if (id.size() != kUuidText) return false;
  if (id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') return false;
  const char* p = id.data();
  unsigned bad = 0;  // 0xFF bits from any digit that is not one
  for (size_t k = 0; k < kUuidBytes; ++k) {
    if (k == 4 || k == 6 || k == 8 || k == 10) ++p;  // over a dash
    unsigned hi = kHexValues.of[static_cast<unsigned char>(p[0])];
    unsigned lo = kHexValues.of[static_cast<unsigned char>(p[1])];
    bad |= hi | lo;
    raw[k] = static_cast<unsigned char>(hi << 4 | lo);
    p += 2;
  }
  return bad < 16;
}

// An id: varint 0 then 16 bytes (a canonical UUID), or varint length+1 then the text.
void PutId(Writer& out, std::string_view id) {
  unsigned char raw[kUuidBytes];
  if (PackUuid(id, raw)) {
    out.Byte(0);
    out.Bytes(raw, kUuidBytes);
  } else {
    PutVarint(out, id.size() + 1);
    out.Bytes(id.data(), id.size());
  }
}

// Value header: 0 null, 1 false, 2 true, 3 integer (zig-zag varint follows), 4 + n text of n
// bytes.
void PutValue(Writer& out, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    PutVarint(out, 4 + s->size());
    out.Bytes(s->data(), s->size());
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    out.Byte(3);
    PutVarint(out, ZigZag(*i));
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out.Byte(*b ? 2 : 1);
  } else {
    out.Byte(0);
  }
}

// A hint that memory will be read soon: a delta's parts are separate allocations, often out
// of cache when it is encoded, and asking for them together overlaps the misses.
void Prefetch(const char* p) {
  __builtin_prefetch(p);
}
template <typename Items>
void Prefetch(const Items& items) {
  if (!items.empty()) __builtin_prefetch(&*items.begin());
}

// Replica ids, inline while few: a delta names one to a handful, and neither encoding nor
// decoding one should allocate for them. Grows onto the heap past kInline.
class IdList {
 public:
  void push_back(ReplicaId r) {
    if (size_ < kInline) {
      inline_[size_++] = r;
      return;
    }
    if (size_ == kInline) heap_.assign(inline_.begin(), inline_.end());
    heap_.push_back(r);
    ++size_;
  }
  // Keeps the first n ids (n <= size()).
  void truncate(size_t n) {
    if (size_ > kInline && n <= kInline) {
      std::copy_n(heap_.begin(), n, inline_.begin());
      heap_.clear();
    } else if (size_ > kInline) {
      heap_.resize(n);
    }
    size_ = n;
  }
  std::span<ReplicaId> span() {
    return size_ <= kInline ? std::span<ReplicaId>(inline_.data(), size_) : std::span(heap_);
  }
  std::span<const ReplicaId> span() const {
    return size_ <= kInline ? std::span<const ReplicaId>(inline_.data(), size_)
                            : std::span<const ReplicaId>(heap_);
  }

 private:
  static constexpr size_t kInline = 16;
  std::array<ReplicaId, kInline> inline_{};
  std::vector<ReplicaId> heap_;  // all the ids, once there are more than kInline
  size_t size_ = 0;
};

// The sorted, distinct replica ids a message names; indexes are positions in it.
class ReplicaTable {
 public:
  void Note(ReplicaId r) { ids_.push_back(r); }
  void NoteContext(const CausalContext& c) {
    for (const auto& [r, n] : c.vector()) Note(r);
    for (const Dot& d : c.cloud()) Note(d.replica);
  }
  void NoteRecord(const Record& r) {
    // The first pass over the record: ask for what PutRecord reads next, in parallel.
    Prefetch(r.id().data());
    Prefetch(r.context().cloud());
    Prefetch(r.fields());
    // Every entry's dot lies in the record's context, so its replicas are already noted;
    // records built without that invariant (bad input) are covered too.
    NoteContext(r.context());
    const CausalContext& c = r.context();
    expected_ += (r.id().size() == kUuidText ? 1 + kUuidBytes : 2 + r.id().size()) + 1 +
                 r.kind().size() + 2 + kDotBytes * (c.vector().size() + c.cloud().size()) + 1;
    for (const auto& [name, field] : r.fields()) {
      expected_ += 2 + name.size();
      if (const auto* reg = std::get_if<MvRegister>(&field)) {
        for (const auto& [dot, e] : reg->entries()) {
          Note(dot.replica);
          expected_ += kDotBytes + 4;
          if (const auto* text = std::get_if<std::string>(&e.value)) {
            Prefetch(text->data());
            expected_ += text->size();
          }
        }
      } else {
        for (const auto& [element, dots] : std::get<AwSet>(field).raw()) {
          expected_ += 2 + element.size() + kDotBytes * dots.size();
          for (const Dot& d : dots) Note(d.replica);
        }
      }
    }
  }
  // The bytes the noted records, the table and a message's header (and a frame's checksum
  // after it) take, give or take a few: what a Writer makes room for at once.
  size_t ExpectedBytes() const { return expected_ + 1 + 8 * ids_.span().size() + 40; }
  void Seal() {
    std::span<ReplicaId> ids = ids_.span();
    std::sort(ids.begin(), ids.end());
    ids_.truncate(static_cast<size_t>(std::unique(ids.begin(), ids.end()) - ids.begin()));
  }
  uint64_t Index(ReplicaId r) const {
    std::span<const ReplicaId> ids = ids_.span();
    return static_cast<uint64_t>(std::lower_bound(ids.begin(), ids.end(), r) - ids.begin());
  }
  void Put(Writer& out) const {
    PutVarint(out, ids_.span().size());
    for (ReplicaId r : ids_.span()) PutFixed64(out, r);
  }

 private:
  static constexpr size_t kDotBytes = 4;  // a replica index and a counter, as usually written

  IdList ids_;
  size_t expected_ = 0;
};

void PutDot(Writer& out, const ReplicaTable& t, const Dot& d) {
  PutVarint(out, t.Index(d.replica));
  PutVarint(out, d.counter);
}

void PutRecord(Writer& out, const ReplicaTable& t, const Record& r, Hlc base) {
  PutId(out, r.id());
  PutString(out, r.kind());
  const CausalContext& c = r.context();
  PutVarint(out, c.vector().size());
  for (const auto& [replica, n] : c.vector()) PutDot(out, t, Dot{replica, n});
  PutVarint(out, c.cloud().size());
  for (const Dot& d : c.cloud()) PutDot(out, t, d);
  PutVarint(out, r.fields().size());
  for (const auto& [name, field] : r.fields()) {
    PutString(out, name);
    if (const auto* reg = std::get_if<MvRegister>(&field)) {
      PutVarint(out, reg->entries().size() << 1);
      for (const auto& [dot, e] : reg->entries()) {
        PutDot(out, t, dot);
        PutValue(out, e.value);
        PutStamp(out, e.stamp, base);
      }
    } else {
      const auto& set = std::get<AwSet>(field).raw();
      PutVarint(out, set.size() << 1 | 1);
      for (const auto& [element, dots] : set) {
        PutString(out, element);
        PutVarint(out, dots.size());
        for (const Dot& d : dots) PutDot(out, t, d);
      }
    }
  }
}

Hlc MaxStamp(const Record& r, Hlc so_far) {
  for (const auto& [name, field] : r.fields()) {
    if (const auto* reg = std::get_if<MvRegister>(&field)) {
      for (const auto& [dot, e] : reg->entries()) so_far = std::max(so_far, e.stamp);
    }
  }
  return so_far;
}

// ---------- reading ----------

class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  size_t left() const { return static_cast<size_t>(end_ - p_); }
  void ExpectEnd() const {
    if (p_ != end_) throw DecodeError{"trailing bytes after the message"};
  }
  uint64_t Varint() {
    // Most varints (indexes, counts, lengths, small differences) are one byte.
    if (p_ != end_ && !(*p_ & 0x80)) return static_cast<unsigned char>(*p_++);
    return LongVarint();
  }
  uint64_t Fixed64() {
    std::string_view b = Bytes(8);
    uint64_t v = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&v, b.data(), 8);
    } else {
      for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
    }
    return v;
  }
  std::string_view Bytes(uint64_t n) {
    if (n > left()) throw DecodeError{"truncated"};
    std::string_view s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  // A count of items that take at least one byte each: never more than the bytes left, so a
  // hostile count cannot make the decoder allocate or loop beyond the message's size.
  size_t Count() {
    uint64_t n = Varint();
    if (n > left()) throw DecodeError{"count exceeds the message"};
    return static_cast<size_t>(n);
  }

 private:
  [[gnu::noinline]] uint64_t LongVarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw DecodeError{"truncated"};
      auto b = static_cast<unsigned char>(*p_++);
      if (shift == 63 && b > 1) throw DecodeError{"varint overflows 64 bits"};
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) {
        if (b == 0 && shift > 0) throw DecodeError{"varint not in its shortest form"};
        return v;
      }
    }
    throw DecodeError{"varint overflows 64 bits"};
  }

  const char* p_;
  const char* end_;
};

// Room to reserve for `n` items a message announces: all of them when few (the usual case,
// one allocation), a bounded start when many, so a hostile count cannot make the decoder
// allocate much more than the message holds.
size_t ReserveFor(size_t n) {
  return std::min<size_t>(n, 64);
}

// A message's replica table; GetReplica reads indexes into it.
using Table = std::span<const ReplicaId>;

IdList GetTable(Reader& in) {
  size_t n = in.Count();
  if (n > in.left() / 8) throw DecodeError{"truncated replica table"};
  IdList ids;
  ReplicaId last = 0;
  for (size_t i = 0; i < n; ++i) {
    ReplicaId r = in.Fixed64();
    if (r == 0) throw DecodeError{"replica table names replica 0"};
    if (i > 0 && r <= last) throw DecodeError{"replica table not sorted and distinct"};
    ids.push_back(r);
    last = r;
  }
  return ids;
}

ReplicaId GetReplica(Reader& in, Table table) {
  uint64_t i = in.Varint();
  if (i >= table.size()) throw DecodeError{"replica index outside the table"};
  return table[static_cast<size_t>(i)];
}

Dot GetDot(Reader& in, Table table) {
  ReplicaId r = GetReplica(in, table);
  uint64_t c = in.Varint();
  if (c == 0) throw DecodeError{"dot with zero counter"};
  return Dot{r, c};
}

std::string GetString(Reader& in, TextCheck check, const char* what,
                      TextKind kind = TextKind::kName) {
  std::string_view s = in.Bytes(in.Varint());
  CheckWireText(s, check, what, kind);
  return std::string(s);
}

// Each byte's two lower-case hex digits.
struct HexPairs {
  char pair[256][2];
};
constexpr HexPairs MakeHexPairs() {
  HexPairs h{};
  for (int b = 0; b < 256; ++b) {
    h.pair[b][0] = "0123456789abcdef"[b >> 4];
    h.pair[b][1] = "0123456789abcdef"[b & 0xF];
  }
  return h;
}
constexpr HexPairs kHexPairs = MakeHexPairs();

std::string GetId(Reader& in, TextCheck check) {
  uint64_t h = in.Varint();
  if (h != 0) {
    std::string_view s = in.Bytes(h - 1);
    CheckWireText(s, check, "a record id");
    return std::string(s);
  }
  std::string_view raw = in.Bytes(kUuidBytes);
  std::string id(kUuidText, '-');
  char* out = id.data();
  for (size_t k = 0; k < kUuidBytes; ++k) {
    if (k == 4 || k == 6 || k == 8 || k == 10) ++out;  // keep a dash
    std::memcpy(out, kHexPairs.pair[static_cast<unsigned char>(raw[k])], 2);
    out += 2;
  }
  return id;
}

Value GetValue(Reader& in, TextCheck check) {
  uint64_t h = in.Varint();
  switch (h) {
    case 0:
      return Null{};
    case 1:
      return false;
    case 2:
      return true;
    case 3:
      return UnZigZag(in.Varint());
    default: {
      std::string_view s = in.Bytes(h - 4);
      CheckWireText(s, check, "a text value", TextKind::kAny);
      return std::string(s);
    }
  }
}

Hlc GetStamp(Reader& in, Hlc base) {
  return Hlc{base.packed - static_cast<uint64_t>(UnZigZag(in.Varint()))};
}

CausalContext GetContext(Reader& in, Table table) {
  CausalContext::VersionVector vec;
  size_t n_vec = in.Count();
  vec.reserve(ReserveFor(n_vec));
  for (size_t n = n_vec; n > 0; --n) {
    ReplicaId r = GetReplica(in, table);
    if (!vec.empty() && r <= vec.rbegin()->first) {
      throw DecodeError{"version vector not sorted by replica, or names one twice"};
    }
    vec.emplace_hint(vec.end(), r, in.Varint());
  }
  FlatSet<Dot> cloud;
  size_t n_cloud = in.Count();
  cloud.reserve(ReserveFor(n_cloud));
  for (size_t n = n_cloud; n > 0; --n) cloud.insert(cloud.end(), GetDot(in, table));
  return CausalContext::FromParts(std::move(vec), std::move(cloud));
}

Record GetRecord(Reader& in, Table table, Hlc base, TextCheck check) {
  std::string id_read = GetId(in, check);
  if (id_read.empty()) throw DecodeError{"record without id"};
  Record rec(std::move(id_read), GetString(in, check, "a record kind"));
  const std::string& id = rec.id();
  internal::Access::Context(rec) = GetContext(in, table);
  const CausalContext& ctx = rec.context();
  auto& fields = internal::Access::Fields(rec);
  size_t n_fields = in.Count();
  fields.reserve(ReserveFor(n_fields));
  for (size_t nf = n_fields; nf > 0; --nf) {
    std::string name = GetString(in, check, "a field name");
    if (name.empty()) throw DecodeError{"record " + id + ": field without name"};
    uint64_t header = in.Varint();
    uint64_t n = header >> 1;
    if (n > in.left()) throw DecodeError{"count exceeds the message"};
    Field field;  // a register
    if (!(header & 1)) {
      auto& entries = internal::Access::Entries(std::get<MvRegister>(field));
      for (; n > 0; --n) {
        Dot dot = GetDot(in, table);
        if (!ctx.Contains(dot)) throw DecodeError{"record " + id + ": entry outside context"};
        Value value = GetValue(in, check);
        Hlc stamp = GetStamp(in, base);
        if (!entries.emplace(dot, RegisterEntry{std::move(value), stamp}).second) {
          throw DecodeError{"record " + id + ": duplicate dot in field " + name};
        }
      }
      if (entries.empty()) continue;
    } else {
      AwSet& set = field.emplace<AwSet>();
      for (; n > 0; --n) {
        std::string element = GetString(in, check, "a set element", TextKind::kAny);
        FlatSet<Dot> dots;
        for (size_t nd = in.Count(); nd > 0; --nd) {
          Dot dot = GetDot(in, table);
          if (!ctx.Contains(dot)) throw DecodeError{"record " + id + ": element outside context"};
          dots.insert(dots.end(), dot);
        }
        if (dots.empty()) continue;
        if (!internal::Access::Elements(set).emplace(std::move(element), std::move(dots)).second) {
          throw DecodeError{"record " + id + ": duplicate element in field " + name};
        }
      }
      if (set.empty()) continue;
    }
    if (!fields.emplace(std::move(name), std::move(field)).second) {
      throw DecodeError{"record " + id + ": field appears twice"};
    }
  }
  return rec;
}

// The records of one delta, whose entries may not be stamped after the delta.
void GetDeltaRecords(Reader& in, Table table, Delta* d) {
  size_t n = in.Count();
  d->records.reserve(n);
  for (; n > 0; --n) {
    d->records.push_back(GetRecord(in, table, d->stamp, TextCheck::kWire));
    for (const auto& [name, f] : d->records.back().fields()) {
      if (const auto* reg = std::get_if<MvRegister>(&f)) {
        for (const auto& [dot, e] : reg->entries()) {
          if (e.stamp > d->stamp) throw DecodeError{"entry stamped after its delta"};
        }
      }
    }
  }
}

// True when every byte is in 0x20..0x7E; eight bytes at a time.
bool IsPrintableAscii(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    // A byte below 0x20 (exact for any x: Mycroft's "has less than" test), or one of 0x7F and
    // above (its low seven bits plus one carry into the high bit, or the high bit is set).
    uint64_t low = (x - 0x20 * kOnes) & ~x & kHigh;
    uint64_t high = (((x & ~kHigh) + kOnes) | x) & kHigh;
    if (low | high) return false;
  }
  if (i == s.size()) return true;
  if (s.size() >= 8) return IsPrintableAscii(s.substr(s.size() - 8));  // the last 8 again
  for (; i < s.size(); ++i) {
    if (s[i] < 0x20 || s[i] >= 0x7F) return false;
  }
  return true;
}

}  // namespace

void CheckWireText(std::string_view s, TextCheck check, const char* what, TextKind kind) {
  if (check != TextCheck::kWire) return;
  // Printable ASCII passes every kind's check: most texts are, and need no UTF-8 walk.
  if (IsPrintableAscii(s)) return;
  Status st = CheckText(s, what, kind);
  if (!st.ok()) throw DecodeError{st.message()};
}

// Delta body: replica table | author index | stamp (8 bytes) | record count | records, with
// entry stamps relative to the delta's.
void EncodeDeltaV2(const Delta& delta, std::string* out) {
  ReplicaTable t;
  t.Note(delta.author);
  for (const Record& r : delta.records) t.NoteRecord(r);
  t.Seal();
  Writer w(out, t.ExpectedBytes());
  t.Put(w);
  PutVarint(w, t.Index(delta.author));
  PutFixed64(w, delta.stamp.packed);
  PutVarint(w, delta.records.size());
  for (const Record& r : delta.records) PutRecord(w, t, r, delta.stamp);
}

Delta DecodeDeltaV2(std::string_view body) {
  Reader in(body);
  IdList ids = GetTable(in);
  Table table = ids.span();
  Delta d;
  d.author = GetReplica(in, table);
  d.stamp = Hlc{in.Fixed64()};
  GetDeltaRecords(in, table, &d);
  in.ExpectEnd();
  return d;
}

// Batch body: replica table | delta count | per delta: author index, stamp as a zig-zag
// difference from the previous delta's (from 0 for the first), record count, records.
void EncodeDeltaBatchV2(std::span<const Delta> deltas, std::string* out) {
  ReplicaTable t;
  for (const Delta& d : deltas) {
    t.Note(d.author);
    for (const Record& r : d.records) t.NoteRecord(r);
  }
  t.Seal();
  Writer w(out, t.ExpectedBytes() + 8 * deltas.size());  // and each delta's own header
  t.Put(w);
  PutVarint(w, deltas.size());
  Hlc prev;
  for (const Delta& d : deltas) {
    PutVarint(w, t.Index(d.author));
    PutStamp(w, d.stamp, prev);
    prev = d.stamp;
    PutVarint(w, d.records.size());
    for (const Record& r : d.records) PutRecord(w, t, r, d.stamp);
  }
}

std::vector<Delta> DecodeDeltaBatchV2(std::string_view body) {
  Reader in(body);
  IdList ids = GetTable(in);
  Table table = ids.span();
  std::vector<Delta> out;
  size_t n = in.Count();
  out.reserve(n);
  Hlc prev;
  for (; n > 0; --n) {
    Delta& d = out.emplace_back();
    d.author = GetReplica(in, table);
    d.stamp = GetStamp(in, prev);
    prev = d.stamp;
    GetDeltaRecords(in, table, &d);
  }
  in.ExpectEnd();
  return out;
}

// Record body: replica table | base stamp (8 bytes: the greatest entry stamp) | record.
void EncodeRecordV2(const Record& record, std::string* out) {
  ReplicaTable t;
  t.NoteRecord(record);
  t.Seal();
  Writer w(out, t.ExpectedBytes());
  t.Put(w);
  Hlc base = MaxStamp(record, Hlc{});
  PutFixed64(w, base.packed);
  PutRecord(w, t, record, base);
}

Record DecodeRecordV2(std::string_view body, TextCheck check) {
  Reader in(body);
  IdList ids = GetTable(in);
  Table table = ids.span();
  Hlc base{in.Fixed64()};
  Record r = GetRecord(in, table, base, check);
  in.ExpectEnd();
  return r;
}

// Directory body: replica table | base stamp | record count | records sorted by id.
void EncodeDirectoryV2(const Directory& dir, std::string* out) {
  ReplicaTable t;
  Hlc base;
  for (const auto& [id, r] : dir.records()) {
    t.NoteRecord(r);
    base = MaxStamp(r, base);
  }
  t.Seal();
  Writer w(out, t.ExpectedBytes());
  t.Put(w);
  PutFixed64(w, base.packed);
  PutVarint(w, dir.records().size());
  for (const auto& [id, r] : dir.records()) PutRecord(w, t, r, base);
}

Directory DecodeDirectoryV2(std::string_view body) {
  Reader in(body);
  IdList ids = GetTable(in);
  Table table = ids.span();
  Hlc base{in.Fixed64()};
  Directory dir;
  std::string last;
  for (size_t n = in.Count(); n > 0; --n) {
    Record rec = GetRecord(in, table, base, TextCheck::kWire);
    if (!last.empty() && rec.id() <= last) throw DecodeError{"records out of order"};
    last = rec.id();
    dir.Join(rec);
  }
  in.ExpectEnd();
  return dir;
}

}  // namespace sb::codec

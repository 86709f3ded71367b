// Format version 2: a hand-written varint body (schemas/FORMATS.md, "Version 2"). Replica ids
// are written once per message in a sorted table and referred to by index; counters, lengths
// and stamp differences are LEB128 varints; canonical UUIDs travel as 16 raw bytes.
#include <algorithm>
#include <array>
#include <cstring>
#include <span>

#include "conflict/codec_internal.h"

namespace sb::codec {
namespace {

// ---------- writing ----------

void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  out->append(buf, 8);
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// A stamp relative to `base`, modulo 2^64 (exact both ways for any pair of values).
void PutStamp(std::string* out, Hlc stamp, Hlc base) {
  PutVarint(out, ZigZag(static_cast<int64_t>(base.packed - stamp.packed)));
}

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

constexpr size_t kUuidText = 36, kUuidBytes = 16;
bool IsUuidDash(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// True (and fills `raw`) when `id` is a UUID in canonical lower-case 8-4-4-4-12 form.
bool PackUuid(std::string_view id, unsigned char raw[kUuidBytes]) {
  if (id.size() != kUuidText) return false;
  size_t k = 0;
  for (size_t i = 0; i < kUuidText;) {
    if (IsUuidDash(i)) {
      if (id[i] != '-') return false;
      ++i;
      continue;
    }
    int hi = HexDigit(id[i]), lo = HexDigit(id[i + 1]);
    if (hi < 0 || lo < 0) return false;
    raw[k++] = static_cast<unsigned char>(hi << 4 | lo);
    i += 2;
  }
  return true;
}

// An id: varint 0 then 16 bytes (a canonical UUID), or varint length+1 then the text.
void PutId(std::string* out, std::string_view id) {
  unsigned char raw[kUuidBytes];
  if (PackUuid(id, raw)) {
    out->push_back(0);
    out->append(reinterpret_cast<const char*>(raw), kUuidBytes);
  } else {
    PutVarint(out, id.size() + 1);
    out->append(id);
  }
}

// Value header: 0 null, 1 false, 2 true, 3 integer (zig-zag varint follows), 4 + n text of n
// bytes.
void PutValue(std::string* out, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    PutVarint(out, 4 + s->size());
    out->append(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    out->push_back(3);
    PutVarint(out, ZigZag(*i));
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out->push_back(*b ? 2 : 1);
  } else {
    out->push_back(0);
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
    for (const auto& [name, field] : r.fields()) {
      if (const auto* reg = std::get_if<MvRegister>(&field)) {
        for (const auto& [dot, e] : reg->entries()) {
          Note(dot.replica);
          if (const auto* text = std::get_if<std::string>(&e.value)) Prefetch(text->data());
        }
      } else {
        for (const auto& [element, dots] : std::get<AwSet>(field).raw()) {
          for (const Dot& d : dots) Note(d.replica);
        }
      }
    }
  }
  void Seal() {
    std::span<ReplicaId> ids = ids_.span();
    std::sort(ids.begin(), ids.end());
    ids_.truncate(static_cast<size_t>(std::unique(ids.begin(), ids.end()) - ids.begin()));
  }
  uint64_t Index(ReplicaId r) const {
    std::span<const ReplicaId> ids = ids_.span();
    return static_cast<uint64_t>(std::lower_bound(ids.begin(), ids.end(), r) - ids.begin());
  }
  void Put(std::string* out) const {
    PutVarint(out, ids_.span().size());
    for (ReplicaId r : ids_.span()) PutFixed64(out, r);
  }

 private:
  IdList ids_;
};

void PutDot(std::string* out, const ReplicaTable& t, const Dot& d) {
  PutVarint(out, t.Index(d.replica));
  PutVarint(out, d.counter);
}

void PutRecord(std::string* out, const ReplicaTable& t, const Record& r, Hlc base) {
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
  uint64_t Fixed64() {
    std::string_view b = Bytes(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
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

std::string GetId(Reader& in, TextCheck check) {
  uint64_t h = in.Varint();
  if (h != 0) {
    std::string_view s = in.Bytes(h - 1);
    CheckWireText(s, check, "a record id");
    return std::string(s);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string_view raw = in.Bytes(kUuidBytes);
  std::string id(kUuidText, '-');
  for (size_t k = 0, i = 0; k < kUuidBytes; ++k) {
    if (IsUuidDash(i)) ++i;
    auto b = static_cast<unsigned char>(raw[k]);
    id[i++] = kHex[b >> 4];
    id[i++] = kHex[b & 0xF];
  }
  return id;
}

Value GetValue(Reader& in, TextCheck check) {
  uint64_t h = in.Varint();
  switch (h) {
    case 0: return Null{};
    case 1: return false;
    case 2: return true;
    case 3: return UnZigZag(in.Varint());
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
  rec.mutable_context() = GetContext(in, table);
  const CausalContext& ctx = rec.context();
  auto& fields = rec.mutable_fields();
  for (size_t nf = in.Count(); nf > 0; --nf) {
    std::string name = GetString(in, check, "a field name");
    if (name.empty()) throw DecodeError{"record " + id + ": field without name"};
    uint64_t header = in.Varint();
    uint64_t n = header >> 1;
    if (n > in.left()) throw DecodeError{"count exceeds the message"};
    Field field;
    if (!(header & 1)) {
      MvRegister reg;
      for (; n > 0; --n) {
        Dot dot = GetDot(in, table);
        if (!ctx.Contains(dot)) throw DecodeError{"record " + id + ": entry outside context"};
        Value value = GetValue(in, check);
        Hlc stamp = GetStamp(in, base);
        if (!reg.mutable_entries().emplace(dot, RegisterEntry{std::move(value), stamp}).second) {
          throw DecodeError{"record " + id + ": duplicate dot in field " + name};
        }
      }
      if (reg.empty()) continue;
      field = std::move(reg);
    } else {
      AwSet set;
      for (; n > 0; --n) {
        std::string element = GetString(in, check, "a set element", TextKind::kAny);
        FlatSet<Dot> dots;
        for (size_t nd = in.Count(); nd > 0; --nd) {
          Dot dot = GetDot(in, table);
          if (!ctx.Contains(dot)) throw DecodeError{"record " + id + ": element outside context"};
          dots.insert(dots.end(), dot);
        }
        if (dots.empty()) continue;
        if (!set.mutable_raw().emplace(std::move(element), std::move(dots)).second) {
          throw DecodeError{"record " + id + ": duplicate element in field " + name};
        }
      }
      if (set.empty()) continue;
      field = std::move(set);
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

}  // namespace

void CheckWireText(std::string_view s, TextCheck check, const char* what, TextKind kind) {
  if (check != TextCheck::kWire) return;
  // Printable ASCII passes every kind's check: most texts are, and need no UTF-8 walk.
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; })) return;
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
  t.Put(out);
  PutVarint(out, t.Index(delta.author));
  PutFixed64(out, delta.stamp.packed);
  PutVarint(out, delta.records.size());
  for (const Record& r : delta.records) PutRecord(out, t, r, delta.stamp);
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
  t.Put(out);
  PutVarint(out, deltas.size());
  Hlc prev;
  for (const Delta& d : deltas) {
    PutVarint(out, t.Index(d.author));
    PutStamp(out, d.stamp, prev);
    prev = d.stamp;
    PutVarint(out, d.records.size());
    for (const Record& r : d.records) PutRecord(out, t, r, d.stamp);
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
  t.Put(out);
  Hlc base = MaxStamp(record, Hlc{});
  PutFixed64(out, base.packed);
  PutRecord(out, t, record, base);
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
  t.Put(out);
  PutFixed64(out, base.packed);
  PutVarint(out, dir.records().size());
  for (const auto& [id, r] : dir.records()) PutRecord(out, t, r, base);
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

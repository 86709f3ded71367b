#include "conflict/record.h"
#include <algorithm>

#include <algorithm>

#include "conflict/internal/access.h"

namespace sb {

namespace {
bool FieldEmpty(const Field& f) {
  return std::visit([](const auto& x) { return x.empty(); }, f);
}
void CollectFieldDots(const Field& f, CausalContext* ctx) {
  std::visit([ctx](const auto& x) { x.CollectDots(ctx); }, f);
}
// A hint that all of `fields` will be read soon. A join reads every field of a record in turn,
// a few cache lines each, and a record of a large directory is seldom in cache: asking for
// every line first lets the misses overlap instead of following one another.
void PrefetchBytes(const void* data, size_t n) {
  const auto* first = static_cast<const char*>(data);
  for (const char* p = first; p < first + n; p += 64) __builtin_prefetch(p);
  __builtin_prefetch(first + n - 1);
}
void PrefetchAll(const FlatMap<std::string, Field>& fields) {
  if (!fields.empty()) PrefetchBytes(&*fields.begin(), fields.size() * sizeof(*fields.begin()));
}
}  // namespace

Record Record::WriteDelta(const std::string& field, Value value, ReplicaId replica,
                          Hlc stamp) const {
  Record delta = EmptyDelta();
  Dot dot = context_.Next(replica);
  static const MvRegister kEmpty;
  const MvRegister* current = Register(field);
  // A field that currently holds a set (only after bad input) is superseded whole.
  if (auto it = fields_.find(field); it != fields_.end() && !current) {
    CollectFieldDots(it->second, &delta.context_);
  }
  delta.fields_.emplace(
      field,
      (current ? *current : kEmpty).WriteDelta(dot, std::move(value), stamp, &delta.context_));
  return delta;
}

Record Record::AddDelta(const std::string& field, const std::string& element,
                        ReplicaId replica) const {
  Record delta = EmptyDelta();
  Dot dot = context_.Next(replica);
  static const AwSet kEmpty;
  const AwSet* current = Set(field);
  if (auto it = fields_.find(field); it != fields_.end() && !current) {
    CollectFieldDots(it->second, &delta.context_);
  }
  delta.fields_.emplace(field,
                        (current ? *current : kEmpty).AddDelta(element, dot, &delta.context_));
  return delta;
}

Record Record::RemoveDelta(const std::string& field, const std::string& element) const {
  Record delta = EmptyDelta();
  if (const AwSet* current = Set(field)) current->RemoveDelta(element, &delta.context_);
  return delta;
}

Record Record::DeleteDelta(ReplicaId replica, Hlc stamp) const {
  Record delta = WriteDelta(kDeletedField, Value(true), replica, stamp);
  for (const auto& [name, field] : fields_) {
    if (name != kOwnerField && name != kDeletedField) CollectFieldDots(field, &delta.context_);
  }
  return delta;
}

void Record::Join(const Record& other) {
  if (&other == this) return;          // idempotent
  PrefetchBytes(this, sizeof(*this));  // all its lines, while the first is on its way
  if (id_.empty()) id_ = other.id_;
  if (other.kind_ > kind_) kind_ = other.kind_;
  // Fields I hold: joined with the other's field of the same name and type, or with an empty
  // one (so entries the other side has seen and dropped go). Both lists are in name order, so
  // one walk pairs them up.
  static const MvRegister kNoRegister;
  static const AwSet kNoSet;
  bool other_only = false;  // the other holds a field I lack, or a register where I hold a set
  bool emptied = false;
  PrefetchAll(fields_);
  auto o = other.fields_.begin();
  const auto o_end = other.fields_.end();
  for (auto& [name, mine] : fields_) {
    int order = 1;  // of the other's next field against mine
    while (o != o_end && (order = o->first.compare(name)) < 0) {
      other_only = true;
      ++o;
    }
    const Field* theirs = nullptr;
    if (o != o_end && order == 0) theirs = &(o++)->second;
    if (auto* reg = std::get_if<MvRegister>(&mine)) {
      const MvRegister* r = theirs ? std::get_if<MvRegister>(theirs) : nullptr;
      reg->Join(context_, r ? *r : kNoRegister, other.context_);
    } else {
      const AwSet* s = theirs ? std::get_if<AwSet>(theirs) : nullptr;
      if (theirs && !s) other_only = true;  // type clash: the register replaces the set below
      std::get<AwSet>(mine).Join(context_, s ? *s : kNoSet, other.context_);
    }
    emptied = emptied || FieldEmpty(mine);
  }
  if (o != o_end) other_only = true;
  // Fields only the other holds: joined into an empty field of their type. A field both hold
  // with the same type was joined above (joining it again would change nothing).
  if (other_only) {
    for (const auto& [name, field] : other.fields_) {
      auto [it, inserted] = fields_.try_emplace(name);
      if (inserted) {
        // Start from an empty field of the other's type.
        if (std::holds_alternative<AwSet>(field)) it->second = AwSet();
      } else if (it->second.index() == field.index()) {
        continue;
      } else {
        // Type clash (bad input only): the register kind wins, deterministically.
        // The register side was already joined against an empty register above.
        if (std::holds_alternative<MvRegister>(it->second)) continue;
        it->second = MvRegister();
      }
      if (auto* mine = std::get_if<MvRegister>(&it->second)) {
        mine->Join(context_, std::get<MvRegister>(field), other.context_);
      } else {
        std::get<AwSet>(it->second).Join(context_, std::get<AwSet>(field), other.context_);
      }
      emptied = emptied || FieldEmpty(it->second);
    }
  }
  context_.Join(other.context_);
  if (emptied) erase_if(fields_, [](const auto& f) { return FieldEmpty(f.second); });
}

const MvRegister* Record::Register(const std::string& field) const {
  auto it = fields_.find(field);
  return it == fields_.end() ? nullptr : std::get_if<MvRegister>(&it->second);
}

const AwSet* Record::Set(const std::string& field) const {
  auto it = fields_.find(field);
  return it == fields_.end() ? nullptr : std::get_if<AwSet>(&it->second);
}

std::optional<Value> Record::Displayed(const std::string& field) const {
  const MvRegister* r = Register(field);
  if (!r) return std::nullopt;
  auto d = r->Displayed();
  if (!d) return std::nullopt;
  return d->second.value;
}

bool Record::IsDeleted() const {
  auto v = Displayed(kDeletedField);
  return v && std::holds_alternative<bool>(*v) && std::get<bool>(*v);
}

std::string Record::Owner() const {
  auto v = Displayed(kOwnerField);
  if (v && std::holds_alternative<std::string>(*v)) return std::get<std::string>(*v);
  return "";
}

Record Retract(const Record& base, const Record& refused, ReplicaId replica, const Record* issued) {
  Record out = base;
  CausalContext& context = internal::Access::Context(out);
  // The dots of `replica` the refused delta names: its range and its cloud dots.
  const CausalContext& named = refused.context();
  CausalContext::VersionVector range;
  if (auto it = named.vector().find(replica); it != named.vector().end()) {
    range.emplace(ReplicaId{replica}, uint64_t{it->second});
  }
  FlatSet<Dot> cloud;
  for (auto d = named.cloud().lower_bound(Dot{replica, 0});
       d != named.cloud().end() && d->replica == replica; ++d) {
    cloud.insert(cloud.end(), *d);
  }
  context.Join(CausalContext::FromParts(std::move(range), std::move(cloud)));
  if (issued) {
    const auto& own = issued->context().vector();
    if (auto it = own.find(replica); it != own.end()) context.Add(Dot{replica, it->second});
  }
  return out;
}

Record AuthoredPart(const Record& state, ReplicaId replica) {
  Record out(state.id(), state.kind());
  CausalContext& context = internal::Access::Context(out);
  context = state.context();
  auto& fields = internal::Access::Fields(out);
  for (const auto& [name, f] : state.fields()) {
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      MvRegister mine;
      for (const auto& [dot, e] : reg->entries()) {
        if (dot.replica == replica) {
          internal::Access::Entries(mine).emplace(Dot{dot}, RegisterEntry{e});
        } else {
          context.Remove(dot);
        }
      }
      if (!mine.empty()) fields.emplace(std::string(name), Field{std::move(mine)});
    } else {
      AwSet mine;
      for (const auto& [element, dots] : std::get<AwSet>(f).raw()) {
        FlatSet<Dot> own;
        for (const Dot& dot : dots) {
          if (dot.replica == replica) {
            own.insert(dot);
          } else {
            context.Remove(dot);
          }
        }
        if (!own.empty())
          internal::Access::Elements(mine).emplace(std::string(element), std::move(own));
      }
      if (!mine.empty()) fields.emplace(std::string(name), Field{std::move(mine)});
    }
  }
  if (fields.empty()) return Record(state.id(), state.kind());
  return out;
}

Hlc HighestStamp(const Record& r, Hlc at_most) {
  Hlc out;
  for (const auto& [name, f] : r.fields()) {
    const auto* reg = std::get_if<MvRegister>(&f);
    if (!reg) continue;
    for (const auto& [dot, e] : reg->entries()) {
      if (e.stamp <= at_most) out = std::max(out, e.stamp);
    }
  }
  return out;
}

}  // namespace sb

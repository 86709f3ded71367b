#include "conflict/record.h"

namespace sb {

namespace {
bool FieldEmpty(const Field& f) {
  return std::visit([](const auto& x) { return x.empty(); }, f);
}
void CollectFieldDots(const Field& f, CausalContext* ctx) {
  std::visit([ctx](const auto& x) { x.CollectDots(ctx); }, f);
}
// A hint that `items` (a field's entries or elements, or a context's vector) will be read
// soon. A join reads every field of a record, each from its own allocation; asking for them
// all first lets the cache misses overlap instead of following one another.
template <typename Items>
void Prefetch(const Items& items) {
  if (!items.empty()) __builtin_prefetch(&*items.begin());
}
void PrefetchField(const Field& f) {
  if (const auto* reg = std::get_if<MvRegister>(&f)) {
    Prefetch(reg->entries());
  } else {
    Prefetch(std::get<AwSet>(f).raw());
  }
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
  delta.fields_.emplace(field, (current ? *current : kEmpty)
                                   .WriteDelta(dot, std::move(value), stamp, &delta.context_));
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
  delta.fields_.emplace(field, (current ? *current : kEmpty).AddDelta(element, dot, &delta.context_));
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
  if (&other == this) return;  // idempotent
  if (id_.empty()) id_ = other.id_;
  if (other.kind_ > kind_) kind_ = other.kind_;
  Prefetch(context_.vector());
  for (const auto& [name, field] : fields_) PrefetchField(field);
  // Fields I hold: joined with the other's field of the same type, or with an empty one (so
  // entries the other side has seen and dropped go).
  static const MvRegister kNoRegister;
  static const AwSet kNoSet;
  for (auto& [name, mine] : fields_) {
    auto o = other.fields_.find(name);
    if (auto* reg = std::get_if<MvRegister>(&mine)) {
      const MvRegister* theirs =
          o == other.fields_.end() ? &kNoRegister : std::get_if<MvRegister>(&o->second);
      reg->Join(context_, theirs ? *theirs : kNoRegister, other.context_);
    } else {
      const AwSet* theirs = o == other.fields_.end() ? &kNoSet : std::get_if<AwSet>(&o->second);
      std::get<AwSet>(mine).Join(context_, theirs ? *theirs : kNoSet, other.context_);
    }
  }
  // Fields only the other holds: joined into an empty field of their type. A field both hold
  // with the same type was joined above (joining it again would change nothing).
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
  }
  context_.Join(other.context_);
  erase_if(fields_, [](const auto& f) { return FieldEmpty(f.second); });
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

}  // namespace sb

#include "conflict/views.h"

#include <algorithm>

#include "conflict/internal/access.h"

namespace sb {

const char* ConflictKindName(ConflictKind k) {
  switch (k) {
    case ConflictKind::kSiblings:
      return "siblings";
    case ConflictKind::kEditedWhileDeleted:
      return "edited_while_deleted";
    case ConflictKind::kTooManySiblings:
      return "too_many_siblings";
  }
  return "?";
}

namespace {

std::vector<Sibling> SiblingsOf(const MvRegister& reg) {
  std::vector<Sibling> out;
  for (const auto& [dot, e] : reg.Siblings()) out.push_back(Sibling{e.value, e.stamp, dot});
  return out;
}

FieldView ViewOf(const Field& f) {
  FieldView v;
  if (const auto* reg = std::get_if<MvRegister>(&f)) {
    v.siblings = SiblingsOf(*reg);
    if (!v.siblings.empty()) v.value = v.siblings.front().value;
  } else {
    v.elements = std::get<AwSet>(f).Elements();
  }
  return v;
}

RecordView BaseView(const Record& r) {
  RecordView v;
  v.id = r.id();
  v.kind = r.kind();
  v.owner = r.Owner();
  v.deleted = r.IsDeleted();
  return v;
}

std::optional<Value> PublishedValue(const Record& r, const std::string& field) {
  return r.Displayed(PublishedFieldName(field));
}

// A cleared value (Null) and no value at all mean the same to readers.
std::optional<Value> Normalized(std::optional<Value> v) {
  if (v && std::holds_alternative<Null>(*v)) return std::nullopt;
  return v;
}

}  // namespace

RecordView ProposedView(const Record& r, const FieldSchema& schema) {
  RecordView v = BaseView(r);
  for (const auto& [name, f] : r.fields()) {
    if (IsShadowField(name)) continue;
    FieldView fv = ViewOf(f);
    const FieldSpec* spec = schema.Field(r.kind(), name);
    if (spec && spec->moderated)
      fv.pending = Normalized(PublishedValue(r, name)) != Normalized(fv.value);
    v.fields.emplace(name, std::move(fv));
  }
  return v;
}

RecordView PublishedView(const Record& r, const FieldSchema& schema) {
  RecordView v = BaseView(r);
  for (const auto& [name, f] : r.fields()) {
    if (IsShadowField(name)) continue;
    const FieldSpec* spec = schema.Field(r.kind(), name);
    if (spec && spec->moderated) {
      std::optional<Value> pub = PublishedValue(r, name);
      if (!pub) continue;  // never approved: not shown
      FieldView fv;
      fv.value = pub;
      if (const MvRegister* shadow = r.Register(PublishedFieldName(name))) {
        fv.siblings = SiblingsOf(*shadow);
      }
      v.fields.emplace(name, std::move(fv));
    } else {
      v.fields.emplace(name, ViewOf(f));
    }
  }
  return v;
}

std::vector<Conflict> Conflicts(const Record& r, const FieldSchema& schema) {
  (void)schema;
  std::vector<Conflict> out;
  bool deleted = r.IsDeleted();
  for (const auto& [name, f] : r.fields()) {
    const auto* reg = std::get_if<MvRegister>(&f);
    if (reg && reg->size() > 1) {
      ConflictKind kind = reg->size() > kSiblingReviewLimit ? ConflictKind::kTooManySiblings
                                                            : ConflictKind::kSiblings;
      out.push_back(Conflict{r.id(), name, kind, SiblingsOf(*reg)});
    }
    // A deleted record still holding values other than its owner and deletion flag was edited
    // by someone who had not seen the delete: the maintainer decides (restore or re-delete).
    if (deleted && name != kOwnerField && name != kDeletedField && !IsShadowField(name)) {
      out.push_back(Conflict{r.id(), name, ConflictKind::kEditedWhileDeleted,
                             reg ? SiblingsOf(*reg) : std::vector<Sibling>{}});
    }
  }
  return out;
}

Record PublishedProjection(const Record& r, const FieldSchema& schema) {
  Record out = r;
  auto& fields = internal::Access::Fields(out);
  for (auto it = fields.begin(); it != fields.end();) {
    const std::string& name = it->first;
    const FieldSpec* spec = schema.Field(r.kind(), name);
    if (spec && (EffectiveAudience(r, *spec) == Audience::kOwner ||
                 EffectiveAudience(r, *spec) == Audience::kMaintainers)) {
      // Not for other partners: e.g. an address received before its location became
      // confidential (the broker cannot take back what it sent; the view hides it).
      it = fields.erase(it);
    } else if (IsShadowField(name) && !IsPublishedField(name)) {
      it = fields.erase(it);  // rejection notes are the owner's business
    } else if (spec && spec->moderated) {
      auto shadow = r.fields().find(PublishedFieldName(name));
      if (shadow == r.fields().end()) {
        it = fields.erase(it);  // never approved: not shown
      } else {
        it->second = shadow->second;
        ++it;
      }
    } else {
      ++it;
    }
  }
  return out;
}

bool IsVetted(const Record& organization) {
  return organization.kind() == "organization" &&
         organization.Displayed(kApprovedField) == std::optional<Value>(Value(true));
}

Audience EffectiveAudience(const Record& r, const FieldSpec& spec) {
  static const char* const kConfidential[] = {"address_1", "address_2", "postal_code", "latitude",
                                              "longitude"};
  std::string_view base = BaseFieldName(spec.name);
  // (An address record has no coordinates; its street and postal code are covered the same
  // way by its own flag, which an importer copies from its location's.)
  if (r.kind() == "location" || r.kind() == "address") {
    // Any sibling saying "confidential" counts: while a true/false conflict waits for review,
    // the address stays with its owner rather than reaching everyone.
    bool confidential = false;
    if (const MvRegister* flag = r.Register("address_confidential")) {
      for (const auto& [dot, e] : flag->entries()) {
        if (e.value == Value(true)) confidential = true;
      }
    }
    if (confidential && std::find(std::begin(kConfidential), std::end(kConfidential), base) !=
                            std::end(kConfidential)) {
      return Audience::kOwner;
    }
  }
  return spec.audience;
}

bool CanRead(Audience audience, bool is_owner, bool maintainer) {
  switch (audience) {
    case Audience::kPublic:
    case Audience::kPartners:
      return true;
    case Audience::kMaintainers:
    case Audience::kOwner:
      return is_owner || maintainer;
  }
  return false;
}

Record HideFields(const Record& r, const std::function<bool(const std::string& field)>& hidden) {
  Record out = r;
  auto& fields = internal::Access::Fields(out);
  CausalContext dots;  // the writes of the values hidden
  for (auto it = fields.begin(); it != fields.end();) {
    if (hidden(it->first)) {
      std::visit([&](const auto& field) { field.CollectDots(&dots); }, it->second);
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  internal::Access::Context(out).Subtract(dots);
  return out;
}

namespace {

// ReaderMaySee, with the ownership worked out once per record.
class AudienceCheck {
 public:
  AudienceCheck(const Record& r, const Reader& reader, const FieldSchema& schema,
                const Record* basis)
      : r_(r),
        basis_(basis ? *basis : r),
        schema_(schema),
        maintainer_(reader.maintainer),
        is_owner_(basis_.Owner() == reader.organization || r.Owner() == reader.organization) {}

  bool MaySee(const std::string& field) const {
    const FieldSpec* spec = schema_.Field(r_.kind(), field);
    return spec && CanRead(EffectiveAudience(basis_, *spec), is_owner_, maintainer_) &&
           CanRead(EffectiveAudience(r_, *spec), is_owner_, maintainer_);
  }

 private:
  const Record& r_;
  const Record& basis_;
  const FieldSchema& schema_;
  bool maintainer_;
  bool is_owner_;
};

}  // namespace

bool ReaderMaySee(const Record& r, const std::string& field, const Reader& reader,
                  const FieldSchema& schema, const Record* basis) {
  return AudienceCheck(r, reader, schema, basis).MaySee(field);
}

Record AudienceView(const Record& r, const Reader& reader, const FieldSchema& schema,
                    const Record* basis) {
  AudienceCheck check(r, reader, schema, basis);
  return HideFields(r, [&check](const std::string& field) { return !check.MaySee(field); });
}

}  // namespace sb

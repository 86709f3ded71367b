#include "sim/workload.h"

#include <algorithm>
#include <variant>

namespace sb::sim {
namespace {

// Any.
constexpr uint64_t kAnyCreatePercent = 8;  // share of operations that create a record
constexpr size_t kAnyHotRecords = 12;      // records everyone keeps editing
constexpr size_t kAnyRecentRecords = 32;   // recently created records, often edited
// Partner and Maintainer.
constexpr uint64_t kOwnCreatePercent = 8;  // partner operations that create a record
constexpr uint64_t kPlantPercent = 3;      // partner operations the broker must refuse
constexpr size_t kPartnerRecent = 8;       // a partner favours its records created last
constexpr size_t kMaintainerRecent = 24;   // so does the maintainer, among all records

}  // namespace

const WorkloadProfile& CrdtProfile() {
  static const WorkloadProfile kProfile = {
      {
          {"organization",
           {"name", "description", "alternate_name", "legal_status", "year_incorporated", "email",
            "website"},
           {"countries_served", "populations_served"},
           {"email", "website"}},
          {"service",
           {"capacity_beds_available", "status", "available_24_7", "name", "description",
            "capacity_beds_total", "url", "email", "eligibility_description", "fees_description"},
           {"categories", "populations_served", "countries_served"},
           {"url", "email"}},
          {"phone", {"number", "type", "description", "extension"}, {"languages"}, {"number"}},
          {"location",
           {"name", "description", "city", "location_type", "latitude", "longitude", "address_1",
            "address_confidential", "postal_code", "country"},
           {},
           {"address_1"}},
      },
      {
          {"NG", "GH", "US", "MX", "GT", "HN", "SV", "RO", "MD", "UA",
           "PH", "VN", "TH", "IN", "NP", "BR", "CO", "DE", "IT", "ES"},
          {"en", "es", "fr", "ar", "ru", "uk", "ro", "vi", "zh", "tl", "pt", "hi"},
          {"Lagos", "Accra", "Houston", "Tijuana", "Chisinau", "Manila", "Bangkok", "Kathmandu",
           "Bogota", "Rome"},
          {"Safe Harbor", "New Dawn", "Open Door", "Bridges", "Freedom Path", "Lighthouse",
           "Hope Street", "Polaris", "Haven", "Crossroads"},
          {"Alliance", "Network", "Foundation", "Collective", "Project", "Center"},
          {"Emergency Shelter", "Legal Clinic", "Case Management", "Counseling", "Helpline",
           "Job Training", "Interpreting", "Medical Outreach"},
          {"Intake on weekdays; call ahead.", "Walk-ins welcome during opening hours.",
           "Referral from a partner required.", "Confidential; survivors of all ages.",
           "Services free of charge.", "Interpreters available on request.",
           "Temporarily reduced hours.", "Accepts referrals from law enforcement."},
          {"intake", "help", "info", "referrals"},
          {"safeharbor.org", "newdawn.ngo", "polaris.example", "haven.example.org", "bridges.net"},
      },
  };
  return kProfile;
}

const WorkloadProfile& ProtocolProfile() {
  static const WorkloadProfile kProfile = {
      {
          {"organization",
           {"description", "name", "alternate_name", "legal_status", "year_incorporated", "email",
            "website"},
           {"countries_served", "populations_served"},
           {"email", "website"}},
          {"service",
           {"capacity_beds_available", "status", "available_24_7", "name", "description",
            "capacity_beds_total", "url", "email", "eligibility_description", "fees_description"},
           {"categories", "populations_served", "countries_served"},
           {"url", "email"}},
          {"phone", {"number", "type", "description", "extension"}, {"languages"}, {"number"}},
          {"location",
           {"name", "description", "city", "location_type", "latitude", "longitude", "address_1",
            "postal_code", "country"},
           {},
           {"address_1"}},
      },
      {
          {"NG", "GH", "US", "MX", "GT", "HN", "RO", "MD", "UA", "PH", "VN", "TH", "IN", "BR"},
          {"en", "es", "fr", "ar", "ru", "uk", "ro", "vi"},
          {"Lagos", "Accra", "Houston", "Tijuana", "Chisinau", "Manila", "Bangkok", "Kathmandu",
           "Bogota", "Rome"},
          {"Safe Harbor", "New Dawn", "Open Door", "Bridges", "Lighthouse", "Polaris", "Haven",
           "Crossroads"},
          {},
          {"Emergency Shelter", "Legal Clinic", "Case Management", "Counseling", "Helpline",
           "Job Training"},
          {"Intake on weekdays; call ahead.", "Walk-ins welcome during opening hours.",
           "Referral from a partner required.", "Services free of charge.",
           "Interpreters available on request.", "Temporarily reduced hours."},
          {"intake", "help", "info", "referrals"},
          {"safeharbor.org", "newdawn.ngo", "polaris.example", "haven.example.org"},
      },
  };
  return kProfile;
}

Workload::Workload(Rng& rng, const WorkloadProfile& profile, Options options)
    : rng_(rng),
      profile_(profile),
      words_(profile.words),
      schema_(FieldSchema::Hsds()),
      options_(options) {}

void Workload::AddRecord(const std::string& id, const std::string& kind, size_t owner) {
  by_owner_[owner].push_back(pool_.size());
  pool_.push_back(PoolRecord{id, kind, owner});
  if (kind == "organization") orgs_.push_back(id);
}

const KindPlan& Workload::PlanOf(const std::string& kind) const {
  for (const KindPlan& p : profile_.plans) {
    if (p.kind == kind) return p;
  }
  return profile_.plans.front();  // unreachable: the pool holds only planned kinds
}

// ---------- Any ----------

Op Workload::Any(const LocalLookup& local) {
  if (pool_.empty() || rng_.Below(100) < kAnyCreatePercent) return AnyCreate();
  const PoolRecord& target = AnyTarget();
  const KindPlan& plan = PlanOf(target.kind);
  std::optional<Record> rec = local(target.id);
  Op op;
  op.edit = RecordEdit{target.id, target.kind, {}, {}, false, false};
  if (rec && rec->IsDeleted() && rng_.Chance(0.5)) {
    op.edit.restore = true;
    return op;
  }
  uint64_t roll = rng_.Below(100);
  if (roll < 3) {
    op.edit.remove = true;
    return op;
  }
  if (roll < 8) return AnyApprove(target, plan, rec);
  if (roll < 30 && !plan.sets.empty()) return AnyEditSet(target, plan, rec);
  size_t count = roll < 42 ? 2 + rng_.Below(2) : 1;
  for (size_t i = 0; i < count; ++i) {
    const std::string& field = rng_.Chance(0.4) ? plan.scalars.front() : rng_.Pick(plan.scalars);
    op.edit.values[field] = MakeValue(target.kind, field);
  }
  return op;
}

const Workload::PoolRecord& Workload::AnyTarget() {
  size_t n = pool_.size();
  uint64_t roll = rng_.Below(100);
  if (roll < 35) return pool_[rng_.Below(std::min(n, kAnyHotRecords))];
  if (roll < 55) return pool_[n - 1 - rng_.Below(std::min(n, kAnyRecentRecords))];
  return pool_[rng_.Below(n)];
}

Op Workload::AnyCreate() {
  uint64_t roll = rng_.Below(100);
  std::string kind = orgs_.empty() || roll < 25 ? "organization"
                     : roll < 65                ? "service"
                     : roll < 85                ? "phone"
                                                : "location";
  Op op;
  op.creates = true;
  op.edit = RecordEdit{NewId(rng_), kind, {}, {}, false, false};
  std::map<std::string, Value>& fields = op.edit.values;
  if (kind == "organization") {
    fields[kOwnerField] = op.edit.id;
    for (const char* f : {"name", "description", "website"}) fields[f] = MakeValue(kind, f);
  } else {
    const std::string& org = rng_.Pick(orgs_);
    fields[kOwnerField] = org;
    fields["organization_id"] = org;
    std::vector<std::string> initial =
        kind == "service" ? std::vector<std::string>{"name", "status", "available_24_7",
                                                     "capacity_beds_available", "description"}
        : kind == "phone" ? std::vector<std::string>{"number", "type"}
                          : std::vector<std::string>{"name", "city", "location_type", "country"};
    for (const std::string& f : initial) fields[f] = MakeValue(kind, f);
  }
  return op;
}

// A maintainer publishes the proposed value of a moderated field; without one, a partner
// proposes a value instead.
Op Workload::AnyApprove(const PoolRecord& target, const KindPlan& plan,
                        const std::optional<Record>& rec) {
  const std::string& field = rng_.Pick(plan.moderated);
  std::optional<Value> proposed = rec ? rec->Displayed(field) : std::nullopt;
  Op op;
  op.edit = RecordEdit{target.id, target.kind, {}, {}, false, false};
  if (proposed && !std::holds_alternative<Null>(*proposed)) {
    op.edit.values[PublishedFieldName(field)] = *proposed;
  } else {
    op.edit.values[field] = MakeValue(target.kind, field);
  }
  return op;
}

Op Workload::AnyEditSet(const PoolRecord& target, const KindPlan& plan,
                        const std::optional<Record>& rec) {
  const std::string& field = rng_.Pick(plan.sets);
  const AwSet* set = rec ? rec->Set(field) : nullptr;
  Op op;
  op.edit = RecordEdit{target.id, target.kind, {}, {}, false, false};
  if (set && !set->empty() && rng_.Chance(0.4)) {
    op.element = ElementChange{field, rng_.Pick(set->Elements()), /*add=*/false};
  } else {
    op.element = ElementChange{field, Element(target.kind, field), /*add=*/true};
  }
  return op;
}

// ---------- Partner and Maintainer ----------

RecordEdit Workload::OrgRecord(const std::string& org) {
  RecordEdit e{org, "organization", {}, {}, false, false};
  e.values[kOwnerField] = org;
  for (const char* f : {"name", "description", "website"}) e.values[f] = MakeValue(e.kind, f);
  return e;
}

Op Workload::Partner(size_t agent, const std::string& org, const LocalLookup& local) {
  uint64_t roll = rng_.Below(100);
  if (roll < kOwnCreatePercent) return OwnCreate(org);
  if (roll < kOwnCreatePercent + kPlantPercent && options_.planted) {
    return Plant(agent, org, local);
  }
  const std::vector<size_t>& own = by_owner_[agent];
  size_t n = own.size();
  const PoolRecord& target =
      pool_[rng_.Chance(0.4) ? own[n - 1 - rng_.Below(std::min<size_t>(n, kPartnerRecent))]
                             : own[rng_.Below(n)]];
  return OwnEdit(target, local(target.id), /*maintainer=*/false);
}

Op Workload::Maintainer(size_t agent, const LocalLookup& local) {
  // A record the maintainer already holds, preferring recent ones.
  const PoolRecord* target = &pool_[by_owner_[agent].front()];
  std::optional<Record> rec;
  for (int attempt = 0; attempt < 4; ++attempt) {
    size_t n = pool_.size();
    const PoolRecord& candidate =
        pool_[rng_.Chance(0.5) ? n - 1 - rng_.Below(std::min(n, kMaintainerRecent))
                               : rng_.Below(n)];
    if ((rec = local(candidate.id))) {
      target = &candidate;
      break;
    }
  }
  if (!rec) rec = local(target->id);
  uint64_t roll = rng_.Below(100);
  if (rec && !rec->IsDeleted()) {
    const KindPlan& plan = PlanOf(target->kind);
    if (roll < 25) {  // approve a proposed value of a moderated field
      const std::string& field = rng_.Pick(plan.moderated);
      std::optional<Value> proposed = rec->Displayed(field);
      if (proposed && !std::holds_alternative<Null>(*proposed)) {
        Op op;
        op.edit = RecordEdit{target->id, target->kind, {}, {}, false, false};
        op.edit.values[PublishedFieldName(field)] = *proposed;
        return op;
      }
    } else if (roll < 32 && target->kind == "organization") {  // vet the organization
      std::optional<Value> approved = rec->Displayed("approved");
      Op op;
      op.edit = RecordEdit{target->id, target->kind, {}, {}, false, false};
      op.edit.values["approved"] = Value(!(approved && *approved == Value(true)));
      return op;
    }
  }
  return OwnEdit(*target, rec, /*maintainer=*/true);
}

Op Workload::OwnCreate(const std::string& org) {
  uint64_t roll = rng_.Below(100);
  std::string kind = roll < 45 ? "service" : roll < 70 ? "phone" : "location";
  Op op;
  op.creates = true;
  op.edit = RecordEdit{NewId(rng_), kind, {}, {}, false, false};
  op.edit.values[kOwnerField] = org;
  op.edit.values["organization_id"] = org;
  std::vector<std::string> initial =
      kind == "service" ? std::vector<std::string>{"name", "status", "available_24_7",
                                                   "capacity_beds_available", "description"}
      : kind == "phone"
          ? std::vector<std::string>{"number", "type"}
          : std::vector<std::string>{"name", "city", "location_type", "country", "address_1"};
  for (const std::string& f : initial) op.edit.values[f] = MakeValue(kind, f);
  if (kind == "location") op.edit.values["address_confidential"] = Value(rng_.Chance(0.3));
  return op;
}

Op Workload::Plant(size_t agent, const std::string& org, const LocalLookup& local) {
  Op op;
  op.planted = true;
  std::vector<size_t> foreign;
  if (rng_.Chance(0.6)) {
    for (size_t i = 0; i < pool_.size(); ++i) {
      if (pool_[i].owner != agent) foreign.push_back(i);
    }
  }
  if (!foreign.empty()) {
    const PoolRecord& target = pool_[rng_.Pick(foreign)];
    const std::string& field = PlanOf(target.kind).scalars.front();
    op.edit = RecordEdit{target.id, target.kind, {{field, MakeValue(target.kind, field)}},
                         {},        false,       false};
    return op;
  }
  std::optional<Record> rec = local(org);
  std::optional<Value> approved = rec ? rec->Displayed("approved") : std::nullopt;
  op.edit = RecordEdit{org, "organization", {}, {}, false, false};
  op.edit.values["approved"] = Value(!(approved && *approved == Value(true)));
  return op;
}

Op Workload::OwnEdit(const PoolRecord& target, const std::optional<Record>& rec, bool maintainer) {
  const KindPlan& plan = PlanOf(target.kind);
  Op op;
  op.edit = RecordEdit{target.id, target.kind, {}, {}, false, false};
  bool is_org_record = target.kind == "organization";
  if (rec && rec->IsDeleted() && rng_.Chance(0.7)) {
    op.edit.restore = true;
    return op;
  }
  uint64_t roll = rng_.Below(100);
  if (roll < 3 && !is_org_record && rec && !rec->IsDeleted()) {
    op.edit.remove = true;
    return op;
  }
  if (roll < 25 && !plan.sets.empty()) {
    const std::string& field = rng_.Pick(plan.sets);
    const AwSet* set = rec ? rec->Set(field) : nullptr;
    std::vector<std::string> elements = set ? set->Elements() : std::vector<std::string>{};
    if (!elements.empty() && rng_.Chance(0.4) && options_.removals) {
      elements.erase(elements.begin() + static_cast<std::ptrdiff_t>(rng_.Below(elements.size())));
    } else {
      elements.push_back(Element(target.kind, field));
    }
    op.edit.sets[field] = std::move(elements);
    return op;
  }
  if (roll < 30 && target.kind == "location" && !maintainer) {
    std::optional<Value> flag = rec ? rec->Displayed("address_confidential") : std::nullopt;
    op.edit.values["address_confidential"] = Value(!(flag && *flag == Value(true)));
    return op;
  }
  size_t count = roll < 40 ? 2 + rng_.Below(2) : 1;
  for (size_t i = 0; i < count; ++i) {
    const std::string& field = rng_.Chance(0.4) ? plan.scalars.front() : rng_.Pick(plan.scalars);
    op.edit.values[field] = MakeValue(target.kind, field);
  }
  return op;
}

// ---------- Values ----------

Value Workload::MakeValue(const std::string& kind, const std::string& field) {
  const FieldSpec& spec = *schema_.Field(kind, field);
  switch (spec.type) {
    case FieldType::kBool:
      return Value(rng_.Chance(0.5));
    case FieldType::kEnum:
      return Value(rng_.Pick(spec.enum_values));
    case FieldType::kInt: {
      if (field == "year_incorporated") {
        return Value(static_cast<int64_t>(rng_.Between(1950, 2024)));
      }
      uint64_t span = std::min<uint64_t>(80, static_cast<uint64_t>(spec.max_int - spec.min_int));
      return Value(spec.min_int + static_cast<int64_t>(rng_.Between(0, span)));
    }
    case FieldType::kNumber: {
      double lo = std::max(spec.min_number, -90.0), hi = std::min(spec.max_number, 90.0);
      double span = hi - lo;
      double x = lo + span * static_cast<double>(rng_.Below(1000000)) / 1000000.0;
      return Value(*CanonicalNumber(std::to_string(x)));
    }
    default:
      return Value(Text(kind, field, spec));
  }
}

std::string Workload::Element(const std::string& kind, const std::string& field) {
  const FieldSpec& spec = *schema_.Field(kind, field);
  if (!spec.enum_values.empty()) return rng_.Pick(spec.enum_values);
  return spec.pattern == Pattern::kLanguage ? rng_.Pick(words_.languages)
                                            : rng_.Pick(words_.countries);
}

std::string Workload::Digits(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng_.Below(10)));
  return s;
}

// Each draw in its own statement: the operands of `+` are unsequenced, and the order of draws
// must not depend on the compiler.
std::string Workload::Text(const std::string& kind, const std::string& field,
                           const FieldSpec& spec) {
  std::string s;
  switch (spec.pattern) {
    case Pattern::kE164:
      s = "+" + std::to_string(rng_.Between(1, 9));
      s += Digits(10);
      return s;
    case Pattern::kEmail:
      s = rng_.Pick(words_.mailboxes);
      s += std::to_string(rng_.Below(100)) + "@";
      s += rng_.Pick(words_.domains);
      return s;
    case Pattern::kUrl:
      s = "https://" + rng_.Pick(words_.domains);
      s += "/s/" + std::to_string(rng_.Below(1000));
      return s;
    case Pattern::kCountry:
      return rng_.Pick(words_.countries);
    case Pattern::kLanguage:
      return rng_.Pick(words_.languages);
    case Pattern::kDecimal:
      s = rng_.Chance(0.5) ? "-" : "";
      s += std::to_string(rng_.Below(90)) + ".";
      s += Digits(4);
      return s;
    case Pattern::kUuid:
      return orgs_.empty() ? NewId(rng_) : rng_.Pick(orgs_);
    default:
      break;
  }
  if (field == "name") {
    s = kind == "organization" ? rng_.Pick(words_.org_names)
        : kind == "service"    ? rng_.Pick(words_.service_names)
                               : rng_.Pick(words_.cities) + " site";
    s += " ";
    if (kind == "organization" && !words_.org_suffixes.empty()) {
      s += rng_.Pick(words_.org_suffixes);
    } else {
      s += Digits(2);
    }
    return s;
  }
  if (field == "city") return rng_.Pick(words_.cities);
  if (field == "extension") return Digits(1 + rng_.Below(4));
  if (field == "postal_code") return Digits(5);
  if (field == "alternate_name") return rng_.Pick(words_.org_names);
  if (field == "legal_status") return rng_.Chance(0.5) ? "nonprofit" : "charity";
  if (field == "address_1") return std::to_string(rng_.Between(1, 999)) + " Main Street";
  s = rng_.Pick(words_.notes) + " Rev ";
  s += Digits(3) + ".";
  return s.substr(0, spec.max_length);
}

}  // namespace sb::sim

#include "agents/hsds_export.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "agents/hsds_json.h"
#include "base/clock.h"
#include "conflict/causal_context.h"

namespace sb {

using json = nlohmann::json;

namespace {

// Required properties of the official object schemas (beyond `id`): an object missing one is
// left out rather than exported invalid.
// Fields never exported: review data, ownership, the extension bag (merged separately).
bool Internal(const std::string& name) {
  return name == kOwnerField || name == kDeletedField || name == kApprovedField ||
         name == kVettingNoteField || name == kExtraField || IsShadowField(name);
}

std::string TextOf(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return ValueJson(v).dump();
}

// A record as its reader may see it, or nullopt when the reader may not see it at all.
std::optional<Record> ViewFor(const Record& r, const Directory& dir, const FieldSchema& schema,
                              const Reader& reader) {
  bool owner = !reader.organization.empty() && r.Owner() == reader.organization;
  if (reader.maintainer || owner) return r;
  const Record* org = dir.Find(r.Owner());
  if (org == nullptr || !IsVetted(*org)) return std::nullopt;
  Record v = PublishedProjection(r, schema);
  if (IsPublicReader(reader)) {
    v = HideFields(v, [&v, &schema](const std::string& field) {
      const FieldSpec* spec = schema.Field(v.kind(), field);
      return spec == nullptr || EffectiveAudience(v, *spec) != Audience::kPublic;
    });
  }
  return v;
}

bool Confidential(const Record& r) {
  const MvRegister* flag = r.Register("address_confidential");
  if (flag == nullptr) return false;
  for (const auto& [dot, e] : flag->entries()) {
    if (e.value == Value(true)) return true;
  }
  return false;
}

struct LastChange {
  uint64_t millis = 0;
  Hlc stamp;
  ReplicaId by = 0;
  std::string field;
  std::string value;
};

class Exporter {
 public:
  Exporter(const Directory& dir, const FieldSchema& schema, const Reader& reader)
      : dir_(dir), schema_(schema), reader_(reader) {}

  HsdsExport Run() {
    // Languages already carried by language records, per phone (phone.languages adds the rest).
    std::set<std::pair<std::string, std::string>> phone_languages;
    std::vector<std::pair<const Record*, Record>> shown;
    for (const auto& [id, r] : dir_.records()) {
      if (r.IsDeleted()) continue;
      std::optional<Record> v = ViewFor(r, dir_, schema_, reader_);
      if (!v) continue;
      if (r.kind() == "language") {
        auto phone = v->Displayed("phone_id"), code = v->Displayed("code");
        if (phone && code) phone_languages.insert({TextOf(*phone), TextOf(*code)});
      }
      shown.emplace_back(&r, std::move(*v));
    }
    for (const auto& [r, v] : shown) Add(*r, v, phone_languages);
    AddSwitchboardTaxonomy();
    DropInvalid();
    return std::move(out_);
  }

 private:
  bool Outside(const Record& r) const {
    return !reader_.maintainer &&
           (reader_.organization.empty() || r.Owner() != reader_.organization);
  }

  void Emit(HsdsObject o, const LastChange& last) {
    out_.modified_ms[o.id] = last.millis;
    out_.objects.push_back(std::move(o));
  }

  void Add(const Record& r, const Record& v,
           const std::set<std::pair<std::string, std::string>>& phone_languages) {
    const std::string& kind = v.kind();
    if (kind == "address" && Outside(r)) {
      // A confidential address (or one of a confidential location) is not for this reader.
      if (Confidential(r)) return;
      auto loc = r.Displayed("location_id");
      const Record* l = loc ? dir_.Find(TextOf(*loc)) : nullptr;
      if (l && Confidential(*l)) return;
    }
    RecordView view = ProposedView(v, schema_);
    LastChange last;
    HsdsObject o{kind, r.id(), json::object(), kind + " " + r.id()};
    std::map<std::string, std::vector<std::string>> sets;
    for (const auto& [name, f] : view.fields) {
      if (Internal(name)) continue;
      const FieldSpec* spec = schema_.Field(kind, name);
      if (spec == nullptr) continue;
      if (!f.siblings.empty() && f.siblings.front().stamp > last.stamp) {
        last.stamp = f.siblings.front().stamp;
        last.by = f.siblings.front().dot.replica;
        last.field = name;
        last.value = spec->type == FieldType::kTextSet ? "" : TextOf(f.siblings.front().value);
      }
      if (spec->type == FieldType::kTextSet) {
        if (!f.elements.empty()) sets[name] = f.elements;
        continue;
      }
      if (!f.value || std::holds_alternative<Null>(*f.value)) continue;
      o.fields[name] = FieldValueJson(spec, *f.value);
    }
    last.millis = last.stamp.millis();
    if (last.field.empty()) last.field = "id";
    for (const auto& [name, elements] : sets) {
      if (name == "byday") {
        o.fields["byday"] = ByDayText(elements);
      } else if (name == "categories" || name == "populations_served") {
        std::string group = name == "categories" ? "category" : "population";
        for (const std::string& code : elements) AddAttribute(r.id(), kind, group, code, last);
      } else if (name == "countries_served" && kind == "service") {
        for (const std::string& code : elements) {
          json area = {{"service_id", r.id()},
                       {"name", code},
                       {"extent", code},
                       {"extent_type", "text"},
                       {"description", "Country served (ISO 3166-1 alpha-2)"}};
          Derived("service_area", DerivedId(r.id(), "country:" + code), std::move(area), last);
        }
      } else if (name == "languages" && kind == "phone") {
        // Added after the phone itself (below), so the phone comes first.
      } else {
        o.fields[name] = elements;  // organization.countries_served: an additional property
      }
    }
    std::vector<HsdsObject> after;
    if (kind == "service") MapService(r, &o, last, &after);
    if (kind == "location") MapLocation(r, &o, last, &after);
    if (kind == "location" || kind == "address") {
      o.fields.erase("address_confidential");
      if (Confidential(v)) o.fields["address_confidential"] = true;
    }
    MergeExtra(v, &o);
    std::string id = o.id;
    Emit(std::move(o), last);
    for (HsdsObject& a : after) Emit(std::move(a), last);
    if (kind == "phone") {
      if (auto it = sets.find("languages"); it != sets.end()) {
        for (const std::string& code : it->second) {
          if (phone_languages.count({id, code})) continue;
          HsdsObject lang{"language",
                          DerivedId(id, "language:" + code),
                          {{"phone_id", id}, {"code", code}},
                          "phone " + id + " languages"};
          Emit(std::move(lang), last);
        }
      }
    }
    AddMetadata(r, last);
  }

  void MapService(const Record& r, HsdsObject* o, const LastChange& last,
                  std::vector<HsdsObject>* after) {
    json& f = o->fields;
    if (f.contains("available_24_7")) {
      if (f["available_24_7"] == true) {
        after->push_back({"schedule",
                          DerivedId(r.id(), "24_7"),
                          {{"service_id", r.id()},
                           {"freq", "WEEKLY"},
                           {"byday", "MO,TU,WE,TH,FR,SA,SU"},
                           {"opens_at", "00:00"},
                           {"closes_at", "23:59"},
                           {"description", "Open 24 hours a day, 7 days a week"}},
                          "service " + r.id() + " available_24_7"});
      }
      f.erase("available_24_7");
    }
    json capacity = json::object();
    for (const auto& [field, property] :
         {std::pair{"capacity_beds_available", "available"},
          std::pair{"capacity_beds_total", "maximum"}, std::pair{"capacity_updated", "updated"}}) {
      if (f.contains(field)) {
        capacity[property] = f[field];
        f.erase(field);
      }
    }
    if (!capacity.empty()) {
      capacity["id"] = DerivedId(r.id(), "capacity:bed");
      capacity["unit"] = "Bed";
      f["capacities"] = json::array({capacity});
    }
    (void)last;
  }

  void MapLocation(const Record& r, HsdsObject* o, const LastChange& last,
                   std::vector<HsdsObject>* after) {
    (void)last;
    json& f = o->fields;
    json address = json::object();
    for (const char* field : kLocationAddressFields) {
      if (f.contains(field)) {
        address[field] = f[field];
        f.erase(field);
      }
    }
    std::string address_id = f.value("address_id", DerivedId(r.id(), "address"));
    f.erase("address_id");
    // Outside the audience a confidential location has no addresses at all.
    if (address.empty() || (Confidential(r) && Outside(r))) return;
    // Addresses written before the HSDS 3.0 model (or by `dir set`) have no address_type, and
    // places without states or postcodes none of those: HSDS requires all three. The location's
    // own address is of its location's type (physical unless said otherwise), and a missing
    // state or postcode is the empty text, so that every existing address is still exported.
    if (!address.contains("address_type")) {
      std::string type = f.value("location_type", std::string("physical"));
      address["address_type"] = type == "postal" || type == "virtual" ? type : "physical";
    }
    if (address.contains("address_1") && address.contains("city") && address.contains("country")) {
      for (const char* field : {"state_province", "postal_code"}) {
        if (!address.contains(field)) address[field] = "";
      }
    }
    address["location_id"] = r.id();
    after->push_back(
        {"address", address_id, std::move(address), "location " + r.id() + " address"});
  }

  void AddAttribute(const std::string& record, const std::string& kind, const std::string& group,
                    const std::string& code, const LastChange& last) {
    std::string term = SwitchboardTermId(group, code);
    terms_used_.insert({group, code});
    Derived("attribute", DerivedId(record, group + ":" + code),
            {{"link_id", record}, {"link_entity", kind}, {"taxonomy_term_id", term}}, last);
  }

  void Derived(const std::string& kind, std::string id, json fields, const LastChange& last) {
    HsdsObject o{kind, std::move(id), std::move(fields), kind};
    Emit(std::move(o), last);
  }

  void MergeExtra(const Record& v, HsdsObject* o) {
    auto extra = v.Displayed(kExtraField);
    if (!extra || !std::holds_alternative<std::string>(*extra)) return;
    json parsed = json::parse(std::get<std::string>(*extra), nullptr, false);
    if (!parsed.is_object()) return;
    for (auto& [k, val] : parsed.items()) {
      if (!o->fields.contains(k) && k != "id") o->fields[k] = val;
    }
  }

  void AddMetadata(const Record& r, const LastChange& last) {
    if (last.by == 0) return;
    std::string date = IsoTime(last.millis).substr(0, 10);
    out_.metadata.push_back({"metadata",
                             DerivedId(r.id(), "metadata:last"),
                             {{"resource_id", r.id()},
                              {"resource_type", r.kind()},
                              {"last_action_date", date},
                              {"last_action_type", "update"},
                              {"field_name", last.field},
                              {"previous_value", ""},
                              {"replacement_value", last.value},
                              {"updated_by", "replica " + ReplicaHex(last.by)}},
                             "metadata of " + r.id()});
  }

  void AddSwitchboardTaxonomy() {
    if (terms_used_.empty()) return;
    std::set<std::string> ids;
    for (const HsdsObject& o : out_.objects) ids.insert(o.id);
    LastChange none;
    for (const auto& [group, code] : terms_used_) {
      json term = SwitchboardTerm(group, code);
      std::string id = term["id"];
      if (ids.count(id) || dir_.Find(id) != nullptr) continue;
      term.erase("id");
      term.erase("taxonomy_detail");
      Derived("taxonomy_term", id, std::move(term), none);
    }
    if (!ids.count(kSwitchboardTaxonomyId) && dir_.Find(kSwitchboardTaxonomyId) == nullptr) {
      json tax = SwitchboardTaxonomy();
      tax.erase("id");
      Derived("taxonomy", kSwitchboardTaxonomyId, std::move(tax), none);
    }
  }

  // Leaves out objects missing a required value, then what belongs to them (an owning link
  // to an object left out); a link to a record of the directory not exported is removed.
  void DropInvalid() {
    std::set<std::string> dropped;
    for (const HsdsObject& o : out_.objects) {
      for (const std::string& field : HsdsRequired(o.kind)) {
        const json* v = o.fields.contains(field) ? &o.fields[field] : nullptr;
        // The empty text is a value (HSDS requires the property, not a length: a country
        // without postcodes has postal_code ""); what the field table lets be empty may be.
        if (v == nullptr || v->is_null()) {
          out_.left_out.push_back(o.kind + " " + o.id + ": no published " + field +
                                  " (HSDS requires it)");
          dropped.insert(o.id);
          break;
        }
      }
    }
    std::set<std::string> present;
    for (const HsdsObject& o : out_.objects) present.insert(o.id);
    // Owning links point at records visited before or after: repeat until nothing changes.
    for (bool changed = true; changed;) {
      changed = false;
      for (const HsdsObject& o : out_.objects) {
        if (dropped.count(o.id)) continue;
        for (const auto& [name, value] : o.fields.items()) {
          if (!value.is_string()) continue;
          const FieldSpec* spec = schema_.Field(o.kind, name);
          if (spec == nullptr || !spec->owned_link) continue;
          if (dropped.count(value.get<std::string>())) {
            out_.left_out.push_back(o.kind + " " + o.id + ": belongs to " +
                                    value.get<std::string>() + ", left out");
            dropped.insert(o.id);
            changed = true;
            break;
          }
        }
      }
    }
    std::vector<HsdsObject> kept;
    for (HsdsObject& o : out_.objects) {
      if (dropped.count(o.id)) {
        out_.modified_ms.erase(o.id);
        continue;
      }
      for (auto it = o.fields.begin(); it != o.fields.end();) {
        const FieldSpec* spec = schema_.Field(o.kind, it.key());
        bool link = spec != nullptr && spec->pattern == Pattern::kUuid &&
                    (!spec->link_kind.empty() || spec->owned_link) && it->is_string();
        // A link to a record this reader is not given (hidden, deleted, left out) goes; a link
        // to something outside this directory altogether (an imported parent_organization_id
        // or a term's parent_id of another publisher's taxonomy) is a value like any other and
        // stays.
        const std::string* target = link ? &it->get_ref<const std::string&>() : nullptr;
        if (target && (dropped.count(*target) ||
                       (!present.count(*target) && dir_.Find(*target) != nullptr))) {
          it = o.fields.erase(it);
        } else {
          ++it;
        }
      }
      kept.push_back(std::move(o));
    }
    out_.objects = std::move(kept);
    std::vector<HsdsObject> metadata;
    for (HsdsObject& m : out_.metadata) {
      if (!dropped.count(m.fields["resource_id"].get<std::string>())) {
        metadata.push_back(std::move(m));
      }
    }
    out_.metadata = std::move(metadata);
  }

  const Directory& dir_;
  const FieldSchema& schema_;
  const Reader& reader_;
  HsdsExport out_;
  std::set<std::pair<std::string, std::string>> terms_used_;
};

}  // namespace

bool IsPublicReader(const Reader& reader) {
  return reader.organization.empty() && !reader.maintainer;
}

HsdsExport HsdsExportOf(const Directory& dir, const FieldSchema& schema, const Reader& reader) {
  return Exporter(dir, schema, reader).Run();
}

std::vector<HsdsObject> HsdsObjectsOf(const Directory& dir, const FieldSchema& schema,
                                      const Reader& reader) {
  return HsdsExportOf(dir, schema, reader).objects;
}

bool ParseHsdsView(std::string_view name, HsdsView* view) {
  if (name == "organization") return *view = HsdsView::kOrganization, true;
  if (name == "service") return *view = HsdsView::kService, true;
  if (name == "service_at_location") return *view = HsdsView::kServiceAtLocation, true;
  return false;
}

const char* HsdsViewName(HsdsView view) {
  switch (view) {
    case HsdsView::kOrganization:
      return "organization";
    case HsdsView::kService:
      return "service";
    case HsdsView::kServiceAtLocation:
      return "service_at_location";
  }
  return "?";
}

// --- compiled views ---

namespace {

std::string LinkKey(std::string_view kind, std::string_view field, std::string_view id) {
  std::string k(kind);
  k += '|';
  k += field;
  k += '|';
  k += id;
  return k;
}

}  // namespace

HsdsCompiler::HsdsCompiler(HsdsExport flat) : flat_(std::move(flat)) {
  std::sort(flat_.objects.begin(), flat_.objects.end(),
            [](const HsdsObject& a, const HsdsObject& b) {
              return std::tie(a.kind, a.id) < std::tie(b.kind, b.id);
            });
  for (size_t i = 0; i < flat_.objects.size(); ++i) {
    const HsdsObject& o = flat_.objects[i];
    by_kind_id_.emplace(std::pair{o.kind, o.id}, i);
    for (const auto& [field, value] : o.fields.items()) {
      if (value.is_string() && (field == "link_id" || field.ends_with("_id"))) {
        by_link_[LinkKey(o.kind, field, value.get<std::string>())].push_back(i);
      }
    }
  }
  for (size_t i = 0; i < flat_.metadata.size(); ++i) {
    metadata_of_[flat_.metadata[i].fields.value("resource_id", "")].push_back(i);
  }
}

const HsdsObject* HsdsCompiler::Find(std::string_view kind, std::string_view id) const {
  auto it = by_kind_id_.find(std::pair{std::string(kind), std::string(id)});
  return it == by_kind_id_.end() ? nullptr : &flat_.objects[it->second];
}

std::vector<const HsdsObject*> HsdsCompiler::OfKind(std::string_view kind) const {
  std::vector<const HsdsObject*> out;
  auto it = by_kind_id_.lower_bound(std::pair{std::string(kind), std::string()});
  for (; it != by_kind_id_.end() && it->first.first == kind; ++it) {
    out.push_back(&flat_.objects[it->second]);
  }
  return out;
}

std::vector<const HsdsObject*> HsdsCompiler::Linked(std::string_view kind,
                                                    std::string_view link_field,
                                                    std::string_view parent_id) const {
  std::vector<const HsdsObject*> out;
  auto it = by_link_.find(LinkKey(kind, link_field, parent_id));
  if (it != by_link_.end()) {
    for (size_t i : it->second) out.push_back(&flat_.objects[i]);
  }
  return out;
}

uint64_t HsdsCompiler::ModifiedMs(const std::string& id) const {
  auto it = flat_.modified_ms.find(id);
  return it == flat_.modified_ms.end() ? 0 : it->second;
}

json HsdsCompiler::Own(const HsdsObject& o) const {
  json j = o.fields;
  j["id"] = o.id;
  return j;
}

json HsdsCompiler::Build(const HsdsObject& o, std::vector<std::string>* inside) const {
  json j = Own(o);
  inside->push_back(o.kind);
  for (const Nested* n : NestingOf(o.kind)) {
    if (std::find(inside->begin(), inside->end(), n->child_kind) != inside->end()) continue;
    if (n->parent_names_child) {
      if (!j.contains(n->link_field) || !j[n->link_field].is_string()) continue;
      const HsdsObject* child = Find(n->child_kind, j[n->link_field].get<std::string>());
      if (child != nullptr) j[n->property] = Build(*child, inside);
      continue;
    }
    json arr = json::array();
    for (const HsdsObject* child : Linked(n->child_kind, n->link_field, o.id)) {
      json c = Build(*child, inside);
      c.erase(n->link_field);  // implied by the nesting
      arr.push_back(std::move(c));
    }
    if (!arr.empty()) j[n->property] = std::move(arr);
  }
  if (auto it = metadata_of_.find(o.id); it != metadata_of_.end()) {
    json arr = json::array();
    for (size_t i : it->second) arr.push_back(Own(flat_.metadata[i]));
    j["metadata"] = std::move(arr);
  }
  inside->pop_back();
  return j;
}

json HsdsCompiler::Compile(std::string_view kind, std::string_view id) const {
  const HsdsObject* o = Find(kind, id);
  if (o == nullptr) return nullptr;
  std::vector<std::string> inside;
  return Build(*o, &inside);
}

json HsdsCompiler::CompileListItem(std::string_view kind, std::string_view id) const {
  const HsdsObject* o = Find(kind, id);
  if (o == nullptr) return nullptr;
  json j = Own(*o);
  auto embed = [&](const char* link, const char* child_kind, const char* property) {
    if (!j.contains(link) || !j[link].is_string()) return;
    const HsdsObject* child = Find(child_kind, j[link].get<std::string>());
    if (child == nullptr) return;
    j[property] = std::string_view(child_kind) == "service" ? CompileListItem("service", child->id)
                                                            : Own(*child);
  };
  if (kind == "service") {
    embed("organization_id", "organization", "organization");
    embed("program_id", "program", "program");
  } else if (kind == "service_at_location") {
    embed("location_id", "location", "location");
    embed("service_id", "service", "service");
  } else if (kind == "taxonomy_term") {
    embed("taxonomy_id", "taxonomy", "taxonomy_detail");
  }
  return j;
}

json HsdsCompiler::CompileAll(HsdsView view) const {
  json out = json::array();
  for (const HsdsObject* o : OfKind(HsdsViewName(view))) out.push_back(Compile(o->kind, o->id));
  return out;
}

json ExportCompiled(const Directory& dir, const FieldSchema& schema, const Reader& reader,
                    HsdsView view) {
  return HsdsCompiler(HsdsExportOf(dir, schema, reader)).CompileAll(view);
}

}  // namespace sb

// The second half of the HSDS import: flat objects (from compiled JSON or the tabular form)
// merged by id, mapped onto Switchboard's records as agents/hsds_model.h describes, validated
// field by field, and turned into edits with their owners.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "agents/hsds_import.h"
#include "agents/internal/hsds_import_internal.h"
#include "base/json.h"
#include "base/utf8.h"
#include "conflict/field_json.h"
#include "conflict/record.h"

namespace sb {
namespace hsds_import {

using json = nlohmann::json;

std::string JoinPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Shown(const json& v) {
  return Printable(DumpJson(v), 60);
}

std::string Str(const json& fields, const char* name) {
  auto it = fields.find(name);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Links followed for the owner, most specific first.
const char* const kOwnerLinks[] = {
    "service_id", "service_at_location_id", "location_id", "contact_id", "phone_id", "link_id"};

// Records are written parents first (not required by the planner, but easier to read in the
// history and the outbox).
int KindRank(const std::string& kind) {
  static const char* const kOrder[] = {"organization", "taxonomy", "taxonomy_term",      "program",
                                       "service",      "location", "service_at_location"};
  for (int i = 0; i < 7; ++i) {
    if (kind == kOrder[i]) return i;
  }
  return 7;
}

struct Obj {
  HsdsObject o;
  bool invalid = false;
  bool dropped = false;   // the Switchboard taxonomy and its terms: built in, not records
  bool consumed = false;  // became a value of another record (set element, flag, address)
  std::string target;     // the record a consumed object became part of
};

class Mapper {
 public:
  Mapper(const FieldSchema& schema, const HsdsImportOptions& options, FlatContext context,
         std::vector<ImportProblem> problems)
      : schema_(schema), options_(options), context_(std::move(context)) {
    result_.problems = std::move(problems);
  }

  HsdsImportResult Run(std::vector<HsdsObject> objects) {
    for (HsdsObject& o : objects) Merge(std::move(o));
    objects.clear();
    for (Obj& x : objs_) {
      std::string group, code;
      x.dropped = (x.o.kind == "taxonomy" && x.o.id == kSwitchboardTaxonomyId) ||
                  (x.o.kind == "taxonomy_term" && IsSwitchboardTerm(x.o.id, &group, &code));
    }
    if (!context_.legacy) CheckRequired();
    MapConsumed();
    FoldAddresses();
    CheckCycles("organization", "parent_organization_id");
    CheckCycles("taxonomy_term", "parent_id");
    std::vector<std::optional<RecordEdit>> edits(objs_.size());
    for (size_t i = 0; i < objs_.size(); ++i) {
      if (!objs_[i].dropped && !objs_[i].consumed) edits[i] = BuildEdit(i);
    }
    if (options_.skip_invalid) PropagateSkips();
    if (context_.unlisted_problems > 0) {
      result_.problems.push_back(ImportProblem{"(the document)", "",
                                               "and " + std::to_string(context_.unlisted_problems) +
                                                   " more problem(s): only the first " +
                                                   std::to_string(kMaxListedProblems) +
                                                   " are listed"});
    }
    result_.objects = objs_.size();
    for (const Obj& x : objs_) result_.skipped += x.invalid && !x.dropped ? 1 : 0;
    if (!result_.problems.empty() && !options_.skip_invalid) return std::move(result_);
    std::vector<size_t> order;
    for (size_t i = 0; i < objs_.size(); ++i) {
      if (edits[i] && !objs_[i].invalid) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [this](size_t a, size_t b) {
      return KindRank(objs_[a].o.kind) < KindRank(objs_[b].o.kind);
    });
    for (size_t i : order) result_.edits.push_back(std::move(*edits[i]));
    return std::move(result_);
  }

 private:
  void Problem(const std::string& where, const std::string& id, std::string error) {
    if (result_.problems.size() >= kMaxListedProblems) {
      ++context_.unlisted_problems;
      return;
    }
    result_.problems.push_back(
        ImportProblem{where.empty() ? "(the document)" : where, id, std::move(error)});
  }
  void Invalid(size_t i, const std::string& where, std::string error) {
    objs_[i].invalid = true;
    Problem(where, objs_[i].o.id, std::move(error));
  }
  Obj* Find(const std::string& id) {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &objs_[it->second];
  }
  size_t IndexOf(const std::string& id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? SIZE_MAX : it->second;
  }

  // One object per id: copies add the properties the first lacked; a property two copies
  // give different values is a problem naming both places.
  void Merge(HsdsObject o) {
    const std::string where = o.where;
    o.id = Lower(o.id);
    if (!schema_.Kind(o.kind)) {
      return Problem(where, o.id, "unknown HSDS object kind \"" + Printable(o.kind, 40) + "\"");
    }
    if (!MatchesPattern(Pattern::kUuid, o.id)) {
      return Problem(JoinPath(where, "id"), "",
                     o.kind + ".id: must be a UUID (8-4-4-4-12 hexadecimal digits), got \"" +
                         Printable(o.id, 60) + "\"");
    }
    if (!o.fields.is_object()) {
      return Problem(where, o.id, o.kind + ": the properties must be a JSON object");
    }
    for (auto it = o.fields.begin(); it != o.fields.end(); ++it) {
      const FieldSpec* spec = schema_.Field(o.kind, it.key());
      if (spec && spec->pattern == Pattern::kUuid && it->is_string()) {
        *it = Lower(it->get<std::string>());
      }
    }
    auto extra = o.fields.find(kExtraField);
    if (extra != o.fields.end() && extra->is_string()) {
      json parsed = ParseStoredJson(extra->get<std::string>());
      if (parsed.is_object()) *extra = std::move(parsed);
    }
    auto found = by_id_.find(o.id);
    if (found == by_id_.end()) {
      by_id_.emplace(o.id, objs_.size());
      Obj x;
      x.o = std::move(o);
      objs_.push_back(std::move(x));
      return;
    }
    const size_t index = found->second;
    HsdsObject& e = objs_[index].o;
    if (e.kind != o.kind) {
      return Invalid(index, where,
                     "id " + o.id + " is a " + o.kind + " here and a " + e.kind + " at " +
                         (e.where.empty() ? "the top" : e.where) +
                         " (Switchboard needs ids unique across kinds)");
    }
    for (auto it = o.fields.begin(); it != o.fields.end(); ++it) {
      auto have = e.fields.find(it.key());
      if (have == e.fields.end()) {
        e.fields[it.key()] = *it;
      } else if (it.key() == kExtraField && have->is_object() && it->is_object()) {
        for (auto x = it->begin(); x != it->end(); ++x) {
          auto hx = have->find(x.key());
          if (hx == have->end()) {
            (*have)[x.key()] = *x;
          } else if (*hx != *x) {
            Invalid(index, JoinPath(where, x.key()), Disagree(o, x.key(), *x, *hx, e.where));
          }
        }
      } else if (*have != *it) {
        Invalid(index, JoinPath(where, it.key()), Disagree(o, it.key(), *it, *have, e.where));
      }
    }
  }

  static std::string Disagree(const HsdsObject& o, const std::string& name, const json& here,
                              const json& there, const std::string& there_where) {
    return "two copies of " + o.kind + " " + o.id + " disagree: " + name + " is " + Shown(here) +
           " here but " + Shown(there) + " at " + JoinPath(there_where, name);
  }

  void CheckRequired() {
    for (size_t i = 0; i < objs_.size(); ++i) {
      const Obj& x = objs_[i];
      if (x.dropped) continue;
      for (const std::string& name : HsdsRequired(x.o.kind)) {
        auto v = x.o.fields.find(name);
        if (v == x.o.fields.end() || v->is_null() || (v->is_string() && v->empty())) {
          Invalid(i, JoinPath(x.o.where, name),
                  x.o.kind + "." + name + ": required by HSDS 3.0, missing");
        }
      }
    }
  }

  bool IsKind(const std::string& id, const char* kind) {
    Obj* t = Find(id);
    return t && t->o.kind == kind;
  }

  // Objects that are values of other records (hsds_model.h): Switchboard attributes,
  // countries as service areas, the 24/7 schedule, derived phone languages.
  void MapConsumed() {
    for (Obj& x : objs_) {
      if (x.dropped) continue;
      const json& f = x.o.fields;
      const std::string& kind = x.o.kind;
      std::string target, field, element;
      if (kind == "attribute") {
        std::string group, code;
        if (!IsSwitchboardTerm(Str(f, "taxonomy_term_id"), &group, &code)) continue;
        target = Str(f, "link_id");
        field = group == "category" ? "categories" : "populations_served";
        Obj* t = Find(target);
        if (!t || !schema_.Field(t->o.kind, field)) continue;  // an ordinary attribute record
        element = code;
      } else if (kind == "service_area") {
        target = Str(f, "service_id");
        std::string extent = Str(f, "extent");
        bool code_like = extent.size() == 2 &&
                         std::isupper(static_cast<unsigned char>(extent[0])) &&
                         std::isupper(static_cast<unsigned char>(extent[1]));
        bool derived = x.o.id == DerivedId(target, "country:" + extent);
        if (!IsKind(target, "service") || !(derived || (Str(f, "extent_type") == "text" &&
                                                        code_like && Str(f, "name") == extent))) {
          continue;
        }
        field = "countries_served";
        element = extent;
      } else if (kind == "schedule") {
        target = Str(f, "service_id");
        if (!IsKind(target, "service") || x.o.id != DerivedId(target, "24_7")) continue;
        if (!x.invalid) values_[target]["available_24_7"] = true;
      } else if (kind == "language") {
        target = Str(f, "phone_id");
        std::string code = Str(f, "code");
        if (!IsKind(target, "phone") || x.o.id != DerivedId(target, "language:" + code)) continue;
        field = "languages";
        element = code;
      } else {
        continue;
      }
      x.consumed = true;
      x.target = target;
      if (!field.empty() && !x.invalid) elements_[target][field].push_back(element);
    }
  }

  // A location's first address (the first physical one, else the first) becomes the
  // location's own address fields, unless the location has its own already or that address
  // carries unknown properties (it then stays an address record, so nothing is lost);
  // further addresses are address records with the location's confidentiality.
  void FoldAddresses() {
    std::map<std::string, std::vector<size_t>> by_location;
    for (size_t i = 0; i < objs_.size(); ++i) {
      const Obj& x = objs_[i];
      if (x.o.kind != "address" || x.dropped) continue;
      std::string loc = Str(x.o.fields, "location_id");
      if (IsKind(loc, "location")) by_location[loc].push_back(i);
    }
    for (const auto& [loc, list] : by_location) {
      Obj& l = *Find(loc);
      bool has_own = l.o.fields.contains("address_id");
      for (const char* f : kLocationAddressFields) has_own = has_own || l.o.fields.contains(f);
      if (!has_own) {
        size_t pick = list.front();
        for (size_t i : list) {
          if (Str(objs_[i].o.fields, "address_type") == "physical") {
            pick = i;
            break;
          }
        }
        Obj& a = objs_[pick];
        if (!a.o.fields.contains(kExtraField)) {
          a.consumed = true;
          a.target = loc;
          own_address_[loc] = pick;
          json& v = values_[loc];
          for (const char* f : kLocationAddressFields) {
            if (a.o.fields.contains(f)) v[f] = a.o.fields[f];
          }
          v["address_id"] = a.o.id;
          if (a.o.fields.value("address_confidential", false) == true) {
            v["address_confidential"] = true;
          }
        }
      }
      bool confidential = l.o.fields.value("address_confidential", false) == true;
      for (size_t i : list) {
        Obj& a = objs_[i];
        if (confidential && !a.consumed && !a.o.fields.contains("address_confidential")) {
          a.o.fields["address_confidential"] = true;
        }
      }
    }
  }

  void CheckCycles(const char* kind, const char* parent_field) {
    for (size_t i = 0; i < objs_.size(); ++i) {
      if (objs_[i].o.kind != kind || objs_[i].dropped) continue;
      const std::string& id = objs_[i].o.id;
      std::string chain = id;
      std::set<std::string> seen{id};
      std::string cur = Str(objs_[i].o.fields, parent_field);
      while (IsKind(cur, kind)) {
        chain += " -> " + cur;
        if (cur == id) {
          Invalid(i, JoinPath(objs_[i].o.where, parent_field),
                  std::string(kind) + "." + parent_field +
                      ": a cycle of references: " + Printable(chain, 400));
          break;
        }
        if (!seen.insert(cur).second) break;  // a cycle further up, reported there
        cur = Str(Find(cur)->o.fields, parent_field);
      }
    }
  }

  std::string OwnerOf(size_t i, int depth = 0) {
    const Obj& x = objs_[i];
    const std::string& kind = x.o.kind;
    if (kind == "organization") return x.o.id;
    if (kind == "taxonomy" || kind == "taxonomy_term") return options_.importer_org;
    if (depth > 64) return options_.importer_org;
    if (auto memo = owners_.find(i); memo != owners_.end()) return memo->second;
    std::string owner = Str(x.o.fields, "organization_id");
    for (const char* link : kOwnerLinks) {
      if (!owner.empty()) break;
      size_t t = IndexOf(Str(x.o.fields, link));
      if (t != SIZE_MAX && t != i) owner = OwnerOf(t, depth + 1);
    }
    if (owner.empty()) {
      auto e = context_.embedded_by.find(x.o.id);
      size_t t = e == context_.embedded_by.end() ? SIZE_MAX : IndexOf(e->second);
      if (t != SIZE_MAX && t != i) owner = OwnerOf(t, depth + 1);
    }
    if (owner.empty()) owner = options_.importer_org;
    owners_[i] = owner;
    return owner;
  }

  // A field of an HSDS object that is not a record field here: kept in `extra`.
  bool IsRecordField(const std::string& kind, const std::string& name) const {
    const FieldSpec* spec = schema_.Field(kind, name);
    if (!spec || IsShadowField(name) || name == kExtraField) return false;
    if (context_.legacy) return true;  // owner and deleted are refused below, as before
    return !spec->maintainer_only && name != kDeletedField;
  }

  std::optional<RecordEdit> BuildEdit(size_t i) {
    const std::string id = objs_[i].o.id, kind = objs_[i].o.kind, where = objs_[i].o.where;
    json fields = objs_[i].o.fields;
    json extra = json::object();
    if (auto e = fields.find(kExtraField); e != fields.end()) {
      if (e->is_object()) {
        extra = *e;
      } else if (!e->is_null()) {
        extra[kExtraField] = *e;
      }
      fields.erase(kExtraField);
    }
    for (auto it = fields.begin(); it != fields.end();) {
      if (IsRecordField(kind, it.key())) {
        ++it;
      } else {
        extra[it.key()] = *it;
        it = fields.erase(it);
      }
    }
    if (auto v = values_.find(id); v != values_.end()) {
      for (auto it = v->second.begin(); it != v->second.end(); ++it) fields[it.key()] = *it;
    }
    if (auto els = elements_.find(id); els != elements_.end()) {
      for (const auto& [name, list] : els->second) {
        json& set = fields[name];
        if (!set.is_array()) set = json::array();
        for (const std::string& el : list) {
          if (std::find(set.begin(), set.end(), json(el)) == set.end()) set.push_back(el);
        }
      }
    }
    if (kind == "schedule" && fields.contains("byday") && fields["byday"].is_string()) {
      fields["byday"] = ByDaySet(fields["byday"].get<std::string>());
    }
    if (kind == "service") TakeBedCapacity(&extra, &fields);
    if (fields.contains(kOwnerField)) {
      Invalid(i, JoinPath(where, kOwnerField),
              kind + ".owner: set by the enclosing organization, not by hand");
      return std::nullopt;
    }
    std::string owner = OwnerOf(i);
    if (!owner.empty()) fields[kOwnerField] = owner;
    if (!extra.empty()) fields[kExtraField] = DumpJson(extra);

    RecordEdit edit;
    edit.id = id;
    edit.kind = kind;
    bool ok = true;
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      const std::string& name = it.key();
      json value = *it;
      const FieldSpec* spec = schema_.Field(kind, name);
      // HSDS numbers that are whole (2011.0) fit Switchboard's integer fields.
      if (spec && spec->type == FieldType::kInt && value.is_number_float()) {
        double d = value.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
          value = static_cast<int64_t>(d);
        }
      }
      Result<RecordEdit> one = EditFromJson(schema_, kind, id, json{{name, value}});
      std::string at = name == kExtraField ? where : JoinPath(where, name);
      if (!one.ok()) {
        Invalid(i, at, one.status().message());
        ok = false;
        continue;
      }
      for (auto& [n, v] : one->values) {
        Status s = schema_.ValidateValue(kind, n, v);
        if (!s.ok()) {
          Invalid(i, at, s.message());
          ok = false;
        }
        edit.values[n] = std::move(v);
      }
      for (auto& [n, els] : one->sets) {
        for (const std::string& el : els) {
          Status s = schema_.ValidateElement(kind, n, el);
          if (!s.ok()) {
            Invalid(i, at, s.message());
            ok = false;
            break;
          }
        }
        edit.sets[n] = std::move(els);
      }
    }
    if (!ok) return std::nullopt;
    return edit;
  }

  // HSDS 3.1's service.capacities[] (an additional property in 3.0): the one with unit "Bed"
  // is the service's bed capacity; others stay in extra.
  static void TakeBedCapacity(json* extra, json* fields) {
    auto caps = extra->find("capacities");
    if (caps == extra->end() || !caps->is_array()) return;
    for (auto it = caps->begin(); it != caps->end(); ++it) {
      if (!it->is_object() || it->value("unit", json()) != "Bed") continue;
      const json& c = *it;
      if (c.contains("available")) (*fields)["capacity_beds_available"] = c["available"];
      if (c.contains("maximum")) (*fields)["capacity_beds_total"] = c["maximum"];
      if (c.contains("updated")) (*fields)["capacity_updated"] = c["updated"];
      caps->erase(it);
      break;
    }
    if (caps->empty()) extra->erase(caps);
  }

  // With skip_invalid: a record linked to an invalid one (a phone of an invalid service, a
  // location whose own address is invalid) is skipped too, and named.
  void PropagateSkips() {
    bool changed = true;
    while (changed) {
      changed = false;
      for (size_t i = 0; i < objs_.size(); ++i) {
        Obj& x = objs_[i];
        if (x.invalid || x.dropped) continue;
        const Obj* bad = nullptr;
        if (x.consumed) {
          const Obj* t = Find(x.target);
          if (t && t->invalid) bad = t;
        }
        for (auto it = x.o.fields.begin(); !bad && it != x.o.fields.end(); ++it) {
          const FieldSpec* spec = schema_.Field(x.o.kind, it.key());
          if (!spec || it.key() == kOwnerField || !it->is_string() ||
              (!spec->owned_link && spec->link_kind.empty())) {
            continue;
          }
          const Obj* t = Find(it->get<std::string>());
          if (t && t->invalid && !t->dropped) bad = t;
        }
        if (auto a = own_address_.find(x.o.id); !bad && a != own_address_.end()) {
          if (objs_[a->second].invalid) bad = &objs_[a->second];
        }
        if (!bad) continue;
        Invalid(i, x.o.where,
                "skipped: its " + bad->o.kind + " " + bad->o.id + " (at " +
                    (bad->o.where.empty() ? "the top" : bad->o.where) + ") is invalid");
        changed = true;
      }
    }
  }

  const FieldSchema& schema_;
  const HsdsImportOptions& options_;
  FlatContext context_;
  HsdsImportResult result_;
  std::vector<Obj> objs_;
  std::map<std::string, size_t> by_id_;
  std::map<std::string, json> values_;  // id -> fields set by the mapping
  std::map<std::string, std::map<std::string, std::vector<std::string>>> elements_;
  std::map<size_t, std::string> owners_;
  std::map<std::string, size_t> own_address_;  // location id -> the address folded into it
};

}  // namespace

Result<HsdsImportResult> EditsFromObjects(const FieldSchema& schema,
                                          std::vector<HsdsObject> objects,
                                          const HsdsImportOptions& options, FlatContext context,
                                          std::vector<ImportProblem> problems) {
  Mapper mapper(schema, options, std::move(context), std::move(problems));
  return mapper.Run(std::move(objects));
}

}  // namespace hsds_import

Result<HsdsImportResult> EditsFromHsdsObjects(const FieldSchema& schema,
                                              std::vector<HsdsObject> objects,
                                              const HsdsImportOptions& options) {
  return hsds_import::EditsFromObjects(schema, std::move(objects), options,
                                       hsds_import::FlatContext{}, std::vector<ImportProblem>{});
}

}  // namespace sb

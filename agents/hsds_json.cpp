#include "agents/hsds_json.h"

#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "conflict/views.h"

namespace sb {

using nlohmann::json;

json ValueJson(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return nullptr;
}

json FieldValueJson(const FieldSpec* spec, const Value& v) {
  if (spec && spec->type == FieldType::kNumber) {
    if (const auto* s = std::get_if<std::string>(&v)) return NumberJson(*s);
  }
  return ValueJson(v);
}

namespace {

const char* JsonTypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number with a fraction";
    case json::value_t::string:
      return "text";
    case json::value_t::array:
      return "list";
    case json::value_t::object:
      return "object";
    default:
      return "something else";
  }
}

// Keys that structure the document rather than hold field values.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kChildren = {
    {"organization", {{"services", "service"}, {"locations", "location"}, {"phones", "phone"}}},
    {"service",
     {{"phones", "phone"},
      {"schedules", "schedule"},
      {"languages", "language"},
      {"service_at_locations", "service_at_location"}}},
    {"location", {{"phones", "phone"}, {"schedules", "schedule"}, {"languages", "language"}}},
};

const std::vector<std::pair<std::string, std::string>>& ChildrenOf(const std::string& kind) {
  static const std::vector<std::pair<std::string, std::string>> kNone;
  auto it = kChildren.find(kind);
  return it == kChildren.end() ? kNone : it->second;
}

// The field that links a child of `parent_kind` to its parent.
std::string LinkField(const std::string& parent_kind) {
  if (parent_kind == "organization") return "organization_id";
  if (parent_kind == "service") return "service_id";
  return "location_id";
}

}  // namespace

Result<RecordEdit> EditFromJson(const FieldSchema& schema, const std::string& kind,
                                const std::string& id, const json& fields) {
  RETURN_IF_ERROR(schema.ValidateKind(kind));
  if (!fields.is_object()) {
    return Status::InvalidArgument("fields must be a JSON object, got " +
                                   std::string(JsonTypeName(fields)));
  }
  RecordEdit e;
  e.id = id;
  e.kind = kind;
  for (const auto& [name, v] : fields.items()) {
    const FieldSpec* spec = schema.Field(kind, name);
    std::string where = kind + "." + name;
    if (!spec || name == kDeletedField) {
      return Status::InvalidArgument(where + ": unknown field");
    }
    // (clang 14 cannot capture a structured binding implicitly; hence &v = v.)
    auto wrong = [&, &v = v](const char* want) {
      return Status::InvalidArgument(where + ": must be " + std::string(want) + ", got " +
                                     JsonTypeName(v));
    };
    if (v.is_null()) {
      if (spec->type == FieldType::kTextSet)
        e.sets[name] = {};
      else
        e.values[name] = Null{};
      continue;
    }
    switch (spec->type) {
      case FieldType::kText:
      case FieldType::kEnum:
        if (!v.is_string()) return wrong("text");
        e.values[name] = v.get<std::string>();
        break;
      case FieldType::kInt:
        if (!v.is_number_integer()) return wrong("integer");
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)) {
          return Status::InvalidArgument(where + ": integer out of range");
        }
        e.values[name] = v.get<int64_t>();
        break;
      case FieldType::kBool:
        if (!v.is_boolean()) return wrong("boolean");
        e.values[name] = v.get<bool>();
        break;
      case FieldType::kNumber: {
        // A JSON number; a string holding one is taken too (the decimal text earlier exports
        // wrote for latitude and longitude).
        std::optional<std::string> text = NumberText(v);
        if (!text) return wrong("a number");
        e.values[name] = *text;
        break;
      }
      case FieldType::kTextSet: {
        if (!v.is_array()) return wrong("a list of text");
        std::vector<std::string> elements;
        for (const auto& el : v) {
          if (!el.is_string()) {
            return Status::InvalidArgument(where + ": every element must be text, got " +
                                           std::string(JsonTypeName(el)));
          }
          elements.push_back(el.get<std::string>());
        }
        e.sets[name] = std::move(elements);
        break;
      }
    }
  }
  return e;
}

namespace {

class HsdsReader {
 public:
  HsdsReader(const FieldSchema& schema, std::vector<ImportProblem>* problems)
      : schema_(schema), problems_(problems) {}

  // Reads `obj` as a record of `kind` (under a parent, or top level), then its children.
  void Read(const json& obj, const std::string& kind, const std::string& where,
            const std::string& parent_kind, const std::string& parent_id,
            const std::string& owner) {
    if (!obj.is_object()) return Problem(where, "", "must be an object");
    auto id_it = obj.find("id");
    if (id_it == obj.end() || !id_it->is_string()) return Problem(where, "", "has no text \"id\"");
    std::string id = id_it->get<std::string>();
    if (!seen_.insert(id).second) return Problem(where, id, "id appears more than once");
    json fields = json::object();
    std::set<std::string> child_keys;
    for (const auto& [key, child_kind] : ChildrenOf(kind)) child_keys.insert(key);
    for (const auto& [key, value] : obj.items()) {
      if (key == "id") continue;
      // A phone's "languages" is its set of codes; elsewhere it lists language records.
      if (child_keys.count(key) && !(kind == "phone" && key == "languages")) continue;
      fields[key] = value;
    }
    std::string rec_owner = owner;
    if (kind == "organization") rec_owner = id;
    if (!parent_id.empty()) {
      std::string link = LinkField(parent_kind);
      if (fields.contains(link) && fields[link] != parent_id) {
        return Problem(
            where, id,
            kind + "." + link + ": differs from the enclosing " + parent_kind + " " + parent_id);
      }
      fields[link] = parent_id;
    }
    if (rec_owner.empty() && fields.contains("organization_id") &&
        fields["organization_id"].is_string()) {
      rec_owner = fields["organization_id"].get<std::string>();
    }
    if (fields.contains(kOwnerField)) {
      return Problem(where, id, kind + ".owner: set by the enclosing organization, not by hand");
    }
    if (!rec_owner.empty()) fields[kOwnerField] = rec_owner;
    Result<RecordEdit> e = EditFromJson(schema_, kind, id, fields);
    if (!e.ok()) return Problem(where, id, e.status().message());
    // Check values now, so every problem is reported, not just the first one per request.
    for (const auto& [name, v] : e->values) {
      Status s = schema_.ValidateValue(kind, name, v);
      if (!s.ok()) return Problem(where, id, s.message());
    }
    for (const auto& [name, els] : e->sets) {
      for (const auto& el : els) {
        Status s = schema_.ValidateElement(kind, name, el);
        if (!s.ok()) return Problem(where, id, s.message());
      }
    }
    if (!MatchesPattern(Pattern::kUuid, id)) {
      return Problem(where, id, "id: " + std::string(PatternRule(Pattern::kUuid)));
    }
    edits_.push_back(std::move(e).value());
    for (const auto& [key, child_kind] : ChildrenOf(kind)) {
      if (kind == "phone") break;
      auto c = obj.find(key);
      if (c == obj.end()) continue;
      if (!c->is_array()) {
        Problem(where + "." + key, id, "must be a list");
        continue;
      }
      for (size_t i = 0; i < c->size(); ++i) {
        Read((*c)[i], child_kind, where + "." + key + "[" + std::to_string(i) + "]", kind, id,
             rec_owner);
      }
    }
  }

  void Problem(const std::string& where, const std::string& id, const std::string& error) {
    problems_->push_back(ImportProblem{where, id, error});
  }

  std::vector<RecordEdit> edits_;

 private:
  const FieldSchema& schema_;
  std::vector<ImportProblem>* problems_;
  std::set<std::string> seen_;
};

const std::vector<std::pair<std::string, std::string>> kTopLevel = {
    {"organizations", "organization"},
    {"services", "service"},
    {"locations", "location"},
    {"phones", "phone"},
    {"schedules", "schedule"},
    {"languages", "language"},
    {"service_at_locations", "service_at_location"}};

}  // namespace

Result<std::vector<RecordEdit>> ParseHsds(const FieldSchema& schema, const json& doc,
                                          std::vector<ImportProblem>* problems) {
  if (!doc.is_object()) {
    return Status::InvalidArgument("an HSDS document must be a JSON object, got " +
                                   std::string(JsonTypeName(doc)));
  }
  HsdsReader reader(schema, problems);
  bool any = false;
  for (const auto& [key, value] : doc.items()) {
    if (key == "hsds_version" || key == "generator" || key == "description") continue;
    auto top = std::find_if(kTopLevel.begin(), kTopLevel.end(),
                            [&key = key](const auto& p) { return p.first == key; });
    if (top == kTopLevel.end()) {
      reader.Problem(key, "", "unknown top-level key (expected organizations, services, ...)");
      continue;
    }
    if (!value.is_array()) {
      reader.Problem(key, "", "must be a list");
      continue;
    }
    any = true;
    for (size_t i = 0; i < value.size(); ++i) {
      reader.Read(value[i], top->second, key + "[" + std::to_string(i) + "]", "", "", "");
    }
  }
  if (!any && problems->empty()) {
    return Status::InvalidArgument("the document holds no organizations or other records");
  }
  if (!problems->empty()) {
    return Status::InvalidArgument(std::to_string(problems->size()) +
                                   " record(s) are invalid; nothing was imported");
  }
  return std::move(reader.edits_);
}

namespace {

json FieldsJson(const Record& r, const FieldSchema& schema) {
  json out = json::object();
  RecordView v = ProposedView(r, schema);
  for (const auto& [name, f] : v.fields) {
    if (name == kOwnerField || name == kDeletedField) continue;
    const FieldSpec* spec = schema.Field(r.kind(), name);
    if (spec && spec->type == FieldType::kTextSet) {
      out[name] = f.elements;
    } else if (f.value && !std::holds_alternative<Null>(*f.value)) {
      out[name] = FieldValueJson(spec, *f.value);
    }
  }
  return out;
}

std::string Str(const Record& r, const char* field) {
  auto v = r.Displayed(field);
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
}

}  // namespace

json ExportHsds(const Directory& dir, const FieldSchema& schema) {
  // Build each record's JSON, then attach children to parents; records whose parent is
  // absent stay at the top level so that nothing is lost.
  std::map<std::string, json> objs;
  std::map<std::string, std::string> kinds;
  for (const auto& [id, r] : dir.records()) {
    if (r.IsDeleted()) continue;
    json o = json::object();
    o["id"] = id;
    json fields = FieldsJson(r, schema);
    for (auto& [k, v] : fields.items()) o[k] = v;
    objs[id] = std::move(o);
    kinds[id] = r.kind();
  }
  // Parent of each record: the most specific link present.
  auto parent_of = [&](const std::string& id) -> std::pair<std::string, std::string> {
    const Record* r = dir.Find(id);
    const std::string& kind = r->kind();
    if (kind == "organization") return {"", ""};
    for (const char* link : {"service_id", "location_id", "organization_id"}) {
      if (kind == "service" && std::string(link) != "organization_id") continue;
      if (kind == "location" && std::string(link) != "organization_id") continue;
      std::string p = Str(*r, link);
      if (p.empty() || !objs.count(p)) continue;
      const std::string& pk = kinds[p];
      for (const auto& [key, child_kind] : ChildrenOf(pk)) {
        if (child_kind == kind && LinkField(pk) == link) return {p, key};
      }
    }
    return {"", ""};
  };
  // Attach deepest kinds first so that a service carries its phones when it joins its org.
  json doc = {{"hsds_version", "3.0"}, {"generator", "switchboard"}};
  std::map<std::string, json> top;
  for (const char* kind : {"phone", "schedule", "language", "service_at_location", "service",
                           "location", "organization"}) {
    for (auto& [id, o] : objs) {
      if (kinds[id] != kind) continue;
      auto [parent, key] = parent_of(id);
      if (!parent.empty()) {
        // The link is implied by the nesting.
        o.erase(LinkField(kinds[parent]));
        objs[parent][key].push_back(std::move(o));
      } else {
        std::string top_key = kind == std::string("service_at_location") ? "service_at_locations"
                                                                         : std::string(kind) + "s";
        top[top_key].push_back(std::move(o));
      }
    }
  }
  for (auto& [k, v] : top) doc[k] = std::move(v);
  if (!doc.contains("organizations")) doc["organizations"] = json::array();
  return doc;
}

json RecordJson(const Record& r, const FieldSchema& schema) {
  RecordView proposed = ProposedView(r, schema);
  RecordView published = PublishedView(r, schema);
  json fields = json::object();
  Hlc last;
  ReplicaId last_by = 0;
  for (const auto& [name, f] : proposed.fields) {
    if (name == kOwnerField || name == kDeletedField) continue;
    json jf = json::object();
    const FieldSpec* spec = schema.Field(r.kind(), name);
    if (spec && spec->type == FieldType::kTextSet) {
      jf["value"] = f.elements;
    } else {
      jf["value"] = f.value ? FieldValueJson(spec, *f.value) : json(nullptr);
      auto pub = published.fields.find(name);
      if (spec && spec->moderated) {
        jf["published"] = pub == published.fields.end() ? json(nullptr)
                                                        : FieldValueJson(spec, *pub->second.value);
        jf["pending"] = f.pending;
        // A maintainer's rejection of an earlier proposal, for the owner to read.
        if (auto rejected = r.Displayed(RejectedFieldName(name));
            rejected && !std::holds_alternative<Null>(*rejected)) {
          auto reason = r.Displayed(RejectionReasonFieldName(name));
          jf["rejected"] = {{"value", ValueJson(*rejected)},
                            {"reason", reason ? ValueJson(*reason) : json(nullptr)}};
        }
      }
      if (f.siblings.size() > 1) {
        json sibs = json::array();
        for (const Sibling& s : f.siblings) {
          sibs.push_back({{"value", FieldValueJson(spec, s.value)},
                          {"by", ReplicaHex(s.dot.replica)},
                          {"at", IsoTime(s.stamp.millis())}});
        }
        jf["conflict"] = true;
        jf["siblings"] = std::move(sibs);
      }
      if (!f.siblings.empty()) {
        const Sibling& d = f.siblings.front();
        jf["changed_by"] = ReplicaHex(d.dot.replica);
        jf["changed_at"] = IsoTime(d.stamp.millis());
        if (d.stamp > last) {
          last = d.stamp;
          last_by = d.dot.replica;
        }
      }
    }
    fields[name] = std::move(jf);
  }
  json out = {{"id", r.id()},
              {"kind", r.kind()},
              {"owner", proposed.owner.empty() ? json(nullptr) : json(proposed.owner)},
              {"deleted", proposed.deleted},
              {"fields", std::move(fields)}};
  if (last_by != 0)
    out["last_change"] = {{"by", ReplicaHex(last_by)}, {"at", IsoTime(last.millis())}};
  json conflicts = json::array();
  for (const Conflict& c : Conflicts(r, schema)) {
    conflicts.push_back({{"field", c.field}, {"kind", ConflictKindName(c.kind)}});
  }
  out["conflicts"] = std::move(conflicts);
  return out;
}

json RecordSummaryJson(const Record& r, const FieldSchema& schema) {
  json out = {{"id", r.id()}, {"kind", r.kind()}, {"deleted", r.IsDeleted()}};
  std::string owner = r.Owner();
  out["owner"] = owner.empty() ? json(nullptr) : json(owner);
  std::string name = Str(r, "name");
  if (name.empty()) name = Str(r, "number");
  if (name.empty()) name = Str(r, "description");
  out["name"] = name;
  out["conflicts"] = Conflicts(r, schema).size();
  return out;
}

}  // namespace sb

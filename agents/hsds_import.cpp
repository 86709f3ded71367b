// The first half of the HSDS import: which shape the document has, and its objects
// flattened (agents/hsds_model.h, Nesting()) with the links their places imply. The walk
// recurses once per level of nesting; ImportHsdsJson refuses documents deeper than
// kMaxDepth before walking (ParseJson's limit at the API and CLI is the same 64), so the
// stack is bounded whatever the input.
#include "agents/hsds_import.h"

#include <map>
#include <set>

#include "agents/internal/hsds_import_internal.h"
#include "base/json.h"
#include "base/utf8.h"

namespace sb {
namespace {

using json = nlohmann::json;
using hsds_import::JoinPath;

constexpr int kMaxDepth = 64;
// Object occurrences in one document (an embedded object counts at each place): a bound on
// the work a hostile document can ask for; far above a national directory.
constexpr size_t kMaxOccurrences = 5'000'000;

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "text";
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "an object";
    default:
      return "something else";
  }
}

const Nested* FindNesting(const std::string& kind, const std::string& property) {
  for (const Nested& n : Nesting()) {
    if (n.parent_kind == kind && n.property == property) return &n;
  }
  return nullptr;
}

bool AllText(const json& list) {
  if (!list.is_array() || list.empty()) return false;
  for (const json& e : list) {
    if (!e.is_string()) return false;
  }
  return true;
}

// The project's own envelope (agents/hsds_json.h): its top-level lists.
const std::map<std::string, std::string>& EnvelopeLists() {
  static const auto* const kLists =
      new std::map<std::string, std::string>{{"organizations", "organization"},
                                             {"services", "service"},
                                             {"locations", "location"},
                                             {"phones", "phone"},
                                             {"schedules", "schedule"},
                                             {"languages", "language"},
                                             {"service_at_locations", "service_at_location"}};
  return *kLists;
}

bool IsPage(const json& j) {
  return j.is_object() && j.contains("contents") &&
         (j.contains("total_items") || j.contains("page_number") || j.contains("total_pages"));
}

// Which object a top-level (or Page) object is, from the properties only it has; "" when it
// cannot be told.
std::string DetectKind(const json& o) {
  auto has = [&o](const char* k) { return o.contains(k) && !o[k].is_null(); };
  auto object = [&o](const char* k) { return o.contains(k) && o[k].is_object(); };
  if (object("location") || object("service") ||
      (has("service_id") && has("location_id") && !has("name"))) {
    return "service_at_location";
  }
  for (const char* k :
       {"status", "service_areas", "service_at_locations", "cost_options", "required_documents",
        "program_id", "eligibility_description", "application_process", "fees_description"}) {
    if (has(k)) return "service";
  }
  if (object("organization") || object("program")) return "service";
  for (const char* k :
       {"taxonomy_detail", "taxonomy_id", "term_uri", "parent_id", "code", "taxonomy"}) {
    if (has(k)) return "taxonomy_term";
  }
  for (const char* k :
       {"location_type", "addresses", "latitude", "longitude", "accessibility", "transportation"}) {
    if (has(k)) return "location";
  }
  if (has("version")) {
    bool only_taxonomy = true;
    for (auto it = o.begin(); it != o.end(); ++it) {
      static const std::set<std::string> kTaxonomy = {"id",  "name",    "description",
                                                      "uri", "version", "metadata"};
      only_taxonomy = only_taxonomy && kTaxonomy.count(it.key()) > 0;
    }
    if (only_taxonomy) return "taxonomy";
  }
  if (has("name")) return "organization";
  return "";
}

class Flattener {
 public:
  explicit Flattener(const FieldSchema& schema) : schema_(schema) {}

  Status Document(const json& doc) {
    if (doc.is_array()) {
      if (doc.empty()) return Status::InvalidArgument("the document is an empty list");
      for (size_t i = 0; i < doc.size(); ++i) Item(doc[i], Index("", i));
    } else if (doc.is_object()) {
      if (IsPage(doc)) {
        Page(doc, "");
      } else if (doc.contains("id")) {
        Object(doc, "");
      } else {
        RETURN_IF_ERROR(Envelope(doc));
      }
    } else {
      return Status::InvalidArgument(
          std::string("an HSDS document must be a JSON object or a list, got ") + TypeName(doc));
    }
    if (too_many_) {
      return Status::ResourceExhausted("the document holds more than " +
                                       std::to_string(kMaxOccurrences) + " objects");
    }
    if (objects.empty() && problems.empty()) {
      return Status::InvalidArgument("the document holds no HSDS objects");
    }
    return Status::Ok();
  }

  std::vector<HsdsObject> objects;
  std::vector<ImportProblem> problems;
  hsds_import::FlatContext context;

 private:
  void Problem(const std::string& where, const std::string& id, std::string error) {
    if (problems.size() >= hsds_import::kMaxListedProblems) {
      ++context.unlisted_problems;
      return;
    }
    problems.push_back(
        ImportProblem{where.empty() ? "(the document)" : where, id, std::move(error)});
  }

  void Item(const json& item, const std::string& path) {
    if (IsPage(item)) return Page(item, path);
    Object(item, path);
  }

  void Page(const json& page, const std::string& path) {
    const json& contents = page["contents"];
    std::string at = JoinPath(path, "contents");
    if (!contents.is_array()) {
      return Problem(at, "",
                     std::string("a Page's contents must be a list, got ") + TypeName(contents));
    }
    for (size_t i = 0; i < contents.size(); ++i) Object(contents[i], Index(at, i));
  }

  void Object(const json& obj, const std::string& path) {
    if (!obj.is_object()) {
      return Problem(path, "", std::string("must be an HSDS object, got ") + TypeName(obj));
    }
    std::string kind = DetectKind(obj);
    if (kind.empty()) {
      return Problem(path, "",
                     "cannot tell which HSDS object this is (an organization, service, "
                     "service_at_location, location, taxonomy or taxonomy_term)");
    }
    Walk(obj, kind, path, 1);
  }

  Status Envelope(const json& doc) {
    context.legacy = true;
    bool any = false;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      const std::string& key = it.key();
      if (key == "hsds_version" || key == "generator" || key == "description") continue;
      auto list = EnvelopeLists().find(key);
      if (list == EnvelopeLists().end()) {
        Problem(key, "",
                "unknown top-level key (expected one HSDS object, a list of them, an API Page, "
                "or a document with organizations, services, ...)");
        continue;
      }
      if (!it->is_array()) {
        Problem(key, "", "must be a list");
        continue;
      }
      any = true;
      for (size_t i = 0; i < it->size(); ++i) Walk((*it)[i], list->second, Index(key, i), 1);
    }
    if (!any && problems.empty()) {
      return Status::InvalidArgument("the document holds no organizations or other records");
    }
    return Status::Ok();
  }

  // Flattens `obj` (a `kind`) and what it holds; returns its index in `objects`, or SIZE_MAX
  // when it could not be read (a problem says why).
  size_t Walk(const json& obj, const std::string& kind, const std::string& path, int depth) {
    if (!obj.is_object()) {
      Problem(path, "", "must be an object (a " + kind + "), got " + TypeName(obj));
      return SIZE_MAX;
    }
    if (depth > kMaxDepth) {
      Problem(path, "", "nested deeper than " + std::to_string(kMaxDepth) + " objects");
      return SIZE_MAX;
    }
    if (++occurrences_ > kMaxOccurrences) {
      too_many_ = true;
      return SIZE_MAX;
    }
    auto id_it = obj.find("id");
    if (id_it == obj.end() || !id_it->is_string()) {
      Problem(JoinPath(path, "id"), "",
              kind + ".id: missing or not text (every HSDS object has a UUID id)");
      return SIZE_MAX;
    }
    std::string id = Lower(id_it->get<std::string>());
    if (!MatchesPattern(Pattern::kUuid, id)) {
      Problem(JoinPath(path, "id"), "",
              kind + ".id: must be a UUID (8-4-4-4-12 hexadecimal digits), got \"" +
                  Printable(id_it->get<std::string>(), 60) + "\"");
      return SIZE_MAX;
    }
    HsdsObject o;
    o.kind = kind;
    o.id = id;
    o.where = path;
    json extra = json::object();
    std::map<std::string, std::pair<std::string, std::string>> names;  // field -> child, path
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string& key = it.key();
      const json& value = *it;
      if (key == "id" || key == "metadata") continue;  // metadata is derived on export
      const Nested* n = FindNesting(kind, key);
      bool field = schema_.Field(kind, key) != nullptr;
      if (n && !(field && AllText(value))) {
        if (value.is_null()) continue;
        std::string at = JoinPath(path, key);
        if (n->many) {
          if (!value.is_array()) {
            Problem(at, id,
                    kind + "." + key + ": must be a list of " + n->child_kind + " objects, got " +
                        TypeName(value));
            continue;
          }
          for (size_t i = 0; i < value.size(); ++i) {
            size_t child = Walk(value[i], n->child_kind, Index(at, i), depth + 1);
            if (child != SIZE_MAX) LinkChild(child, *n, id);
          }
        } else {
          size_t child = Walk(value, n->child_kind, at, depth + 1);
          if (child == SIZE_MAX) continue;
          const std::string& child_id = objects[child].id;
          names[n->link_field] = {child_id, at};
          context.embedded_by.emplace(child_id, id);
        }
        continue;
      }
      bool keep = field && !IsShadowField(key) && key != kExtraField;
      if (keep && !context.legacy) {
        const FieldSpec* spec = schema_.Field(kind, key);
        keep = !spec->maintainer_only && key != kDeletedField;
      }
      if (keep) {
        o.fields[key] = value;
      } else {
        extra[key] = value;
      }
    }
    for (const auto& [link, child] : names) {
      auto own = o.fields.find(link);
      if (own != o.fields.end() && own->is_string() &&
          Lower(own->get<std::string>()) != child.first) {
        Problem(JoinPath(path, link), id,
                kind + "." + link + ": " + Printable(own->get<std::string>(), 60) +
                    " differs from the object embedded at " + child.second + " (" + child.first +
                    ")");
        continue;
      }
      o.fields[link] = child.first;
    }
    if (!extra.empty()) o.fields[kExtraField] = std::move(extra);
    objects.push_back(std::move(o));
    return objects.size() - 1;
  }

  // A child in a parent's list names the parent (phone.service_id); a child that names
  // another parent in that field is a problem.
  void LinkChild(size_t child, const Nested& n, const std::string& parent_id) {
    HsdsObject& c = objects[child];
    auto own = c.fields.find(n.link_field);
    if (own != c.fields.end() && own->is_string() && Lower(own->get<std::string>()) != parent_id) {
      Problem(JoinPath(c.where, n.link_field), c.id,
              c.kind + "." + n.link_field + ": " + Printable(own->get<std::string>(), 60) +
                  " differs from the enclosing " + n.parent_kind + " " + parent_id);
      return;
    }
    c.fields[n.link_field] = parent_id;
  }

  const FieldSchema& schema_;
  size_t occurrences_ = 0;
  bool too_many_ = false;
};

}  // namespace

Result<HsdsImportResult> ImportHsdsJson(const FieldSchema& schema, const nlohmann::json& doc,
                                        const HsdsImportOptions& options) {
  if (JsonDepth(doc) > kMaxDepth) {
    return Status::InvalidArgument("the document nests arrays and objects deeper than " +
                                   std::to_string(kMaxDepth) + " levels");
  }
  Flattener flat(schema);
  RETURN_IF_ERROR(flat.Document(doc));
  return hsds_import::EditsFromObjects(schema, std::move(flat.objects), options,
                                       std::move(flat.context), std::move(flat.problems));
}

Result<std::vector<RecordEdit>> HsdsEditsOrError(const FieldSchema& schema,
                                                 const nlohmann::json& doc,
                                                 const HsdsImportOptions& options) {
  ASSIGN_OR_RETURN(HsdsImportResult r, ImportHsdsJson(schema, doc, options));
  if (r.problems.empty()) return std::move(r.edits);
  std::string msg = std::to_string(r.problems.size()) + " problem(s) in the HSDS document";
  for (size_t i = 0; i < r.problems.size() && i < 3; ++i) {
    msg += "; " + r.problems[i].where + ": " + r.problems[i].error;
  }
  return Status::InvalidArgument(msg);
}

}  // namespace sb

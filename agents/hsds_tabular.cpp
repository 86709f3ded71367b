#include "agents/hsds_tabular.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "base/files.h"
#include "base/utf8.h"
#include "conflict/field_json.h"
#include "conflict/field_schema.h"

namespace sb {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxDataPackageBytes = size_t{16} << 20;
constexpr size_t kMaxJsonDepth = 64;

// --- names ---

const TabularTable* TableOfFile(std::string_view file) {
  if (file == "service_at_locations.csv") file = "service_at_location.csv";  // a common variant
  for (const TabularTable& t : TabularTables()) {
    if (file == t.file) return &t;
  }
  return nullptr;
}

std::string FileNames() {
  std::string out;
  for (const TabularTable& t : TabularTables()) {
    if (!out.empty()) out += ", ";
    out += t.file;
  }
  return out;
}

const TabularColumn* OfficialColumn(const TabularTable& t, std::string_view name) {
  for (const TabularColumn& c : t.columns) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

// The properties of `kind` that hold nested objects ("phones", "location", "metadata").
bool IsNestedProperty(std::string_view kind, std::string_view name) {
  static const std::set<std::pair<std::string, std::string>, std::less<>>* const kNested = [] {
    auto* out = new std::set<std::pair<std::string, std::string>, std::less<>>;
    for (const Nested& n : Nesting()) out->emplace(n.parent_kind, n.property);
    return out;
  }();
  return name == "metadata" ||
         kNested->count(std::make_pair(std::string(kind), std::string(name))) > 0;
}

// An additional property's name as HSDS writes properties: lower-case snake_case.
bool LooksLikeProperty(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// --- cells ---

enum class CellType { kString, kNumber, kInteger, kBoolean, kArray, kObject, kAny, kTextList };

CellType DeclaredType(const std::string& type) {
  if (type == "number") return CellType::kNumber;
  if (type == "integer") return CellType::kInteger;
  if (type == "boolean") return CellType::kBoolean;
  if (type == "array") return CellType::kArray;
  if (type == "object") return CellType::kObject;
  if (type == "any") return CellType::kAny;
  return CellType::kString;  // string, date, datetime, ...: the text as it is
}

// How a column's cells are read: official columns by the field table and the official type,
// additional ones by the datapackage's declared type, else the field table, else text.
CellType ColumnType(const std::string& kind, const std::string& column,
                    const TabularColumn* official, const std::string* declared) {
  const FieldSpec* spec = FieldSchema::Hsds().Field(kind, column);
  if (official != nullptr) {
    if (official->number) return CellType::kNumber;
    if (spec != nullptr && (spec->type == FieldType::kInt || spec->type == FieldType::kNumber)) {
      return CellType::kNumber;
    }
    return CellType::kString;  // byday stays text
  }
  if (declared != nullptr) return DeclaredType(*declared);
  if (spec == nullptr) return CellType::kString;
  switch (spec->type) {
    case FieldType::kInt:
      return CellType::kInteger;
    case FieldType::kNumber:
      return CellType::kNumber;
    case FieldType::kBool:
      return CellType::kBoolean;
    case FieldType::kTextSet:
      return CellType::kTextList;
    default:
      return CellType::kString;
  }
}

// The nesting depth of JSON text (brackets outside strings), to refuse text that would make
// a later recursive dump overflow the stack.
size_t JsonDepth(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

Result<json> ParseJsonCell(const std::string& cell) {
  if (JsonDepth(cell) > kMaxJsonDepth) {
    return Status::InvalidArgument("JSON nested more than " + std::to_string(kMaxJsonDepth) +
                                   " deep");
  }
  json v = json::parse(cell, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return Status::InvalidArgument("not JSON");
  return v;
}

std::string Quoted(const std::string& cell) {
  return "\"" + Printable(cell, 40) + "\"";
}

Result<json> CellValue(const std::string& cell, CellType type) {
  switch (type) {
    case CellType::kString:
      return json(cell);
    case CellType::kNumber:
    case CellType::kInteger: {
      // An integer stays exact as JSON reads it (beyond 2^53 too); other numbers take the
      // field table's canonical form.
      bool digits = !cell.empty() && (cell[0] == '-' || (cell[0] >= '0' && cell[0] <= '9'));
      json v = digits ? json::parse(cell, nullptr, /*allow_exceptions=*/false) : json();
      if (!v.is_number_integer()) {
        std::optional<std::string> text = CanonicalNumber(cell);
        v = text ? NumberJson(*text) : json();
      }
      if (!v.is_number()) return Status::InvalidArgument("must be a number, got " + Quoted(cell));
      if (type == CellType::kInteger && !v.is_number_integer()) {
        return Status::InvalidArgument("must be an integer, got " + Quoted(cell));
      }
      return v;
    }
    case CellType::kBoolean:
      if (cell == "true" || cell == "True" || cell == "TRUE" || cell == "1") return json(true);
      if (cell == "false" || cell == "False" || cell == "FALSE" || cell == "0") return json(false);
      return Status::InvalidArgument("must be true or false, got " + Quoted(cell));
    case CellType::kArray:
    case CellType::kObject: {
      Result<json> v = ParseJsonCell(cell);
      bool want_array = type == CellType::kArray;
      if (!v.ok() || (want_array ? !v->is_array() : !v->is_object())) {
        return Status::InvalidArgument(std::string("must be a JSON ") +
                                       (want_array ? "array" : "object") +
                                       (v.ok() ? "" : " (" + v.status().message() + ")"));
      }
      return v;
    }
    case CellType::kAny: {
      Result<json> v = ParseJsonCell(cell);
      if (!v.ok()) return json(cell);  // plain text
      return v;
    }
    case CellType::kTextList: {
      // A JSON array of strings as this writer writes it, or "a, b, c" as people type it.
      if (!cell.empty() && cell[0] == '[') {
        Result<json> v = ParseJsonCell(cell);
        bool strings =
            v.ok() && v->is_array() &&
            std::all_of(v->begin(), v->end(), [](const json& e) { return e.is_string(); });
        if (!strings) {
          return Status::InvalidArgument(
              "must be a JSON array of strings or a comma-separated list");
        }
        return v;
      }
      json out = json::array();
      size_t start = 0;
      while (start <= cell.size()) {
        size_t end = cell.find(',', start);
        if (end == std::string::npos) end = cell.size();
        std::string part = cell.substr(start, end - start);
        size_t a = part.find_first_not_of(" \t");
        size_t b = part.find_last_not_of(" \t");
        if (a != std::string::npos) out.push_back(part.substr(a, b - a + 1));
        start = end + 1;
      }
      return out;
    }
  }
  return json(cell);
}

// --- reading ---

// One CSV file to read: which kind, and the field types its datapackage entry declares.
struct TableFile {
  std::string file;
  const TabularTable* table = nullptr;
  std::map<std::string, std::string> declared;  // column -> Frictionless type
};

Result<std::string> ReadAll(TabularSource* source, const std::string& name, size_t max_bytes) {
  ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> in, source->OpenFile(name));
  std::string out;
  char buf[65536];
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, in->Read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > max_bytes) {
      return Status::ResourceExhausted(name + ": larger than " + std::to_string(max_bytes >> 20) +
                                       " MiB");
    }
  }
  return out;
}

// The files datapackage.json lists, with their kinds and declared field types.
Result<std::vector<TableFile>> FromDataPackage(TabularSource* source) {
  ASSIGN_OR_RETURN(std::string text, ReadAll(source, "datapackage.json", kMaxDataPackageBytes));
  if (!IsUtf8(text)) return Status::InvalidArgument("datapackage.json: not UTF-8 text");
  if (JsonDepth(text) > kMaxJsonDepth) {
    return Status::InvalidArgument("datapackage.json: nested more than " +
                                   std::to_string(kMaxJsonDepth) + " deep");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("datapackage.json: not valid JSON");
  if (!doc.is_object() || !doc.contains("resources") || !doc["resources"].is_array()) {
    return Status::InvalidArgument(
        "datapackage.json: not a data package (an object with a \"resources\" array)");
  }
  std::vector<TableFile> out;
  std::set<std::string> paths;
  const json& resources = doc["resources"];
  for (size_t i = 0; i < resources.size(); ++i) {
    const json& r = resources[i];
    std::string at = "datapackage.json resources[" + std::to_string(i) + "]";
    if (!r.is_object()) return Status::InvalidArgument(at + ": not an object");
    if (r.contains("data")) {
      return Status::InvalidArgument(at + ": inline \"data\" is not supported; give a CSV path");
    }
    if (!r.contains("path") || !r["path"].is_string()) {
      return Status::InvalidArgument(at + ": \"path\" must be the name of one CSV file");
    }
    std::string path = r["path"].get<std::string>();
    if (path.find("://") != std::string::npos) {
      return Status::InvalidArgument(at + ": \"" + Printable(path) +
                                     "\" is remote; only files inside the package are read");
    }
    if (path.rfind("./", 0) == 0) path = path.substr(2);
    const std::vector<std::string>& files = source->Files();
    if (!std::binary_search(files.begin(), files.end(), path)) {
      return Status::InvalidArgument(at + ": \"" + Printable(path) +
                                     "\" is not a file of the package");
    }
    if (!paths.insert(path).second) {
      return Status::InvalidArgument(at + ": " + path + " is listed twice");
    }
    TableFile tf;
    tf.file = path;
    if (r.contains("name") && r["name"].is_string()) {
      tf.table = TabularTableOf(r["name"].get<std::string>());
    }
    if (tf.table == nullptr) tf.table = TableOfFile(BaseName(path));
    if (tf.table == nullptr) {
      return Status::InvalidArgument(at + " (" + Printable(path) +
                                     "): not an HSDS table; name it after an HSDS object "
                                     "(organization, service, ...) or its file (" +
                                     FileNames() + ")");
    }
    if (r.contains("schema") && r["schema"].is_object() && r["schema"].contains("fields") &&
        r["schema"]["fields"].is_array()) {
      for (const json& f : r["schema"]["fields"]) {
        if (f.is_object() && f.contains("name") && f["name"].is_string()) {
          std::string type = f.contains("type") && f["type"].is_string()
                                 ? f["type"].get<std::string>()
                                 : std::string("string");
          tf.declared[f["name"].get<std::string>()] = type;
        }
      }
    }
    out.push_back(std::move(tf));
  }
  for (const std::string& f : source->Files()) {
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".csv") == 0 && paths.count(f) == 0) {
      return Status::InvalidArgument(f + ": a CSV file that datapackage.json does not list");
    }
  }
  return out;
}

// The official files at the top of the package, when there is no datapackage.json.
Result<std::vector<TableFile>> ByFileNames(TabularSource* source) {
  std::vector<TableFile> out;
  std::set<std::string> kinds;
  for (const std::string& f : source->Files()) {
    if (f.size() <= 4 || f.compare(f.size() - 4, 4, ".csv") != 0) continue;  // README, ...
    const TabularTable* t = f.find('/') == std::string::npos ? TableOfFile(f) : nullptr;
    if (t == nullptr) {
      return Status::InvalidArgument(Printable(f) +
                                     ": not an HSDS table (without a datapackage.json the "
                                     "files must be at the top and named " +
                                     FileNames() + ")");
    }
    if (!kinds.insert(t->kind).second) {
      return Status::InvalidArgument(f + ": a second file of " + t->kind + " objects");
    }
    TableFile tf;
    tf.file = f;
    tf.table = t;
    out.push_back(std::move(tf));
  }
  return out;
}

struct Column {
  std::string name;
  CellType type = CellType::kString;
  // A text column HSDS requires (metadata.previous_value, address.state_province, ...): an
  // empty cell there can only be the empty text, which is valid HSDS.
  bool empty_is_text = false;
};

Result<std::vector<Column>> ReadHeader(const TableFile& tf, const std::vector<std::string>& cells) {
  const std::string kind = tf.table->kind;
  std::vector<Column> columns;
  std::set<std::string> seen;
  bool has_id = false;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string& name = cells[i];
    std::string at = tf.file + " header, column " + std::to_string(i + 1);
    if (name.empty()) return Status::InvalidArgument(at + ": has no name");
    if (!IsUtf8(name)) return Status::InvalidArgument(at + ": not UTF-8 text");
    if (!seen.insert(name).second) {
      return Status::InvalidArgument(at + ": \"" + Printable(name) + "\" appears twice");
    }
    if (name == "id") has_id = true;
    const TabularColumn* official = OfficialColumn(*tf.table, name);
    auto declared = tf.declared.find(name);
    if (official == nullptr) {
      if (IsNestedProperty(kind, name)) {
        return Status::InvalidArgument(at + ": \"" + name +
                                       "\" holds nested objects, which are "
                                       "rows of their own file in the tabular form");
      }
      if (declared == tf.declared.end() && !LooksLikeProperty(name)) {
        return Status::InvalidArgument(
            at + ": \"" + Printable(name) + "\" is not a property of " + kind +
            " (HSDS properties are lower-case snake_case, such as id, name, organization_id)");
      }
    }
    Column column;
    column.name = name;
    column.type = ColumnType(kind, name, official,
                             declared == tf.declared.end() ? nullptr : &declared->second);
    column.empty_is_text = official != nullptr && official->required && !official->number &&
                           *official->format == '\0' && column.type == CellType::kString;
    columns.push_back(std::move(column));
  }
  if (!has_id) return Status::InvalidArgument(tf.file + " header: no \"id\" column");
  return columns;
}

Status ReadTable(TabularSource* source, const TableFile& tf, const CsvLimits& limits,
                 std::vector<HsdsObject>* objects, std::vector<ImportProblem>* problems) {
  ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> in, source->OpenFile(tf.file));
  CsvReader csv(in.get(), limits);
  std::vector<std::string> cells;
  auto next = [&]() -> Result<bool> {
    Result<bool> more = csv.Next(&cells);
    if (!more.ok()) return more.status().WithContext(tf.file);
    return more;
  };
  ASSIGN_OR_RETURN(bool has_header, next());
  if (!has_header) return Status::InvalidArgument(tf.file + ": empty (no header row)");
  ASSIGN_OR_RETURN(std::vector<Column> columns, ReadHeader(tf, cells));
  for (;;) {
    ASSIGN_OR_RETURN(bool more, next());
    if (!more) break;
    const std::string where = tf.file + " row " + std::to_string(csv.row());
    if (cells.size() == 1 && cells[0].empty()) continue;  // a blank line
    if (cells.size() != columns.size()) {
      problems->push_back({where, "",
                           "has " + std::to_string(cells.size()) + " cells, the header " +
                               std::to_string(columns.size())});
      continue;
    }
    HsdsObject o;
    o.kind = tf.table->kind;
    o.where = where;
    bool ok = true;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (columns[i].name == "id" && IsUtf8(cells[i])) o.id = cells[i];
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string& cell = cells[i];
      const Column& col = columns[i];
      std::string at = where + " column " + col.name;
      Status text = CheckText(cell, "cell", TextKind::kAny);
      if (!text.ok()) {
        problems->push_back({at, o.id, "not UTF-8 text (save the file as UTF-8)"});
        ok = false;
        continue;
      }
      if (col.name == "id") {
        if (cell.empty()) {
          problems->push_back({at, "", "empty: every object needs an id"});
          ok = false;
        }
        continue;
      }
      if (cell.empty()) {  // absent, or the empty text where HSDS requires text
        if (col.empty_is_text) o.fields[col.name] = "";
        continue;
      }
      Result<json> v = CellValue(cell, col.type);
      if (!v.ok()) {
        problems->push_back({at, o.id, v.status().message()});
        ok = false;
        continue;
      }
      o.fields[col.name] = std::move(v).value();
    }
    if (ok) objects->push_back(std::move(o));
  }
  return Status::Ok();
}

// --- writing ---

// JSON text; bytes that are not UTF-8 (which no checked value holds) become U+FFFD.
std::string Dump(const json& v, int indent = -1) {
  return v.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string ScalarCell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return Dump(v);
}

// The Frictionless type of an additional property's values ("any" when they differ).
std::string TypeOfValues(const std::vector<const HsdsObject*>& rows, const std::string& name) {
  std::set<std::string> types;
  bool all_integers = true;
  for (const HsdsObject* o : rows) {
    auto it = o->fields.find(name);
    if (it == o->fields.end() || it->is_null()) continue;
    if (it->is_string()) {
      types.insert("string");
    } else if (it->is_boolean()) {
      types.insert("boolean");
    } else if (it->is_number()) {
      types.insert("number");
      if (!it->is_number_integer()) all_integers = false;
    } else if (it->is_array()) {
      types.insert("array");
    } else {
      types.insert("object");
    }
  }
  if (types.empty()) return "string";
  if (types.size() > 1) return "any";
  std::string t = *types.begin();
  if (t == "number" && all_integers) return "integer";
  return t;
}

Status CheckObject(const HsdsObject& o) {
  std::string at = o.kind + " " + o.id;
  if (TabularTableOf(o.kind) == nullptr) {
    return Status::InvalidArgument(at + ": no table of the tabular form holds " + o.kind +
                                   " objects");
  }
  if (o.id.empty()) return Status::InvalidArgument(o.kind + " object without an id");
  if (!o.fields.is_object()) return Status::InvalidArgument(at + ": fields are not an object");
  for (auto it = o.fields.begin(); it != o.fields.end(); ++it) {
    if (it.key().empty()) return Status::InvalidArgument(at + ": a property without a name");
    if (it.key() == "id" && !(it->is_string() && it->get<std::string>() == o.id)) {
      return Status::InvalidArgument(at + ": property id disagrees with the object's id");
    }
    if (IsNestedProperty(o.kind, it.key()) && !it->is_null()) {
      return Status::InvalidArgument(at + ": " + it.key() +
                                     " holds nested objects; give them as objects of their own");
    }
  }
  return Status::Ok();
}

// One table's CSV text and its datapackage resource.
void WriteTable(const TabularTable& table, const std::vector<const HsdsObject*>& rows,
                std::string* csv, json* resource) {
  std::vector<std::string> header;
  json fields = json::array();
  for (const TabularColumn& c : table.columns) {
    header.push_back(c.name);
    json f = {{"name", c.name}, {"type", c.number ? "number" : "string"}};
    if (*c.format != '\0') f["format"] = c.format;
    if (c.required) f["constraints"] = {{"required", true}};
    fields.push_back(std::move(f));
  }
  std::set<std::string, std::less<>> official(header.begin(), header.end());
  std::set<std::string> extra;
  for (const HsdsObject* o : rows) {
    for (auto it = o->fields.begin(); it != o->fields.end(); ++it) {
      if (official.count(it.key()) == 0) extra.insert(it.key());
    }
  }
  std::vector<bool> as_json(header.size(), false);
  for (const std::string& name : extra) {
    std::string type = TypeOfValues(rows, name);
    header.push_back(name);
    as_json.push_back(type == "any");
    fields.push_back({{"name", name}, {"type", type}});
  }
  AppendCsvRecord(header, csv);
  std::vector<std::string> cells(header.size());
  for (const HsdsObject* o : rows) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == "id") {
        cells[i] = o->id;
        continue;
      }
      auto it = o->fields.find(header[i]);
      if (it == o->fields.end() || it->is_null()) {
        cells[i].clear();
      } else {
        cells[i] = as_json[i] ? Dump(*it) : ScalarCell(*it);
      }
    }
    AppendCsvRecord(cells, csv);
  }
  *resource = {{"name", table.kind},
               {"path", table.file},
               {"profile", "tabular-data-resource"},
               {"format", "csv"},
               {"mediatype", "text/csv"},
               {"encoding", "utf-8"},
               {"schema", {{"fields", std::move(fields)}, {"primaryKey", "id"}}}};
}

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

Status SyncFolder(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(Errno("cannot open " + dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IoError(Errno("cannot sync " + dir));
  return Status::Ok();
}

}  // namespace

namespace {

Result<std::vector<HsdsObject>> ReadSource(TabularSource* source, const std::string& label,
                                           std::vector<ImportProblem>* problems,
                                           const TabularReadOptions& options) {
  const std::vector<std::string>& files = source->Files();
  bool has_package = std::binary_search(files.begin(), files.end(), "datapackage.json");
  ASSIGN_OR_RETURN(std::vector<TableFile> tables,
                   has_package ? FromDataPackage(source) : ByFileNames(source));
  if (tables.empty()) {
    return Status::InvalidArgument(label + ": no HSDS table (" + FileNames() + ")");
  }
  // Parents before children, as the official order has them.
  auto order = [](const TableFile& t) { return t.table - TabularTables().data(); };
  std::stable_sort(tables.begin(), tables.end(),
                   [&](const TableFile& a, const TableFile& b) { return order(a) < order(b); });
  std::vector<HsdsObject> objects;
  std::vector<ImportProblem> found;
  for (const TableFile& tf : tables) {
    RETURN_IF_ERROR(ReadTable(source, tf, options.limits.csv, &objects, &found));
  }
  problems->insert(problems->end(), found.begin(), found.end());
  return objects;
}

// The package's files: one CSV per kind present, then datapackage.json.
Result<std::vector<std::pair<std::string, std::string>>> TabularFiles(
    const std::vector<HsdsObject>& objects) {
  std::map<std::string, std::vector<const HsdsObject*>> by_kind;
  for (const HsdsObject& o : objects) {
    RETURN_IF_ERROR(CheckObject(o));
    by_kind[o.kind].push_back(&o);
  }
  std::vector<std::pair<std::string, std::string>> files;
  json resources = json::array();
  for (const TabularTable& table : TabularTables()) {
    auto it = by_kind.find(table.kind);
    if (it == by_kind.end()) continue;
    std::string csv;
    json resource;
    WriteTable(table, it->second, &csv, &resource);
    files.emplace_back(table.file, std::move(csv));
    resources.push_back(std::move(resource));
  }
  json package = {{"profile", "tabular-data-package"},
                  {"name", "hsds"},
                  {"title", "HSDS 3.0 data (tabular serialization)"},
                  {"resources", std::move(resources)}};
  files.emplace_back("datapackage.json", Dump(package, 2) + "\n");
  return files;
}

}  // namespace

Result<std::vector<HsdsObject>> ReadTabular(const std::string& path,
                                            std::vector<ImportProblem>* problems,
                                            const TabularReadOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<TabularSource> source,
                   TabularSource::Open(path, options.limits));
  return ReadSource(source.get(), path, problems, options);
}

Result<std::vector<HsdsObject>> ReadTabularZip(std::string zip,
                                               std::vector<ImportProblem>* problems,
                                               const TabularReadOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<TabularSource> source,
                   TabularSource::OpenZip(std::move(zip), options.limits));
  return ReadSource(source.get(), "the upload", problems, options);
}

Status WriteTabular(const std::vector<HsdsObject>& objects, const std::string& dir) {
  ASSIGN_OR_RETURN(auto files, TabularFiles(objects));
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target = fs::absolute(dir, ec).lexically_normal();
  if (ec) return Status::InvalidArgument(dir + ": " + ec.message());
  if (!target.has_filename()) target = target.parent_path();  // "listings/"
  if (fs::exists(fs::symlink_status(target, ec))) {
    if (!fs::is_directory(fs::symlink_status(target, ec)) || !fs::is_empty(target, ec)) {
      return Status::AlreadyExists(dir +
                                   " already exists and is not an empty folder; choose a "
                                   "new folder for the export");
    }
  }
  std::string tmpl =
      (target.parent_path() / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IoError(Errno("cannot create a folder next to " + dir));
  }
  const std::string tmp = tmpl;
  auto fail = [&tmp](Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };
  if (::chmod(tmp.c_str(), 0755) != 0) return fail(Status::IoError(Errno("cannot chmod " + tmp)));
  for (const auto& [name, contents] : files) {
    Status s = WriteFileAtomic(tmp + "/" + name, contents);
    if (!s.ok()) return fail(s);
  }
  Status s = SyncFolder(tmp);
  if (!s.ok()) return fail(s);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    return fail(Status::IoError(Errno("cannot move the export into " + dir)));
  }
  return SyncFolder(target.parent_path().string());
}

Result<std::string> TabularZip(const std::vector<HsdsObject>& objects) {
  ASSIGN_OR_RETURN(auto files, TabularFiles(objects));
  return ZipFiles(files);
}

Result<std::string> PackTabular(const std::string& path, const TabularLimits& limits) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound(Errno("cannot read " + path));
  if (!S_ISDIR(st.st_mode)) {
    if (static_cast<uint64_t>(st.st_size) > limits.max_total_bytes) {
      return Status::ResourceExhausted(path + ": larger than " +
                                       std::to_string(limits.max_total_bytes >> 20) + " MiB");
    }
    return ReadFile(path);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TabularSource> source, TabularSource::Open(path, limits));
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& name : source->Files()) {
    ASSIGN_OR_RETURN(std::string contents, ReadAll(source.get(), name, limits.max_total_bytes));
    files.emplace_back(name, std::move(contents));
  }
  return ZipFiles(files);
}

}  // namespace sb

// `switchboard dir get|list|set|delete|restore|history|import|export --data DIR ...`: reads and
// edits the directory through the running agent's local API (cli/agent_client.h). Readable
// tables by default, the API's JSON with --json; errors on stderr as "switchboard dir CMD: ..."
// with exit status 1.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "agents/hsds_import.h"
#include "agents/hsds_json.h"
#include "agents/hsds_tabular.h"
#include "base/json.h"
#include "cli/commands.h"
#include "cli/internal/agent_client.h"
#include "cli/internal/dir_format.h"
#include "store/data_dir.h"

namespace sb::cli {
namespace {

using nlohmann::json;

struct DirArgs {
  std::string data;
  bool json = false;
  std::string id;
  std::string kind;
  std::string q;
  int limit = 0;
  std::string cursor;
  bool all = false;
  bool deleted = false;
  std::vector<std::string> assignments;
  std::string file;
  std::string out;
  std::string view = "organization";  // export: compiled view
  std::string format = "compiled";    // export: compiled or envelope
  bool skip_invalid = false;          // import: import the valid records, report the rest
  std::string report;                 // import: the problems, one JSON object a line
};

constexpr size_t kValueWidth = 60;

std::string RecordPath(const std::string& id) {
  return "/v1/records/" + UrlEncode(id);
}

Result<AgentClient> Connect(const DirArgs& a, int read_timeout_s = 30) {
  AgentClient::Options o;
  o.read_timeout_s = read_timeout_s;
  return AgentClient::Open(a.data, o);
}

void PrintJson(const json& j) {
  std::cout << DumpJson(j, 2) << "\n";
}

std::string Joined(const json& list, const char* sep = ", ") {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& el : list) out += (out.empty() ? "" : sep) + ValueText(el);
  return out;
}

// --- get ---

Status Get(const DirArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, Connect(a));
  ASSIGN_OR_RETURN(json r, client.Call("GET", RecordPath(a.id)));
  if (a.json) {
    PrintJson(r);
    return Status::Ok();
  }
  Table head({"", ""}, {0, kValueWidth});
  head.Add({"id", r.value("id", "")});
  head.Add({"kind", r.value("kind", "")});
  head.Add({"owner", ValueText(r.value("owner", json()))});
  head.Add({"deleted", r.value("deleted", false) ? "yes" : "no"});
  if (r.contains("last_change") && r["last_change"].is_object()) {
    const json& lc = r["last_change"];
    head.Add({"changed", ShortTime(lc.value("at", "")) + " UTC by " + lc.value("by", "")});
  }
  if (r.contains("conflicts") && r["conflicts"].is_array() && !r["conflicts"].empty()) {
    std::string list;
    for (const auto& c : r["conflicts"]) {
      list += (list.empty() ? "" : ", ") + c.value("field", "") + " (" + c.value("kind", "") + ")";
    }
    head.Add({"conflicts", list});
  }
  std::ostringstream text;
  head.Print(text);
  // The header row of a two-column key/value table is empty: drop that first line.
  std::string s = text.str();
  std::cout << s.substr(s.find('\n') + 1) << "\n";

  Table fields({"FIELD", "VALUE", "CHANGED (UTC)"}, {30, 0, 0});
  const json& fs = r.contains("fields") && r["fields"].is_object() ? r["fields"] : json::object();
  auto add = [&](const std::string& name, const json& f) {
    bool empty = !f.is_object() || f.value("value", json()).is_null() ||
                 (f["value"].is_array() && f["value"].empty());
    if (empty && !f.value("pending", false) && !f.value("conflict", false)) return;
    std::string changed;
    if (f.contains("changed_at")) {
      changed = ShortTime(f.value("changed_at", "")) + " by " + ShortId(f.value("changed_by", ""));
    }
    fields.Add({name, FieldText(f, kValueWidth), changed});
  };
  if (fs.contains("name")) add("name", fs["name"]);
  for (const auto& [name, f] : fs.items()) {
    if (name != "name") add(name, f);
  }
  if (fields.size() == 0) {
    std::cout << "(no fields set)\n";
  } else {
    fields.Print(std::cout);
  }
  return Status::Ok();
}

// --- list ---

Status List(const DirArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, Connect(a));
  int limit = a.limit > 0 ? a.limit : (a.all ? 1000 : 0);
  std::string cursor = a.cursor;
  json records = json::array();
  json next = nullptr;
  for (;;) {
    std::string path = WithQuery("/v1/records", {{"kind", a.kind},
                                                 {"q", a.q},
                                                 {"limit", limit ? std::to_string(limit) : ""},
                                                 {"cursor", cursor},
                                                 {"deleted", a.deleted ? "true" : ""}});
    ASSIGN_OR_RETURN(json page, client.Call("GET", path));
    if (a.json && !a.all) {
      PrintJson(page);
      return Status::Ok();
    }
    if (page.contains("records") && page["records"].is_array()) {
      for (auto& r : page["records"]) records.push_back(std::move(r));
    }
    next = page.value("next_cursor", json());
    if (!a.all || !next.is_string() || next.get<std::string>().empty()) break;
    cursor = next.get<std::string>();
  }
  if (a.json) {
    PrintJson({{"records", records}, {"next_cursor", nullptr}});
    return Status::Ok();
  }
  if (records.empty()) {
    std::cout << "no records" << (a.kind.empty() && a.q.empty() ? "" : " match") << "\n";
  } else {
    Table t({"ID", "KIND", "NAME", "OWNER", "CONFLICTS"}, {40, 20, 40, 0, 0});
    for (const auto& r : records) {
      std::string name = r.value("name", "");
      if (r.value("deleted", false)) name = "[deleted] " + name;
      size_t conflicts = r.value("conflicts", size_t{0});
      t.Add({r.value("id", ""), r.value("kind", ""), name,
             ShortId(ValueText(r.value("owner", json()))),
             conflicts ? std::to_string(conflicts) : ""});
    }
    t.Print(std::cout);
  }
  if (next.is_string() && !next.get<std::string>().empty()) {
    std::cout << "next: --cursor " << Clean(next.get<std::string>()) << "\n";
  }
  return Status::Ok();
}

// --- set ---

Status Set(const DirArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, Connect(a));
  std::string kind = a.kind;
  if (kind.empty()) {
    Result<json> existing = client.Call("GET", RecordPath(a.id));
    if (!existing.ok() && existing.status().code() == Code::kNotFound) {
      std::string kinds;
      for (const auto& k : FieldSchema::Hsds().KindNames())
        kinds += (kinds.empty() ? "" : ", ") + k;
      return Status::NotFound("no record " + a.id + "; to create it, give its kind with --kind (" +
                              kinds + ")");
    }
    if (!existing.ok()) return existing.status();
    kind = existing->value("kind", "");
  }
  json fields = json::object();
  for (const std::string& arg : a.assignments) {
    ASSIGN_OR_RETURN(auto fv, SplitAssignment(arg));
    const FieldSpec* spec = FieldSchema::Hsds().Field(kind, fv.first);
    ASSIGN_OR_RETURN(fields[fv.first], ParseFieldValue(spec, fv.first, fv.second));
  }
  json body = {{"fields", fields}};
  if (!a.kind.empty()) body["kind"] = a.kind;
  ASSIGN_OR_RETURN(json reply, client.Call("PUT", RecordPath(a.id), body));
  if (a.json) {
    PrintJson(reply);
    return Status::Ok();
  }
  std::string op = reply.value("op", "");
  std::cout << PastTense(op) << " " << Clean(kind) << " " << Clean(a.id);
  if (op != "unchanged" && reply.contains("changed")) std::cout << ": " << Joined(reply["changed"]);
  std::cout << "\n";
  // Say which of the changes a maintainer must still approve before others see them (a
  // maintainer's own are published by the broker as it takes them; a stand-alone agent has no
  // one to show them to).
  std::string role = reply.value("role", "partner");
  if (role == "standalone") return Status::Ok();
  const json& rf =
      reply.contains("record") ? reply["record"].value("fields", json::object()) : json::object();
  for (const auto& name : reply.value("changed", json::array())) {
    if (!name.is_string() || !rf.contains(name.get<std::string>())) continue;
    const json& f = rf[name.get<std::string>()];
    if (f.is_object() && f.value("pending", false) && role == "maintainer") {
      std::cout << "  " << Clean(name.get<std::string>())
                << ": published as the broker takes it (a maintainer's own edit needs no "
                   "review)\n";
    } else if (f.is_object() && f.value("pending", false)) {
      json published = f.value("published", json());
      std::cout << "  " << Clean(name.get<std::string>())
                << ": waits for a maintainer's review; until then others see "
                << (published.is_null() ? "no value"
                                        : "'" + Truncate(ValueText(published), 40) + "'")
                << "\n";
    }
  }
  return Status::Ok();
}

// --- delete, restore ---

Status DeleteOrRestore(const DirArgs& a, bool restore) {
  ASSIGN_OR_RETURN(AgentClient client, Connect(a));
  ASSIGN_OR_RETURN(json reply, restore ? client.Call("POST", RecordPath(a.id) + "/restore")
                                       : client.Call("DELETE", RecordPath(a.id)));
  if (a.json) {
    PrintJson(reply);
    return Status::Ok();
  }
  std::string op = reply.value("op", "");
  if (op == "unchanged") {
    std::cout << "unchanged " << Clean(a.id) << ": it was "
              << (restore ? "not deleted" : "already deleted") << "\n";
  } else {
    std::cout << PastTense(op) << " " << Clean(a.id) << "\n";
  }
  return Status::Ok();
}

// --- history ---

Status History(const DirArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, Connect(a));
  ASSIGN_OR_RETURN(json reply, client.Call("GET", RecordPath(a.id) + "/history"));
  if (a.json) {
    PrintJson(reply);
    return Status::Ok();
  }
  Table t({"WHEN (UTC)", "BY", "ACTOR", "OP", "FIELDS"}, {0, 0, 20, 0, kValueWidth});
  for (const auto& e : reply.value("history", json::array())) {
    t.Add({ShortTime(e.value("at", "")), ShortId(e.value("by", "")), e.value("actor", ""),
           e.value("op", ""), Joined(e.value("fields", json::array()))});
  }
  if (t.size() == 0) {
    std::cout << "no history for " << Clean(a.id) << "\n";
  } else {
    t.Print(std::cout);
  }
  return Status::Ok();
}

// --- import ---

std::string HumanBytes(size_t n) {
  char buf[32];
  if (n < 1024)
    std::snprintf(buf, sizeof buf, "%zu B", n);
  else if (n < (1 << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", n / 1048576.0);
  return buf;
}

// One status line on stderr, redrawn in place; only when stderr is a terminal.
class Progress {
 public:
  Progress() : on_(::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool on() const { return on_; }
  void Show(const std::string& text) {
    if (!on_) return;
    std::cerr << "\r\033[K" << text << std::flush;
    shown_ = true;
  }
  void Bar(const std::string& label, size_t done, size_t total) {
    int pct = total ? static_cast<int>(done * 100 / total) : 100;
    if (pct == last_pct_) return;
    last_pct_ = pct;
    constexpr int kWidth = 30;
    std::string bar(pct * kWidth / 100, '#');
    bar.resize(kWidth, '.');
    Show(label + " [" + bar + "] " + std::to_string(pct) + "% of " + HumanBytes(total));
  }
  void Clear() {
    if (on_ && shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
  int last_pct_ = -1;
};

Result<std::string> ReadInput(const std::string& file) {
  std::ostringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
    if (std::cin.bad()) return Status::IoError("cannot read standard input");
    return ss.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + file + ": " + std::strerror(errno));
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + file);
  return ss.str();
}

// The problems an import refusal lists, one "  where (id): error" line each.
std::string ProblemLines(const json& error) {
  std::string out;
  if (!error.is_object() || !error.contains("problems") || !error["problems"].is_array()) {
    return out;
  }
  for (const auto& p : error["problems"]) {
    out += "\n  " + Clean(p.value("where", ""));
    std::string id = p.value("record", "");
    if (!id.empty()) out += " (" + Clean(id) + ")";
    out += ": " + Clean(p.value("error", ""));
  }
  return out;
}

// The problems of an import with --skip-invalid, one JSON object a line.
Status WriteReport(const std::string& file, const json& problems) {
  std::string text;
  for (const json& p : problems) text += DumpJson(p) + "\n";
  return WriteFileAtomic(file, text);
}

// A folder or a zip archive: the tabular form (agents/hsds_tabular.h), else a JSON document.
bool IsTabular(const std::string& file) {
  if (file == "-") return false;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) return true;
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' &&
         ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
}

Status Import(const DirArgs& a) {
  auto start = std::chrono::steady_clock::now();
  std::string name = a.file == "-" ? "standard input" : a.file;
  const bool tabular = IsTabular(a.file);
  Progress progress;
  progress.Show("reading " + name + "…");
  // A folder is sent zipped, its files as they are (its links and size refused here): the
  // agent reads and checks them.
  Result<std::string> input = tabular ? PackTabular(a.file) : ReadInput(a.file);
  if (!input.ok()) {
    return tabular ? input.status().WithContext("nothing was imported") : input.status();
  }
  std::string body = std::move(input).value();
  progress.Show("validating " + HumanBytes(body.size()) + "…");
  size_t records = 0;
  if (tabular && progress.on()) {
    // As for JSON: the record count while waiting, at a terminal only.
    HsdsImportOptions options;
    options.skip_invalid = a.skip_invalid;
    auto imported = ImportTabular(FieldSchema::Hsds(), a.file, options);
    if (!imported.ok()) return imported.status().WithContext("nothing was imported");
    records = imported->problems.empty() ? imported->edits.size() : imported->objects;
  } else if (!tabular) {
    Result<json> parsed = ParseJson(body, name, JsonLimits{body.size(), 64});
    if (!parsed.ok()) return parsed.status().WithContext("nothing was imported");
    json doc = std::move(parsed).value();
    // The agent decides; checking here too lets the user at a terminal see the record count
    // while waiting (scripts do not wait for it: the check is half the time of a big import).
    if (progress.on()) {
      HsdsImportOptions options;
      options.skip_invalid = a.skip_invalid;
      auto imported = ImportHsdsJson(FieldSchema::Hsds(), doc, options);
      records = !imported.ok()               ? CountHsds(doc).second
                : imported->problems.empty() ? imported->edits.size()
                                             : imported->objects;
    }
  }
  ASSIGN_OR_RETURN(AgentClient client, Connect(a, 120));
  AgentClient::UploadProgress on_upload;
  if (progress.on()) {
    on_upload = [&](size_t sent, size_t total) {
      progress.Bar("uploading " + std::to_string(records) + " records", sent, total);
      if (sent == total) {
        progress.Show("the agent is checking and applying " + std::to_string(records) +
                      " records…");
      }
    };
  }
  std::string path = "/v1/import";
  if (a.skip_invalid) path += "?skip_invalid=1";
  if (tabular) path += a.skip_invalid ? "&format=tabular" : "?format=tabular";
  ASSIGN_OR_RETURN(HttpReply reply, client.Send("POST", path, body, on_upload,
                                                tabular ? "application/zip" : "application/json"));
  progress.Clear();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  json out = ParseStoredJson(reply.body, kReplyLimits);
  if (!a.report.empty() && out.is_object()) {
    const json& where = reply.status == 200 ? out : out.value("error", json::object());
    if (where.is_object() && where.contains("problems")) {
      RETURN_IF_ERROR(WriteReport(a.report, where["problems"]));
    }
  }
  if (a.json && !out.is_discarded()) PrintJson(out);
  if (reply.status != 200) {
    Status s = client.ErrorOf(reply);
    std::string message = s.message();
    std::string lines;
    if (!a.json && out.is_object() && out.contains("error")) lines = ProblemLines(out["error"]);
    const std::string suffix = "; nothing was imported";
    bool said = message.find("nothing was imported") != std::string::npos;
    if (!lines.empty() && said && message.ends_with(suffix)) {
      message = message.substr(0, message.size() - suffix.size()) + ":" + lines +
                "\nnothing was imported";
    } else {
      message += lines + (said ? "" : (lines.empty() ? suffix : "\nnothing was imported"));
    }
    return Status(s.code(), message);
  }
  if (a.json) return Status::Ok();
  if (out.is_discarded()) return Status::Corruption("the agent's reply is not JSON");
  char took[64];
  size_t imported = out.value("records", size_t{0});
  std::snprintf(took, sizeof took, "%.2f s (%.0f records/s)", secs,
                secs > 0 ? static_cast<double>(imported) / secs : 0.0);
  std::cout << "imported " << imported << " records: " << out.value("created", size_t{0})
            << " created, " << out.value("updated", size_t{0}) << " updated, "
            << out.value("unchanged", size_t{0}) << " unchanged in " << took << "\n";
  if (size_t skipped = out.value("skipped", size_t{0}); skipped > 0) {
    std::cout << "skipped " << skipped << " invalid object(s)"
              << (a.report.empty() ? ":" + ProblemLines(out) : "; see " + a.report) << "\n";
  }
  return Status::Ok();
}

// --- export ---

// The agent's tabular export (a zip): written as it came to --out FILE.zip, else unpacked into
// the folder --out (which must not exist or be empty), read and written again so that it holds
// exactly the package's files.
Status WriteTabularExport(const DirArgs& a, const std::string& zip) {
  std::vector<ImportProblem> problems;
  ASSIGN_OR_RETURN(std::vector<HsdsObject> objects, ReadTabularZip(zip, &problems));
  if (!problems.empty()) {
    return Status::Corruption("the agent's tabular export does not read back: " +
                              problems[0].where + ": " + problems[0].error);
  }
  if (a.out.size() > 4 && a.out.compare(a.out.size() - 4, 4, ".zip") == 0) {
    RETURN_IF_ERROR(WriteFileAtomic(a.out, zip));
  } else {
    RETURN_IF_ERROR(WriteTabular(objects, a.out));
  }
  std::map<std::string, size_t> by_kind;
  for (const HsdsObject& o : objects) by_kind[o.kind]++;
  if (a.json) {
    PrintJson({{"out", a.out}, {"objects", objects.size()}, {"tables", by_kind}});
  } else {
    std::cerr << "exported " << objects.size() << " objects in " << by_kind.size()
              << " tables (CSV + datapackage.json) to " << a.out << "\n";
  }
  return Status::Ok();
}

Status Export(const DirArgs& a) {
  if (a.format == "tabular" && (a.out.empty() || a.out == "-")) {
    return Status::InvalidArgument("--format tabular writes files: give --out FOLDER or FILE.zip");
  }
  ASSIGN_OR_RETURN(AgentClient client, Connect(a, 120));
  ASSIGN_OR_RETURN(HttpReply reply, client.Send("GET", "/v1/export?view=" + UrlEncode(a.view) +
                                                           "&format=" + UrlEncode(a.format)));
  if (reply.status != 200) return client.ErrorOf(reply);
  if (a.format == "tabular") return WriteTabularExport(a, reply.body);
  if (a.out.empty() || a.out == "-") {
    std::cout << reply.body << std::flush;
    if (!std::cout) return Status::IoError("cannot write to standard output");
    return Status::Ok();
  }
  RETURN_IF_ERROR(WriteFileAtomic(a.out, reply.body));
  json doc = ParseStoredJson(reply.body, kReplyLimits);
  if (a.format == "compiled") {
    size_t n = doc.is_array() ? doc.size() : 0;
    if (a.json) {
      PrintJson({{"file", a.out}, {"view", a.view}, {"objects", n}});
    } else {
      std::cerr << "exported " << n << " compiled " << a.view << " objects to " << a.out << "\n";
    }
    return Status::Ok();
  }
  auto [orgs, records] = CountHsds(doc);
  if (a.json) {
    PrintJson({{"file", a.out}, {"organizations", orgs}, {"records", records}});
  } else {
    std::cerr << "exported " << orgs << " organizations (" << records << " records) to " << a.out
              << "\n";
  }
  return Status::Ok();
}

// --- wiring ---

CLI::App* AddSub(CLI::App* dir, const std::string& name, const std::string& help,
                 const std::shared_ptr<DirArgs>& args, int& exit_code,
                 std::function<Status(const DirArgs&)> run) {
  CLI::App* cmd = dir->add_subcommand(name, help);
  cmd->add_option("--data", args->data, "the agent's data directory")->required();
  cmd->add_flag("--json", args->json, "print the agent's JSON instead of a table");
  cmd->callback([args, &exit_code, name, run] {
    Status s = run(*args);
    std::cout << std::flush;
    if (!s.ok()) {
      std::cerr << "switchboard dir " << name << ": " << s.message() << "\n";
      exit_code = 1;
    } else {
      exit_code = 0;
    }
  });
  return cmd;
}

}  // namespace

void AddDirCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DirArgs>();
  CLI::App* dir = app.add_subcommand(
      "dir", "Read and edit the directory through the running agent of --data DIR");
  dir->require_subcommand(1);
  AddDirKindsCommand(*dir, exit_code);

  CLI::App* get = AddSub(dir, "get", "Show one record: every field, pending reviews, conflicts",
                         args, exit_code, Get);
  get->add_option("ID", args->id, "record id")->required();

  CLI::App* list = AddSub(dir, "list", "List records (50 at a time unless --limit or --all)", args,
                          exit_code, List);
  list->add_option("--kind", args->kind, "only records of this kind (organization, service, ...)");
  list->add_option("--q", args->q, "only records whose text contains this (any case)");
  list->add_option("--limit", args->limit, "records per page, 1 to 1000")
      ->check(CLI::Range(1, 1000));
  list->add_option("--cursor", args->cursor, "continue after this id (from \"next: --cursor\")");
  list->add_flag("--all", args->all, "follow the cursor to the end");
  list->add_flag("--deleted", args->deleted, "include deleted records");

  CLI::App* set = AddSub(dir, "set",
                         "Create or change a record: FIELD=VALUE (integers, true/false, "
                         "comma-separated lists for sets; FIELD= clears)",
                         args, exit_code, Set);
  set->add_option("--kind", args->kind, "the record's kind; required to create one");
  set->add_option("ID", args->id, "record id (a lowercase UUID)")->required();
  set->add_option("FIELDS", args->assignments, "fields to set")
      ->type_name("FIELD=VALUE")
      ->required()
      ->check(CLI::Validator(
          [](std::string& s) {
            Result<std::pair<std::string, std::string>> r = SplitAssignment(s);
            return r.ok() ? std::string() : r.status().message();
          },
          ""));

  CLI::App* del = AddSub(
      dir, "delete", "Delete a record; its values are cleared (restore revives the record, empty)",
      args, exit_code, [](const DirArgs& a) { return DeleteOrRestore(a, false); });
  del->add_option("ID", args->id, "record id")->required();
  CLI::App* restore = AddSub(dir, "restore", "Restore a deleted record", args, exit_code,
                             [](const DirArgs& a) { return DeleteOrRestore(a, true); });
  restore->add_option("ID", args->id, "record id")->required();

  CLI::App* history = AddSub(dir, "history", "Show who changed a record, when and which fields",
                             args, exit_code, History);
  history->add_option("ID", args->id, "record id")->required();

  CLI::App* import = AddSub(dir, "import",
                            "Import HSDS 3.0 JSON (a compiled organization, service or "
                            "service_at_location, taxonomies and terms, a list of them, an API "
                            "Page or a list of Pages, or a Switchboard export), or the tabular "
                            "form (a folder or .zip of CSV files): every record or none",
                            args, exit_code, Import);
  import
      ->add_option("FILE", args->file,
                   "the document, or - for standard input; a folder or a .zip holding the "
                   "tabular form (CSV files, with or without datapackage.json)")
      ->required();
  import->add_flag("--skip-invalid", args->skip_invalid,
                   "import the valid records and report the others (a record whose parent is "
                   "invalid is skipped too)");
  import->add_option(
      "--report", args->report,
      "write the problems found to FILE, one JSON object a line {where, record, error}");

  CLI::App* exp = AddSub(dir, "export",
                         "Write the directory as HSDS 3.0 JSON (or, --format tabular, as CSV "
                         "files and a datapackage.json): an array of compiled objects "
                         "(schema/compiled/*.json) with what this agent may show others "
                         "(published values of vetted organizations; its own records and, on a "
                         "maintainer's agent, all as proposed). An object missing a value HSDS "
                         "requires (a phone whose number is not published) is left out; the "
                         "agent's log names each",
                         args, exit_code, Export);
  exp->add_option("--out", args->out,
                  "file to write (default: standard output); with --format tabular a new (or "
                  "empty) folder, or FILE.zip");
  exp->add_option("--view", args->view,
                  "compiled organizations (organization), services with their organization "
                  "and program embedded (service), or service_at_location")
      ->check(CLI::IsMember({"organization", "service", "service_at_location"}))
      ->capture_default_str();
  exp->add_option("--format", args->format,
                  "compiled, or envelope: the older {\"hsds_version\", \"organizations\": [...]} "
                  "document (displayed values, no derived objects), or tabular: one CSV file "
                  "per HSDS object kind and a datapackage.json, into the folder --out (new or "
                  "empty) or the zip --out FILE.zip")
      ->check(CLI::IsMember({"compiled", "envelope", "tabular"}))
      ->capture_default_str();
}

}  // namespace sb::cli

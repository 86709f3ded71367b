#include "demo/demo_network.h"

#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "testing/free_port.h"
#include "testing/process.h"

namespace sb::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A step that did not work out: the demo stops, says why and keeps the logs.
struct DemoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(const std::string& why) {
  throw DemoError(why);
}

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string Took(double ms) {
  char buf[32];
  if (ms < 10)
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  return buf;
}

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Quote(const json& v) {
  if (v.is_string()) return "\"" + v.get<std::string>() + "\"";
  return v.dump();
}

std::string ReadAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& file, size_t lines) {
  std::string all = ReadAll(file);
  size_t pos = all.size();
  for (size_t n = 0; pos > 0 && n <= lines; --pos) {
    if (all[pos - 1] == '\n') ++n;
  }
  return all.substr(pos);
}

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
int FreePort() {
  Result<int> port = testing::FreePort();
  if (!port.ok()) Fail("cannot find a free port on 127.0.0.1: " + port.status().ToString());
  return *port;
}

// Polls `cond` every few milliseconds until it holds or `seconds` pass.
bool WaitUntil(const std::function<bool()>& cond, double seconds) {
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (cond()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

// Runs `args` with stdout and stderr appended to `log`. The child dies with the demo.
testing::Process Spawn(const std::vector<std::string>& args, const std::string& log) {
  testing::SpawnOptions options;
  options.args = args;
  options.output_file = log;
  options.output_mode = 0600;
  Result<testing::Process> child = testing::Process::Spawn(options);
  if (!child.ok()) Fail("cannot start " + args.front() + ": " + child.status().ToString());
  return std::move(child).value();
}

// Runs a short command to completion; its output goes to `log`.
void RunToExit(const std::vector<std::string>& args, const std::string& log) {
  if (!Spawn(args, log).Wait().success()) {
    std::string cmd;
    for (size_t i = 1; i < args.size(); ++i) cmd += (i > 1 ? " " : "") + args[i];
    Fail("'switchboard " + cmd + "' failed; its output:\n" + Tail(log, 10));
  }
}

struct Reply {
  int status = 0;  // 0: no HTTP reply
  json body;
  std::string error;
  std::string Describe() const {
    return status == 0 ? "no reply (" + error + ")"
                       : "HTTP " + std::to_string(status) + " " + body.dump();
  }
};

// One process of the demo network.
struct Node {
  std::string name;  // "broker", "maintainer", "partner 1"...
  std::string org, org_name;
  std::string dir, log;
  bool is_broker = false;
  std::vector<std::string> args;  // how to start it
  std::optional<testing::Process> process;
  std::string host;
  int port = 0;
  std::string token;
  std::string replica;  // the agent's replica id (hex)

  pid_t pid() const { return process ? process->pid() : -1; }  // -1 once reaped

  // One request on a fresh connection (so several threads may call at once).
  Reply Call(const std::string& method, const std::string& path,
             const std::string& body = "") const {
    httplib::Client http(host, port);
    http.set_connection_timeout(2, 0);
    http.set_read_timeout(60, 0);
    http.set_write_timeout(60, 0);
    httplib::Headers headers = {{"Authorization", "Bearer " + token}};
    httplib::Result res = method == "GET"   ? http.Get(path, headers)
                          : method == "PUT" ? http.Put(path, headers, body, "application/json")
                                            : http.Post(path, headers, body, "application/json");
    Reply r;
    if (!res) {
      r.error = httplib::to_string(res.error());
      return r;
    }
    r.status = res->status;
    r.body = json::parse(res->body, nullptr, false);
    return r;
  }
  // The reply's body, or a failure naming the call.
  json Must(const std::string& method, const std::string& path,
            const std::string& body = "") const {
    Reply r = Call(method, path, body);
    if (r.status != 200) Fail(name + ": " + method + " " + path + ": " + r.Describe());
    return r.body;
  }
  json Status() const { return Must("GET", "/v1/status"); }
  json Record(const std::string& id) const { return Must("GET", "/v1/records/" + id); }
  json Put(const std::string& id, const json& body) const {
    return Must("PUT", "/v1/records/" + id, body.dump());
  }
};

// The displayed value of `field` in a GET /v1/records/{id} reply (null when absent).
json FieldOf(const json& record, const std::string& field) {
  if (!record.contains("fields") || !record["fields"].contains(field)) return nullptr;
  return record["fields"][field].value("value", json(nullptr));
}

// id -> field -> value, from an HSDS export; "@parent" is the record it is nested in.
using Flat = std::map<std::string, std::map<std::string, json>>;

void Flatten(const json& j, const std::string& parent, Flat* out) {
  if (j.is_array()) {
    for (const auto& e : j) Flatten(e, parent, out);
    return;
  }
  if (!j.is_object()) return;
  std::string id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "";
  std::map<std::string, json>* rec = id.empty() ? nullptr : &(*out)[id];
  if (rec) (*rec)["@parent"] = parent;
  for (const auto& [k, v] : j.items()) {
    if (k == "metadata") continue;  // derived from each reader's view of the history
    if ((v.is_array() && !v.empty() && v[0].is_object()) || (v.is_object() && v.contains("id"))) {
      // Nested objects (HSDS's compiled shape embeds one object in several places: the same
      // values everywhere, so a later copy only repeats them).
      Flatten(v, id.empty() ? parent : id, out);
    } else if (rec && k != "id") {
      (*rec)[k] = v;
    }
  }
}

bool IsConfidentialField(const std::string& f) {
  return f == "address_1" || f == "address_2" || f == "postal_code" || f == "latitude" ||
         f == "longitude";
}

class Demo {
 public:
  Demo(const NetworkDemoOptions& o, std::ostream& out) : options_(o), out_(out) {}

  bool Run() {
    auto started = Clock::now();
    bool ok = false;
    try {
      Setup();
      EditPropagates();
      ConcurrentConflict();
      OfflineCatchUp();
      CrossOrgRefused();
      ConfidentialAddress();
      ReferralHandoff();
      MaintainerApproval();
      HsdsApi();
      ok = ConvergenceCheck();
    } catch (const DemoError& e) {
      out_ << "\n  FAILED: " << e.what() << "\n";
    } catch (const std::exception& e) {
      out_ << "\n  FAILED: unexpected error: " << e.what() << "\n";
    }
    ok = Shutdown(ok) && ok;
    out_ << "\nnetwork demo " << (ok ? "succeeded" : "FAILED") << " in " << Took(MsSince(started))
         << "\n";
    return ok;
  }

 private:
  // ---------- output ----------
  void Title(const std::string& t) { out_ << "\n" << t << "\n"; }
  void Say(const std::string& line) { out_ << "  " << line << "\n" << std::flush; }
  std::string ByReplica(const std::string& replica) const {
    for (const Node* n : Agents()) {
      if (n->replica == replica) return n->name;
    }
    return "replica " + replica;
  }

  // ---------- processes ----------
  std::vector<Node*> Agents() const {
    return {const_cast<Node*>(&maintainer_), const_cast<Node*>(&partners_[0]),
            const_cast<Node*>(&partners_[1]), const_cast<Node*>(&partners_[2])};
  }
  std::vector<Node*> All() const {
    std::vector<Node*> all = {const_cast<Node*>(&broker_)};
    for (Node* a : Agents()) all.push_back(a);
    return all;
  }

  // Starts `n` and waits until its runtime file names the child and /healthz answers.
  void Start(Node& n) {
    n.process = Spawn(n.args, n.log);
    std::string runtime = n.dir + (n.is_broker ? "/broker.json" : "/agent.json");
    std::string api;
    bool exited = false;
    bool ready = WaitUntil(
        [&] {
          if (!n.process->running()) return exited = true;
          json j = json::parse(ReadAll(runtime), nullptr, false);
          if (!j.is_object() || j.value("pid", -1L) != static_cast<long>(n.pid()) ||
              !j.contains("api") || !j["api"].is_string()) {
            return false;
          }
          api = j["api"].get<std::string>();
          return true;
        },
        15);
    if (exited) {
      Fail(n.name + " exited during start-up; its log:\n" + Tail(n.log, 10));
    }
    if (!ready) Fail(n.name + " did not write " + runtime + " in time; log:\n" + Tail(n.log, 10));
    size_t colon = api.rfind(':');
    n.host = api.substr(0, colon);
    n.port = std::atoi(api.c_str() + colon + 1);
    std::string token = ReadAll(n.dir + "/api.token");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    n.token = token;
    httplib::Client probe(n.host, n.port);
    probe.set_connection_timeout(1, 0);
    if (!WaitUntil(
            [&] {
              auto r = probe.Get("/healthz");
              return r && r->status == 200;
            },
            10)) {
      Fail(n.name + " does not answer /healthz; log:\n" + Tail(n.log, 10));
    }
  }

  // SIGTERM, then waits (up to 10 s, then SIGKILL). True on a clean exit.
  static bool StopAndWait(std::vector<Node*> nodes) {
    for (Node* n : nodes) {
      if (n->pid() > 0) n->process->Signal(SIGTERM);
    }
    bool clean = true;
    for (Node* n : nodes) {
      if (n->pid() <= 0) continue;
      Result<testing::ExitStatus> status = n->process->Wait(std::chrono::seconds(10));
      if (!status.ok()) n->process->Kill();
      clean = clean && status.ok() && status->success();
    }
    return clean;
  }

  // Waits until every agent in `agents` is connected, has pushed its outbox and has applied
  // the broker's whole log. Returns the broker's log head then.
  uint64_t WaitSynced(const std::vector<Node*>& agents, double seconds, const std::string& what) {
    uint64_t head = 0;
    bool ok = WaitUntil(
        [&] {
          std::vector<uint64_t> cursors;
          for (const Node* a : agents) {
            Reply r = a->Call("GET", "/v1/status");
            if (r.status != 200) return false;
            const json& s = r.body;
            if (s.value("outbox_depth", 1) != 0 || !s["sync"].is_object() ||
                s["sync"].value("state", "") != "ready") {
              return false;
            }
            cursors.push_back(s.value("cursor", 0ULL));
          }
          Reply b = broker_.Call("GET", "/v1/status");
          if (b.status != 200) return false;
          head = b.body.value("log_head", 0ULL);
          for (uint64_t c : cursors) {
            if (c != head) return false;
          }
          return true;
        },
        seconds);
    if (!ok) {
      std::string state;
      for (const Node* a : agents) {
        Reply r = a->Call("GET", "/v1/status");
        state += "\n    " + a->name + ": " + r.Describe();
      }
      state += "\n    broker: " + broker_.Call("GET", "/v1/status").Describe();
      Fail(what + ": the agents did not catch up within " + Took(seconds * 1000) + state);
    }
    return head;
  }

  // ---------- the steps ----------
  std::string FindSample() {
    if (!options_.sample.empty()) return options_.sample;
    std::vector<fs::path> roots = {fs::current_path()};
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) roots.push_back(exe.parent_path().parent_path().parent_path());  // build/cli/..
    for (const fs::path& r : roots) {
      fs::path f = r / "examples/data/directory.json";
      if (fs::exists(f)) return f.string();
    }
    for (const fs::path& r : roots) {
      fs::path gen = r / "examples/data/generate.py";
      if (!fs::exists(gen)) continue;
      std::string file = tmp_ + "/directory.json";
      Say("generating the sample directory: python3 " + gen.string() + " --out " + file);
      RunToExit({"/usr/bin/env", "python3", gen.string(), "--out", file, "--quiet"},
                tmp_ + "/setup.log");
      return file;
    }
    Fail(
        "no sample data: run from the repository root (examples/data/directory.json or "
        "examples/data/generate.py)");
  }

  void Setup() {
    char tmpl[] = "/tmp/switchboard-demo-XXXXXX";
    if (!::mkdtemp(tmpl)) Fail("cannot create a temporary directory");
    tmp_ = tmpl;
    exe_ = options_.executable;
    if (exe_.empty()) {
      std::error_code ec;
      exe_ = fs::read_symlink("/proc/self/exe", ec).string();
      if (ec) exe_ = "/proc/self/exe";
    }
    out_ << "Switchboard demo: a broker and four agents as real processes on 127.0.0.1\n"
         << "  working directory " << tmp_ << " (keys, databases and a log per process)\n";

    // Sample data, and the three partner organizations.
    sample_file_ = FindSample();
    sample_ = ReadAll(sample_file_);
    json doc = json::parse(sample_, nullptr, false);
    // HSDS 3.0 compiled organizations (a JSON array), or the first release's envelope.
    json organizations = doc.is_array() ? doc : json::array();
    if (doc.is_object() && doc.contains("organizations")) organizations = doc["organizations"];
    if (organizations.size() < 3) {
      Fail(sample_file_ + " is not an HSDS document with at least three organizations");
    }
    // Partner 1 runs a shelter (it has a live bed count); partners 2 and 3 are the first
    // other organizations in the file.
    std::vector<const json*> chosen;
    for (const json& o : organizations) {
      for (const json& s : o.value("services", json::array())) {
        // The bed count: HSDS 3.1's capacities[] (unit Bed), or the envelope's field.
        const json* available = nullptr;
        if (s.contains("capacity_beds_available")) available = &s["capacity_beds_available"];
        if (s.contains("capacities") && s["capacities"].is_array()) {
          for (const json& c : s["capacities"]) {
            if (c.is_object() && c.value("unit", "") == "Bed" && c.contains("available"))
              available = &c["available"];
          }
        }
        if (available && available->is_number_integer()) {
          chosen.push_back(&o);
          service_id_ = s["id"].get<std::string>();
          service_name_ = s.value("name", "");
          beds_ = available->get<int64_t>();
          break;
        }
      }
      if (!chosen.empty()) break;
    }
    if (chosen.empty()) Fail(sample_file_ + " has no service with a bed count");
    for (const json& o : organizations) {
      if (chosen.size() == 3) break;
      if (&o != chosen[0]) chosen.push_back(&o);
    }
    size_t orgs = organizations.size();
    std::vector<std::pair<std::string, std::string>> partner_orgs;  // id, name
    for (const json* o : chosen)
      partner_orgs.emplace_back((*o)["id"].get<std::string>(), o->value("name", ""));
    chosen.clear();
    doc = json();  // free them
    organizations = json();

    auto agent_node = [&](Node& n, const std::string& name, const std::string& dir_name,
                          const std::string& org, const std::string& org_name) {
      n.name = name;
      n.org = org;
      n.org_name = org_name;
      n.dir = tmp_ + "/" + dir_name;
      n.log = tmp_ + "/" + dir_name + ".log";
    };
    agent_node(broker_, "broker", "broker", NewUuid(), "network coordinator");
    broker_.is_broker = true;
    agent_node(maintainer_, "maintainer", "maintainer", NewUuid(), "network coordination desk");
    for (int i = 0; i < 3; ++i) {
      agent_node(partners_[i], "partner " + std::to_string(i + 1),
                 "partner-" + std::to_string(i + 1), partner_orgs[i].first, partner_orgs[i].second);
    }

    Title("Setting up the network");
    auto t = Clock::now();
    std::string setup_log = tmp_ + "/setup.log";
    RunToExit({exe_, "init", "--broker", "--data", broker_.dir, "--org", broker_.org}, setup_log);
    for (Node* a : Agents())
      RunToExit({exe_, "init", "--data", a->dir, "--org", a->org}, setup_log);
    Say("switchboard init: keys and API tokens for the broker and 4 agents (" + Took(MsSince(t)) +
        ")");
    Say("maintainer  org " + maintainer_.org + "  (" + maintainer_.org_name + ")");
    for (const Node& p : partners_) Say(p.name + "   org " + p.org + "  " + p.org_name);

    // The broker, on a port found free a moment ago (retried if someone took it meanwhile).
    t = Clock::now();
    for (int attempt = 1;; ++attempt) {
      listen_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
      broker_.args = {exe_,    "broker", "--data",      broker_.dir, "--listen",
                      listen_, "--api",  "127.0.0.1:0", "--console", "0"};
      try {
        Start(broker_);
        break;
      } catch (const DemoError&) {
        if (attempt == 3) throw;
      }
    }
    Say("broker      sync on " + listen_ + " (ZeroMQ, CURVE), API on " + broker_.host + ":" +
        std::to_string(broker_.port) + " (" + Took(MsSince(t)) + ")");

    t = Clock::now();
    RunToExit({exe_, "enroll", "add", "--data", broker_.dir, "--role", "maintainer", "--key",
               maintainer_.dir + "/identity.pub"},
              setup_log);
    for (const Node& p : partners_) {
      RunToExit({exe_, "enroll", "add", "--data", broker_.dir, "--role", "partner", "--key",
                 p.dir + "/identity.pub"},
                setup_log);
    }
    Say("switchboard enroll add: the maintainer, and each partner bound to its organization (" +
        Took(MsSince(t)) + ")");

    t = Clock::now();
    for (Node* a : Agents()) {
      a->args = {
          exe_,          "agent",    "--data", a->dir,         "--api",
          "127.0.0.1:0", "--broker", listen_,  "--broker-key", broker_.dir + "/identity.pub"};
      Start(*a);
      a->replica = a->Status().value("replica", "");
    }
    WaitSynced(Agents(), 15, "connecting");
    Say("4 agents started and connected to the broker (" + Took(MsSince(t)) + ")");

    t = Clock::now();
    json imported = maintainer_.Must("POST", "/v1/import", sample_);
    records_ = imported.value("records", 0ULL);
    double import_ms = MsSince(t);
    Say("the maintainer imports " + fs::path(sample_file_).filename().string() + ": " +
        Thousands(records_) + " records of " + std::to_string(orgs) + " organizations, " +
        Thousands(sample_.size()) + " bytes (" + Took(import_ms) + ")");
    t = Clock::now();
    WaitSynced(Agents(), 25, "import");
    for (const Node& p : partners_) {
      uint64_t have = p.Status().value("records", 0ULL);
      if (have != records_) {
        Fail(p.name + " has " + std::to_string(have) + " records, not " + std::to_string(records_));
      }
    }
    Say("the broker accepted them and every partner has all " + Thousands(records_) + " records (" +
        Took(MsSince(t)) + " after the import)");
  }

  // (1) Partner 1 changes its shelter's free beds; how long until partner 2 sees it.
  void EditPropagates() {
    Title("1. An edit propagates");
    Node &p1 = partners_[0], &p2 = partners_[1];
    int64_t now = beds_ > 0 ? beds_ - 1 : beds_ + 1;
    Say(p1.name + " sets capacity_beds_available of \"" + service_name_ + "\" from " +
        std::to_string(beds_) + " to " + std::to_string(now));
    auto t = Clock::now();
    p1.Put(service_id_, {{"fields", {{"capacity_beds_available", now}}}});
    double local_ms = MsSince(t);
    bool seen = WaitUntil(
        [&] { return FieldOf(p2.Record(service_id_), "capacity_beds_available") == now; }, 10);
    if (!seen) Fail(p2.name + " did not see the new bed count within 10 s");
    double total_ms = MsSince(t);
    Say("durable at " + p1.name + " in " + Took(local_ms) + "; " + p2.name +
        " shows the new count " + Took(total_ms) + " after the edit");
    beds_ = now;
  }

  // (2) Partner 1 and the maintainer write the same field at the same moment.
  void ConcurrentConflict() {
    Title("2. A concurrent conflict");
    Node& p1 = partners_[0];
    const std::string& org = p1.org;
    Say(p1.name + " and the maintainer both rewrite " + p1.name +
        "'s description at the same moment (two PUTs in parallel, before either syncs)");
    for (int attempt = 1; attempt <= 3; ++attempt) {
      std::string a = "Shelter for survivors, beds for women and minors; call ahead (v" +
                      std::to_string(attempt) + ")";
      std::string b = "Verified by the network desk: emergency shelter, 24/7 intake (v" +
                      std::to_string(attempt) + ")";
      Reply ra, rb;
      std::atomic<int> ready{0};
      auto put = [&ready](const Node* n, const std::string& id, const std::string& text, Reply* r) {
        ready++;
        while (ready.load() < 2) {
        }
        *r = n->Call("PUT", "/v1/records/" + id, json{{"fields", {{"description", text}}}}.dump());
      };
      auto t = Clock::now();
      std::thread ta(put, &p1, org, a, &ra), tb(put, &maintainer_, org, b, &rb);
      ta.join();
      tb.join();
      if (ra.status != 200) Fail(p1.name + ": PUT description: " + ra.Describe());
      if (rb.status != 200) Fail("maintainer: PUT description: " + rb.Describe());
      // Converged: every agent shows the same displayed value and the same siblings.
      json shown;
      bool conflict = false;
      bool settled = WaitUntil(
          [&] {
            json first;
            for (const Node* n : Agents()) {
              json rec = n->Record(org);
              const json& f = rec["fields"]["description"];
              json sibs = f.value("siblings", json::array());
              std::set<std::string> vals;
              for (const json& s : sibs) vals.insert(s["value"].get<std::string>());
              bool both = vals.count(a) && vals.count(b);
              bool single = sibs.empty() && (f["value"] == a || f["value"] == b);
              if (!both && !single) return false;  // not merged yet
              json view = {f["value"], both};
              if (first.is_null())
                first = view;
              else if (view != first)
                return false;
            }
            shown = first[0];
            conflict = first[1].get<bool>();
            return true;
          },
          10);
      if (!settled) Fail("the agents did not agree on the description within 10 s");
      double ms = MsSince(t);
      if (!conflict) {
        Say("(attempt " + std::to_string(attempt) +
            ": one write arrived before the other was made, "
            "so it simply superseded it; trying again)");
        continue;
      }
      json rec = p1.Record(org);
      Say("both writes are kept as siblings of one multi-value register (every agent has both in " +
          Took(ms) + "):");
      for (const json& s : rec["fields"]["description"]["siblings"]) {
        Say("  " + Quote(s["value"]) + "  by " + ByReplica(s["by"].get<std::string>()) + " at " +
            s["at"].get<std::string>());
      }
      Say("all 4 agents display the same value (greatest hybrid-clock stamp, then replica id):");
      Say("  " + Quote(shown));
      Say("the field is listed as a conflict for the maintainers to resolve; nothing was lost");
      return;
    }
    Fail("three attempts at concurrent writes were each serialized; no conflict to show");
  }

  // (3) Partner 3 goes offline, others edit, it comes back and catches up.
  void OfflineCatchUp() {
    Title("3. An agent goes offline and catches up");
    Node &p1 = partners_[0], &p2 = partners_[1], &p3 = partners_[2];
    auto t = Clock::now();
    StopAndWait({&p3});
    Say(p3.name + " stopped (SIGTERM; " + Took(MsSince(t)) + ")");
    int64_t beds = beds_ > 0 ? beds_ - 1 : beds_ + 1;
    p1.Put(service_id_, {{"fields", {{"capacity_beds_available", beds}}}});
    std::string p2_alt = "Demo alias of " + p2.org_name;
    p2.Put(p2.org, {{"fields", {{"alternate_name", p2_alt}}}});
    std::string p3_desc = "Listing checked by the network desk while " + p3.name + " was offline";
    maintainer_.Put(p3.org, {{"fields", {{"description", p3_desc}}}});
    beds_ = beds;
    Say("while it is offline: " + p1.name + " sets beds to " + std::to_string(beds) + ", " +
        p2.name + " sets its alternate_name, the maintainer edits " + p3.name + "'s description");
    WaitSynced({&maintainer_, &p1, &p2}, 10, "edits while offline");
    Say("the 3 online agents have all of it");

    t = Clock::now();
    Start(p3);
    WaitSynced(Agents(), 15, p3.name + " catching up");
    double ms = MsSince(t);
    json s = p3.Status();
    const json& y = s["sync"];
    Say(p3.name + " restarted and caught up in " + Took(ms) +
        " (process start included): " + std::to_string(y.value("applied", 0ULL)) +
        " updates applied, " + Thousands(y.value("bytes_in", 0ULL)) +
        " bytes from the broker — only what it missed, not the " + Thousands(sample_.size()) +
        "-byte directory");
    json service = p3.Record(service_id_);
    json org = p3.Record(p3.org);
    json alt = p3.Record(p2.org);
    if (FieldOf(service, "capacity_beds_available") != beds ||
        FieldOf(org, "description") != p3_desc || FieldOf(alt, "alternate_name") != p2_alt) {
      Fail(p3.name + " did not converge: beds " +
           FieldOf(service, "capacity_beds_available").dump() + ", description " +
           FieldOf(org, "description").dump() + ", alternate_name " +
           FieldOf(alt, "alternate_name").dump());
    }
    Say(p3.name + " now shows beds = " + std::to_string(beds) +
        ", the maintainer's description and " + p2.name + "'s alternate_name: converged");
  }

  // (4) Partner 2 tries to rename partner 1's organization.
  void CrossOrgRefused() {
    Title("4. A cross-organization edit is refused");
    Node &p1 = partners_[0], &p2 = partners_[1];
    json original = FieldOf(p1.Record(p1.org), "name");
    size_t before = p2.Must("GET", "/v1/rejections")["rejections"].size();
    std::string hijack = "Renamed by " + p2.name;
    auto t = Clock::now();
    Reply r = p2.Call("PUT", "/v1/records/" + p1.org, json{{"fields", {{"name", hijack}}}}.dump());
    if (r.status != 200) {
      Say(p2.name + "'s agent refuses the edit itself: " + r.Describe());
      return;
    }
    Say(p2.name + " renames " + p1.name + "'s organization to \"" + hijack +
        "\"; its own agent takes the edit (HTTP 200) and pushes it");
    json rejection;
    bool refused = WaitUntil(
        [&] {
          json list = p2.Must("GET", "/v1/rejections")["rejections"];
          if (list.size() <= before) return false;
          for (const json& x : list) {
            for (const json& id : x.value("records", json::array())) {
              if (id == p1.org) rejection = x;
            }
          }
          return !rejection.is_null();
        },
        10);
    if (!refused) Fail("the broker's refusal did not reach " + p2.name + " within 10 s");
    double refused_ms = MsSince(t);
    Say("the broker refused it (" + Took(refused_ms) + "), " + p2.name + "'s GET /v1/rejections:");
    Say("  \"" + rejection.value("reason", "") + "\"");
    bool restored = WaitUntil([&] { return FieldOf(p2.Record(p1.org), "name") == original; }, 10);
    if (!restored) Fail(p2.name + " still shows " + FieldOf(p2.Record(p1.org), "name").dump());
    Say(p2.name + "'s view shows the original name again: " + Quote(original) + " (" +
        Took(MsSince(t)) + ")");
    WaitSynced(Agents(), 10, "after the refusal");
    for (const Node* n : {&p1, &maintainer_, &partners_[2]}) {
      if (FieldOf(n->Record(p1.org), "name") != original) {
        Fail(n->name + " shows the refused name: " + FieldOf(n->Record(p1.org), "name").dump());
      }
    }
    Say(p1.name + ", " + partners_[2].name + " and the maintainer never saw the change");
  }

  // (5) Partner 1 adds a confidential shelter location.
  void ConfidentialAddress() {
    Title("5. A confidential address does not leave its owner");
    Node& p1 = partners_[0];
    location_id_ = NewUuid();
    std::string street = "14 Demo Lane";
    auto t = Clock::now();
    p1.Put(location_id_, {{"kind", "location"},
                          {"fields",
                           {{"organization_id", p1.org},
                            {"name", "Confidential shelter (demo)"},
                            {"location_type", "physical"},
                            {"address_1", street},
                            {"city", "Springfield"},
                            {"country", "US"},
                            {"address_confidential", true}}}});
    Say(p1.name + " adds a location with address_confidential = true and address_1 = \"" + street +
        "\"");
    bool arrived = WaitUntil(
        [&] {
          for (const Node* n : Agents()) {
            if (n->Call("GET", "/v1/records/" + location_id_).status != 200) return false;
          }
          return true;
        },
        10);
    if (!arrived) Fail("the new location did not reach every agent within 10 s");
    Say("every agent has the location after " + Took(MsSince(t)));
    for (const Node* n : {&partners_[1], &partners_[2]}) {
      json rec = n->Record(location_id_);
      if (!FieldOf(rec, "address_1").is_null()) {
        Fail(n->name + " received the confidential address: " + FieldOf(rec, "address_1").dump());
      }
      std::string fields;
      for (const auto& [k, v] : rec["fields"].items()) fields += (fields.empty() ? "" : ", ") + k;
      Say(n->name + " sees it without address_1: fields " + fields);
    }
    json m = maintainer_.Record(location_id_);
    if (FieldOf(m, "address_1") != street) {
      Fail("the maintainer does not see the address: " + FieldOf(m, "address_1").dump());
    }
    bool pending = m["fields"]["address_1"].value("pending", false);
    Say("the maintainer sees address_1 = \"" + street + "\"" +
        (pending ? " (pending review: addresses are moderated)" : ""));
  }

  // A referral from partner 1 to partner 2, sealed end to end, through its whole lifecycle.
  void ReferralHandoff() {
    Title("6. A referral handoff closes its loop");
    Node& p1 = partners_[0];
    Node& p2 = partners_[1];
    Node& p3 = partners_[2];
    std::string secret = "Ana-" + NewUuid().substr(0, 8);  // the client alias: never at the broker
    json request = {{"to", p2.org},
                    {"urgency", "urgent"},
                    {"consent",
                     {{"scope", "share needs and safe contact with " + p2.org_name},
                      {"by", "caseworker J. Doe"}}},
                    {"payload",
                     {{"alias", secret},
                      {"contact", "through the shelter's front desk"},
                      {"contact_times", "weekdays 10:00-16:00"},
                      {"language", "es"},
                      {"needs", {"immigration lawyer", "interpreter"}},
                      {"notes", "prefers a female lawyer"}}}};
    auto t = Clock::now();
    Reply sent = p1.Call("POST", "/v1/referrals", request.dump());
    if (sent.status != 201) Fail(p1.name + ": POST /v1/referrals: " + sent.Describe());
    std::string id = sent.body.value("id", "");
    Say(p1.name + " seals a referral for " + p2.name + " (urgent, consent recorded): " + id);
    auto status_at = [&](const Node& n) {
      Reply r = n.Call("GET", "/v1/referrals/" + id);
      return r.status == 200 ? r.body.value("status", "") : std::string();
    };
    if (!WaitUntil([&] { return status_at(p1) == "delivered"; }, 10)) {
      Fail("the referral was not delivered within 10 s (sender sees \"" + status_at(p1) + "\")");
    }
    Say(p2.name + "'s agent received and stored it; " + p1.name + " sees \"delivered\" after " +
        Took(MsSince(t)));
    json opened = p2.Must("GET", "/v1/referrals/" + id);
    if (!opened["payload"].is_object() || opened["payload"].value("alias", "") != secret) {
      Fail(p2.name + " cannot read the payload: " + opened.value("payload_error", ""));
    }
    Say(p2.name + " decrypts it locally: alias " + secret + ", language " +
        opened["payload"].value("language", "") + ", needs " + opened["payload"]["needs"].dump());
    for (const char* action : {"accept", "start", "complete"}) {
      t = Clock::now();
      p2.Must("POST", "/v1/referrals/" + id + "/" + action, "{}");
      std::string want = std::string(action) == "accept"  ? "accepted"
                         : std::string(action) == "start" ? "in_progress"
                                                          : "completed";
      if (!WaitUntil([&] { return status_at(p1) == want; }, 10)) {
        Fail(p1.name + " did not see \"" + want + "\" within 10 s");
      }
      Say(p2.name + " " +
          (std::string(action) == "start" ? "starts work" : std::string(action) + "s") + "; " +
          p1.name + " sees \"" + want + "\" after " + Took(MsSince(t)));
    }
    if (p3.Call("GET", "/v1/referrals/" + id).status != 404) {
      Fail(p3.name + " knows of a referral between two other organizations");
    }
    Say(p3.name + " has no trace of it (404)");
    size_t files = 0;
    bool leaked = false;
    for (const auto& e : fs::recursive_directory_iterator(broker_.dir)) {
      if (!e.is_regular_file()) continue;
      ++files;
      leaked |= ReadAll(e.path().string()).find(secret) != std::string::npos;
    }
    leaked |= ReadAll(broker_.log).find(secret) != std::string::npos;
    if (leaked) Fail("the client alias reached the broker's files in plaintext");
    Say("the alias is in none of the broker's " + std::to_string(files) +
        " files nor its log: it only ever held ciphertext, dropped once delivered");
    for (const Node* n : {&broker_, &p1, &p2}) {
      std::string log = tmp_ + "/audit-verify-" + std::to_string(n->pid()) + ".log";
      RunToExit({exe_, "audit", "verify", "--data", n->dir}, log);
      std::string line = ReadAll(log);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      Say("switchboard audit verify (" + n->name + "): " + line);
    }
  }

  // (7) Partner 1 changes a hotline number: moderated, so it waits for a maintainer (through
  // the broker's review API, as `switchboard review` and the web console do).
  void MaintainerApproval() {
    Title("7. A maintainer approves a hotline change");
    Node &p1 = partners_[0], &p2 = partners_[1];
    std::string phone;
    json list = p1.Must("GET", "/v1/records?kind=phone&limit=1000")["records"];
    for (const json& r : list) {
      if (r.value("owner", json()) == p1.org) {
        phone = r["id"].get<std::string>();
        break;
      }
    }
    if (phone.empty()) Fail(p1.name + " has no phone record in the sample directory");
    json before = FieldOf(p2.Record(phone), "number");
    std::string number = before == "+14155550199" ? "+14155550198" : "+14155550199";
    auto t = Clock::now();
    p1.Put(phone, {{"fields", {{"number", number}}}});
    Say(p1.name + " changes its hotline " + phone.substr(0, 8) + "… from " + Quote(before) +
        " to \"" + number + "\"; phone numbers are moderated, so its own agent marks it pending");
    json item;
    bool listed = WaitUntil(
        [&] {
          Reply r = broker_.Call("GET", "/v1/review?kind=moderated_change&field=number");
          if (r.status != 200) return false;
          for (const json& it : r.body["items"]) {
            if (it["record"] == phone && it["after"] == number) item = it;
          }
          return !item.is_null();
        },
        10);
    if (!listed) Fail("the change did not reach the broker's review queue within 10 s");
    Say("the broker's review queue lists it (" + Took(MsSince(t)) + "): item " +
        item["id"].get<std::string>() + ", " + Quote(item["before"]) + " -> " +
        Quote(item["after"]) + ", by " + p1.name);
    WaitSynced(Agents(), 10, "the proposed change");
    json shown = FieldOf(p2.Record(phone), "number");
    if (shown != before) Fail(p2.name + " shows the unapproved number " + shown.dump());
    Say(p2.name + " has the update but shows the published number " + Quote(shown) +
        " until a maintainer approves");
    t = Clock::now();
    broker_.Must("POST", "/v1/review/" + item["id"].get<std::string>() + "/approve", "{}");
    bool reached = WaitUntil([&] { return FieldOf(p2.Record(phone), "number") == number; }, 10);
    if (!reached) Fail(p2.name + " did not show the approved number within 10 s");
    Say("a maintainer approves it (switchboard review approve " + item["id"].get<std::string>() +
        "); " + p2.name + " shows \"" + number + "\" " + Took(MsSince(t)) + " later");
    json runtime = json::parse(ReadAll(broker_.dir + "/broker.json"), nullptr, false);
    if (runtime.is_object() && runtime.contains("console")) {
      Say("the same queue is in the maintainers' web console at " +
          runtime["console"].get<std::string>() + " (sign-in token: broker/console.token)");
    }
  }

  // The directory as Open Referral's HSDS 3.0 API, from a partner's own replica.
  void HsdsApi() {
    Title("8. The directory in HSDS 3.0");
    const Node& p2 = partners_[1];
    auto t = Clock::now();
    json base = p2.Must("GET", "/hsds/");
    json page = p2.Must("GET", "/hsds/services?search=shelter&per_page=3");
    double ms = MsSince(t);
    Say(p2.name + "'s agent answers the HSDS API from its replica (GET /hsds/: version " +
        base.value("version", std::string("?")) + ", " + Took(ms) + " for both requests)");
    Say("GET /hsds/services?search=shelter&per_page=3: page " +
        std::to_string(page.value("page_number", 0)) + " of " +
        std::to_string(page.value("total_pages", 0)) + ", " +
        std::to_string(page.value("total_items", 0)) + " services in all");
    for (const json& svc : page.value("contents", json::array())) {
      std::string org = svc.contains("organization") && svc["organization"].is_object()
                            ? svc["organization"].value("name", std::string())
                            : std::string();
      Say("  " + Quote(svc.value("name", std::string())) + (org.empty() ? "" : " (" + org + ")"));
    }
    Say("every export and API answer validates against the official HSDS 3.0 schemas "
        "(tests/hsds/validate.py); `switchboard agent --public-api ADDR` serves the same API "
        "without a token, published data only");
  }

  // Every agent's export against the others and the broker.
  bool ConvergenceCheck() {
    Title("Convergence check");
    uint64_t head = WaitSynced(Agents(), 15, "final sync");
    json bs = broker_.Must("GET", "/v1/status");
    uint64_t broker_records = bs.value("records", 0ULL);
    Flat m;
    Flatten(maintainer_.Must("GET", "/v1/export"), "", &m);
    uint64_t m_records = maintainer_.Status().value("records", 0ULL);
    bool ok = true;
    auto problem = [&](const std::string& p) {
      if (ok) Say("differences:");
      ok = false;
      Say("  " + p);
    };
    if (m_records != broker_records) {
      problem("the broker has " + std::to_string(broker_records) + " records, the maintainer " +
              std::to_string(m_records) + " (" + std::to_string(m.size()) + " exported)");
    }
    // The organization each exported record belongs to (its outermost ancestor).
    auto owner_of = [&](std::string id) {
      for (int depth = 0; depth < 8; ++depth) {
        auto it = m.find(id);
        if (it == m.end()) break;
        std::string parent = it->second["@parent"].get<std::string>();
        if (parent.empty()) break;
        id = parent;
      }
      return id;
    };
    size_t withheld = 0, compared = 0;
    std::set<std::string> withheld_records;
    for (const Node& p : partners_) {
      Flat f;
      Flatten(p.Must("GET", "/v1/export"), "", &f);
      int shown = 0;
      auto report = [&](const std::string& s) {
        if (++shown <= 5) problem(p.name + ": " + s);
      };
      for (const auto& [id, fields] : f) {
        auto mi = m.find(id);
        if (mi == m.end()) {
          report("record " + id + " is not at the maintainer");
          continue;
        }
        for (const auto& [k, v] : fields) {
          auto mf = mi->second.find(k);
          if (mf == mi->second.end() || mf->second != v) {
            report(id + "." + k + " = " + v.dump() + ", the maintainer has " +
                   (mf == mi->second.end() ? "nothing" : mf->second.dump()));
          }
          ++compared;
        }
      }
      // A confidential location's addresses reach only its owner (and maintainers).
      auto confidential_of = [&m](const std::map<std::string, json>& fields) {
        auto flag = [](const std::map<std::string, json>& r) {
          return r.count("address_confidential") && r.at("address_confidential") == true;
        };
        if (flag(fields)) return true;
        auto parent = m.find(fields.at("@parent").get<std::string>());
        return parent != m.end() && parent->second.count("location_type") && flag(parent->second);
      };
      for (const auto& [id, fields] : m) {
        bool confidential = confidential_of(fields);
        auto pi = f.find(id);
        if (pi == f.end()) {
          if (confidential && fields.count("address_1") && owner_of(id) != p.org) {
            withheld += fields.size();
            withheld_records.insert(fields.at("@parent").get<std::string>());
          } else {
            report("record " + id + " is missing");
          }
          continue;
        }
        for (const auto& [k, v] : fields) {
          if (pi->second.count(k)) continue;
          if (confidential && IsConfidentialField(k) && owner_of(id) != p.org) {
            ++withheld;
            withheld_records.insert(id);
          } else {
            report(id + "." + k + " is missing (the maintainer has " + v.dump() + ")");
          }
        }
      }
    }
    Say("broker log head " + std::to_string(head) + "; every agent has applied all of it");
    Say("broker " + Thousands(broker_records) + " records = maintainer " + Thousands(m_records) +
        " records (" + Thousands(m.size()) + " HSDS objects in its export)");
    Say("3 partner exports: " + Thousands(compared) +
        " field values compared, each equal to the "
        "maintainer's and to the other partners'");
    Say(std::to_string(withheld_records.size()) +
        " confidential locations: their address fields (" + Thousands(withheld) +
        " values in all) withheld from every partner but the owner, and "
        "nothing else differs");
    Say(ok ? "converged" : "DIVERGED");
    return ok;
  }

  // Stops every process; removes the directory unless kept. False if one did not exit cleanly.
  bool Shutdown(bool ok) {
    if (tmp_.empty()) return ok;
    Title("Shutting down");
    auto t = Clock::now();
    bool clean = StopAndWait(All());
    Say(std::string("stopped the broker and 4 agents with SIGTERM: ") +
        (clean ? "clean exits" : "NOT ALL EXITED CLEANLY") + " (" + Took(MsSince(t)) + ")");
    if (!clean) ok = false;
    if (options_.keep || !ok) {
      Say("kept " + tmp_ +
          (ok ? "" : " (logs: broker.log, maintainer.log, partner-N.log, setup.log)"));
    } else {
      std::error_code ec;
      fs::remove_all(tmp_, ec);
      Say("removed " + tmp_);
    }
    return clean;
  }

  NetworkDemoOptions options_;
  std::ostream& out_;
  std::string tmp_, exe_, listen_;
  std::string sample_file_, sample_;
  uint64_t records_ = 0;
  Node broker_, maintainer_;
  Node partners_[3];
  std::string service_id_, service_name_, location_id_;
  int64_t beds_ = 0;
};

}  // namespace

bool RunNetworkDemo(const NetworkDemoOptions& options, std::ostream& out) {
  return Demo(options, out).Run();
}

}  // namespace sb::cli

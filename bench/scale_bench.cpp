// `switchboard bench scale` (scale_bench.h): real processes, as an operator would run them.
#include "bench/scale_bench.h"

#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/json.h"
#include "bench/bench_proc.h"
#include "bench/internal/bench_net.h"
#include "broker/roster.h"
#include "crypto/identity.h"
#include "store/data_dir.h"

namespace sb::bench {

namespace {

using nlohmann::json;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// A running process with a local API: its pid and where its API listens.
struct Daemon {
  pid_t pid = -1;
  std::string dir, runtime_file;
  int port = 0;
  std::string token;

  // Reads DIR/<runtime_file> once it names this process.
  bool Announced() {
    json j = ParseStoredJson(ReadText(dir + "/" + runtime_file));
    if (!j.is_object() || j.value("pid", -1) != pid) return false;
    std::string api = j.value("api", "");
    port = std::atoi(api.substr(api.rfind(':') + 1).c_str());
    token = Trim(ReadText(dir + "/api.token"));
    return port > 0;
  }
  json Get(const std::string& path, int timeout_s = 10) const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(timeout_s);
    c.set_read_timeout(timeout_s);
    auto r = c.Get(path, {{"Authorization", "Bearer " + token}});
    if (!r || r->status != 200) return nullptr;
    return ParseStoredJson(r->body, kReplyLimits);
  }
};

uint64_t U64(const json& j, const char* k) {
  return j.is_object() && j.contains(k) && j[k].is_number_unsigned() ? j[k].get<uint64_t>() : 0;
}

std::string OrgOf(size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "5ca1eb00-0000-4000-8000-%012zx", i & 0xffffffffffff);
  return buf;
}

}  // namespace

int RunScaleBench(const ScaleBenchOptions& o, std::ostream& out, std::ostream* progress) {
  auto fail = [&](const std::string& why) {
    out << "bench scale: " << why << "\n";
    return 1;
  };
  if (o.agents < 1) {
    out << "bench scale: --agents must be at least 1\n";
    return 2;
  }
  auto say = [&](const std::string& line) {
    if (progress) *progress << line << "\n";
  };
  RaiseFileLimit(o.agents * 16 + 1024);
  std::string binary = o.binary.empty() ? SelfBinary() : o.binary;
  std::string directory = o.directory.empty() ? "examples/data/directory.json" : o.directory;
  std::string json_text = ReadText(directory);
  if (json_text.empty()) {
    return fail("cannot read " + directory + " (generate it: python3 examples/data/generate.py)");
  }
  std::string base = o.dir.empty() ? (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") : o.dir;
  std::string root = base + "/sb-scale-" + std::to_string(::getpid());
  ::mkdir(root.c_str(), 0700);
  std::string log = root + "/setup.log";
  auto dir_of = [&](size_t i) { return root + "/a" + std::to_string(i); };

  // Data directories: the broker, the maintainer (index agents) and the partners, made with
  // `switchboard init` a few at a time.
  say("making " + std::to_string(o.agents + 2) + " data directories...");
  if (Wait(Spawn({binary, "init", "--broker", "--data", root + "/broker", "--org", "coordinator"},
                 log)) != 0) {
    return fail("switchboard init --broker failed; see " + log);
  }
  for (size_t first = 0; first <= o.agents; first += 8) {
    std::vector<pid_t> pids;
    for (size_t i = first; i <= o.agents && i < first + 8; ++i) {
      pids.push_back(Spawn({binary, "init", "--data", dir_of(i), "--org", OrgOf(i)}, log));
    }
    for (pid_t p : pids) {
      if (Wait(p) != 0) return fail("switchboard init failed; see " + log);
    }
  }
  {
    StoreOptions so;
    so.sync = false;  // set-up only
    Result<DataDir> dd = DataDir::OpenOrCreate(root + "/broker", "broker", so);
    if (!dd.ok()) return fail(dd.status().ToString());
    Roster roster(dd->store.get());
    if (Status s = roster.Load(); !s.ok()) return fail(s.ToString());
    for (size_t i = 0; i <= o.agents; ++i) {
      Result<PublicIdentity> pub = ReadPublicIdentity(dir_of(i) + "/identity.pub");
      if (!pub.ok()) return fail(pub.status().ToString());
      Role role = i == o.agents ? Role::kMaintainer : Role::kPartner;
      if (Status s = roster.Enroll(*pub, role, 0); !s.ok()) return fail(s.ToString());
    }
  }
  Daemon broker;
  broker.dir = root + "/broker";
  broker.runtime_file = "broker.json";
  broker.pid = Spawn({binary, "broker", "--data", broker.dir, "--listen", "tcp://127.0.0.1:*",
                      "--api", "127.0.0.1:0"},
                     root + "/broker.log");
  for (int i = 0; i < 400 && !broker.Announced(); ++i) std::this_thread::sleep_for(25ms);
  if (broker.port == 0) return fail("the broker did not start; see " + root + "/broker.log");
  std::string endpoint = ParseStoredJson(ReadText(broker.dir + "/broker.json")).value("listen", "");
  ProcUsage broker_idle = Usage(broker.pid);

  say("starting " + std::to_string(o.agents) + " agents and a maintainer...");
  std::vector<Daemon> agents(o.agents + 1);
  auto t_start = Steady::now();
  for (size_t i = 0; i <= o.agents; ++i) {
    agents[i].dir = dir_of(i);
    agents[i].runtime_file = "agent.json";
    agents[i].pid = Spawn({binary, "agent", "--data", dir_of(i), "--api", "127.0.0.1:0", "--broker",
                           endpoint, "--broker-key", broker.dir + "/identity.pub"},
                          dir_of(i) + ".log");
  }
  auto ready = [&](Daemon& a) {
    if (a.port == 0 && !a.Announced()) return false;
    json st = a.Get("/v1/status");
    return st.is_object() && st["sync"].is_object() && st["sync"].value("state", "") == "ready";
  };
  std::vector<bool> up(agents.size(), false);
  size_t n_up = 0;
  while (n_up < agents.size() && Seconds(t_start, Steady::now()) < 600) {
    for (size_t i = 0; i < agents.size(); ++i) {
      if (!up[i] && ready(agents[i])) {
        up[i] = true;
        ++n_up;
      }
    }
    if (n_up < agents.size()) std::this_thread::sleep_for(200ms);
  }
  if (n_up < agents.size()) {
    return fail(std::to_string(agents.size() - n_up) + " agents did not connect within 600 s");
  }
  double connect_s = Seconds(t_start, Steady::now());
  say("all connected in " + Fmt(connect_s, 1) + " s; the maintainer imports " + directory + "...");

  // The maintainer imports the directory through its local API, as `dir import` does.
  Daemon& m = agents.back();
  auto t_import = Steady::now();
  {
    httplib::Client c("127.0.0.1", m.port);
    c.set_read_timeout(600);
    auto r = c.Post("/v1/import", {{"Authorization", "Bearer " + m.token}}, json_text,
                    "application/json");
    if (!r || r->status != 200) {
      return fail("the import failed: " + (r ? r->body : std::string("no reply")));
    }
  }
  uint64_t records = U64(m.Get("/v1/status"), "records");
  // Until the maintainer's outbox is empty and every partner is at the broker's head with the
  // whole directory.
  uint64_t head = 0;
  while (Seconds(t_import, Steady::now()) < 3600) {
    json ms = m.Get("/v1/status");
    if (U64(ms, "outbox_depth") == 0) {
      head = U64(broker.Get("/v1/status"), "log_head");
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  std::vector<bool> done(agents.size(), false);
  size_t n_done = 0;
  std::vector<double> reached_s(agents.size(), 0);
  while (n_done < o.agents && Seconds(t_import, Steady::now()) < 3600) {
    for (size_t i = 0; i < o.agents; ++i) {
      if (done[i]) continue;
      json st = agents[i].Get("/v1/status");
      if (U64(st, "records") >= records && U64(st, "cursor") >= head) {
        done[i] = true;
        ++n_done;
        reached_s[i] = Seconds(t_import, Steady::now());
      }
    }
    if (n_done < o.agents) std::this_thread::sleep_for(500ms);
  }
  double import_s = Seconds(t_import, Steady::now());
  ProcUsage broker_end = Usage(broker.pid);
  json bst = broker.Get("/v1/status", 30);
  std::vector<double> bytes;
  uint64_t restarts = 0, repeats = 0, rewinds = 0, connects = 0;
  uint64_t agent_rss = 0;
  for (size_t i = 0; i < o.agents; ++i) {
    json s = agents[i].Get("/v1/status")["sync"];
    bytes.push_back(static_cast<double>(U64(s, "bytes_in")));
    restarts += U64(s, "session_restarts");
    repeats += U64(s, "hello_repeats");
    rewinds += U64(s, "rewinds");
    connects += U64(s, "connects");
    agent_rss += Usage(agents[i].pid).rss;
  }
  for (Daemon& a : agents) ::kill(a.pid, SIGTERM);
  for (Daemon& a : agents) Wait(a.pid);
  ::kill(broker.pid, SIGTERM);
  Wait(broker.pid);
  std::string cmd = "rm -rf '" + root + "'";
  (void)!std::system(cmd.c_str());

  double mean_bytes = bytes.empty() ? 0 : Median(bytes);
  json j = {{"agents", o.agents},
            {"converged", n_done == o.agents},
            {"records", records},
            {"directory_json_bytes", json_text.size()},
            {"connect_s", connect_s},
            {"import_to_all_s", import_s},
            {"bytes_per_agent_median", mean_bytes},
            {"bytes_over_directory_json", mean_bytes / json_text.size()},
            {"broker_cpu_s", broker_end.cpu_s - broker_idle.cpu_s},
            {"broker_rss_mb", broker_end.rss / 1048576.0},
            {"agent_rss_mb_mean", agent_rss / 1048576.0 / o.agents},
            {"broker_session_restarts", U64(bst, "session_restarts")},
            {"agent_session_restarts", restarts},
            {"agent_hello_repeats", repeats},
            {"agent_rewinds", rewinds},
            {"agent_connects", connects}};
  if (o.json) {
    out << DumpJson(j, 2) << "\n";
  } else {
    out << "bench scale: " << o.agents << " real agent processes (+1 maintainer) and a real broker "
        << "process, each with its own RocksDB, CURVE over loopback\n"
        << "  every agent connected             " << Fmt(connect_s, 1) << " s\n"
        << "  import of " << records << " records to all    " << Fmt(import_s, 1) << " s "
        << (n_done == o.agents ? "(all converged)"
                               : "(NOT all converged: " + std::to_string(n_done) + ")")
        << "\n"
        << "  bytes received per agent (median) " << Fmt(mean_bytes / 1048576.0, 2)
        << " MiB = " << Fmt(mean_bytes / json_text.size(), 2) << "x the directory's HSDS JSON ("
        << Fmt(json_text.size() / 1048576.0, 2) << " MiB)\n"
        << "  broker                            " << Fmt(broker_end.cpu_s - broker_idle.cpu_s, 1)
        << " CPU s, RSS " << Fmt(broker_end.rss / 1048576.0, 0) << " MiB\n"
        << "  agents                            RSS " << Fmt(agent_rss / 1048576.0 / o.agents, 0)
        << " MiB each (mean)\n"
        << "  session restarts                  broker " << U64(bst, "session_restarts")
        << ", agents " << restarts << " (hello repeats " << repeats << ", rewinds " << rewinds
        << ", connects " << connects << ")\n";
  }
  return n_done == o.agents ? 0 : 1;
}

}  // namespace sb::bench

// The sync network's commands: `init` (keys and a data directory), `broker`, `enroll`
// (through the running broker's local API) and `status` (an agent's sync state).
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "agents/hsds_json.h"
#include "base/json.h"
#include "broker/broker_server.h"
#include "cli/commands.h"
#include "cli/internal/agent_client.h"
#include "cli/internal/dir_format.h"
#include "crypto/identity.h"
#include "store/data_dir.h"

namespace sb::cli {
namespace {

using nlohmann::json;

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "switchboard " << cmd << ": " << s.message() << "\n";
  return 1;
}

// ---------- init ----------

struct InitArgs {
  std::string data, org;
  bool broker = false;
};

int RunInit(const InitArgs& a) {
  if (std::filesystem::exists(a.data + "/identity.pub")) {
    return Fail("init", Status::AlreadyExists(a.data + " already has keys (identity.pub)"));
  }
  Result<DataDir> dir = DataDir::OpenOrCreate(a.data, a.broker ? "broker" : "agent");
  if (!dir.ok()) return Fail("init", dir.status());
  Result<Identity> id = Identity::Generate(a.org);
  if (!id.ok()) return Fail("init", id.status());
  Status saved = id->Save(a.data);
  if (!saved.ok()) return Fail("init", saved);
  std::cout << "created " << (a.broker ? "broker" : "agent") << " data directory " << a.data
            << " for " << a.org << "\n"
            << "  keys:        curve.key, box.key, sign.key (mode 0600)\n"
            << "  API token:   " << dir->TokenPath() << " (mode 0600)\n"
            << "  public keys: " << a.data << "/identity.pub"
            << (a.broker ? "  — give it to every agent (--broker-key)\n"
                         : "  — send it to the network's maintainers to be enrolled\n")
            << "  fingerprint: " << Fingerprint(id->pub) << "\n"
            << (a.broker ? "               (agents can check the broker key with it)\n"
                         : "               (read it to the coordinator over the phone: they "
                           "check it before enrolling you)\n");
  return 0;
}

// ---------- broker ----------

struct BrokerArgs {
  std::string data, listen = "tcp://127.0.0.1:7400", api = "127.0.0.1:7410";
  uint64_t log_retention = 1'000'000;
  // Per-organization quotas (BrokerCore::Options).
  size_t sessions_per_org = BrokerCore::Options{}.max_sessions_per_org;
  size_t replicas_per_org = BrokerCore::Options{}.max_replicas_per_org;
  size_t referral_quota = BrokerCore::Options{}.max_open_referrals_per_pair;
  uint64_t log_bytes_per_hour = BrokerCore::Options{}.log_bytes_per_hour;
  size_t catchups_per_org = BrokerCore::Options{}.full_catchups_per_org;
  uint64_t catchup_interval_s = BrokerCore::Options{}.full_catchup_interval_ms / 1000;
  // Tombstone collection (broker/gc.h).
  uint64_t gc_max_age_days = BrokerCore::Options{}.gc_max_ack_age_ms / 86'400'000;
  uint64_t gc_interval_s = BrokerCore::Options{}.gc_interval_ms / 1000;
  int console = -1;  // the review console's port; -1: none
};

// The console's sign-in token: DIR/console.token (mode 0600), made on first use.
Result<std::string> ConsoleToken(const std::string& data) {
  std::string file = data + "/console.token";
  if (!std::filesystem::exists(file)) RETURN_IF_ERROR(WriteSecretFile(file, RandomToken() + "\n"));
  ASSIGN_OR_RETURN(std::string token, ReadSecretFile(file));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.size() < 32) return Status::Corruption(file + " holds no valid token");
  return token;
}

int RunBroker(const BrokerArgs& a) {
  auto logger = spdlog::stderr_color_mt("broker");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  size_t colon = a.api.rfind(':');
  if (colon == std::string::npos)
    return Fail("broker", Status::InvalidArgument("--api must be 127.0.0.1:PORT"));
  std::string port_text = a.api.substr(colon + 1);
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != std::string::npos ||
      port_text.size() > 5) {
    return Fail("broker", Status::InvalidArgument("--api: port must be a number"));
  }
  Result<DataDir> dir = DataDir::OpenOrCreate(a.data, "broker");
  if (!dir.ok()) return Fail("broker", dir.status());
  Result<Identity> id = Identity::Load(a.data);
  if (!id.ok()) {
    return Fail("broker",
                id.status().WithContext("the broker has no keys (create its data directory with: "
                                        "switchboard init --broker --data DIR --org ORG)"));
  }
  BrokerServer::Options o;
  o.listen = a.listen;
  o.api_host = a.api.substr(0, colon);
  o.api_port = std::stoi(port_text);
  o.token = dir->token;
  o.data_dir = a.data;
  o.core.log_retention = a.log_retention;
  o.core.max_sessions_per_org = a.sessions_per_org;
  o.core.max_replicas_per_org = a.replicas_per_org;
  o.core.max_open_referrals_per_pair = a.referral_quota;
  o.core.log_bytes_per_hour = a.log_bytes_per_hour;
  o.core.full_catchups_per_org = a.catchups_per_org;
  o.core.full_catchup_interval_ms = a.catchup_interval_s * 1000;
  o.core.gc_max_ack_age_ms = a.gc_max_age_days * 86'400'000;
  o.core.gc_interval_ms = a.gc_interval_s * 1000;
  if (a.console >= 0) {
    if (a.console > 65535) return Fail("broker", Status::InvalidArgument("--console: not a port"));
    Result<std::string> console_token = ConsoleToken(a.data);
    if (!console_token.ok()) return Fail("broker", console_token.status());
    o.console_port = a.console;
    o.console_tokens = {*console_token, dir->token};
  }
  BrokerServer server(dir->store.get(), SystemClock::Get(), *id, o);
  Result<int> port = server.Start();
  if (!port.ok()) return Fail("broker", port.status());
  std::string api = o.api_host + ":" + std::to_string(*port);
  json runtime = {{"api", api}, {"listen", server.bound_endpoint()}, {"pid", ::getpid()}};
  if (server.console_port() > 0) {
    runtime["console"] = "http://127.0.0.1:" + std::to_string(server.console_port()) + "/";
    spdlog::info("broker: review console on {} (sign in with {}/console.token)",
                 runtime["console"].get<std::string>(), a.data);
  }
  Status wrote = WriteFileAtomic(dir->RuntimePath(), DumpJson(runtime) + "\n");
  if (!wrote.ok()) return Fail("broker", wrote);
  spdlog::info("broker {} ready: sync on {}, API on http://{}", id->pub.org,
               server.bound_endpoint(), api);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("broker: signal {}, shutting down", sig);
    server.Stop();
  });
  server.Run();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  server.Stop();
  ::unlink(dir->RuntimePath().c_str());
  spdlog::info("broker stopped");
  return 0;
}

// ---------- enroll ----------

struct EnrollArgs {
  std::string data, role = "partner", key, org;
  bool json = false;
};

// The identity.pub at `file` as a roster request's body part.
json IdentityBody(const PublicIdentity& id) {
  return ParseStoredJson(PublicIdentityJson(id));
}

int RunEnrollAdd(const EnrollArgs& a) {
  Result<PublicIdentity> id = ReadPublicIdentity(a.key);
  if (!id.ok()) return Fail("enroll add", id.status().WithContext(a.key));
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("enroll add", c.status());
  Result<json> r =
      c->Call("POST", "/v1/roster", json{{"identity", IdentityBody(*id)}, {"role", a.role}});
  if (!r.ok()) return Fail("enroll add", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
  } else {
    std::cout << "enrolled " << id->org << " as " << a.role << "\n"
              << "  fingerprint " << (*r)["fingerprint"].get<std::string>()
              << "  (it must be the one the organization reads to you from its `init`)\n";
  }
  return 0;
}

int RunEnrollList(const EnrollArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("enroll list", c.status());
  Result<json> r = c->Call("GET", "/v1/roster");
  if (!r.ok()) return Fail("enroll list", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  std::printf("%-38s %-11s %-8s %-20s %s\n", "ORGANIZATION", "ROLE", "STATE", "ENROLLED (UTC)",
              "FINGERPRINT");
  for (const auto& m : (*r)["roster"]) {
    std::printf("%-38s %-11s %-8s %-20s %s\n", m["org"].get<std::string>().c_str(),
                m["role"].get<std::string>().c_str(),
                m["revoked"].get<bool>() ? "revoked" : "active",
                IsoTime(m["enrolled_at"].get<uint64_t>()).substr(0, 19).c_str(),
                m.value("fingerprint", "").c_str());
  }
  return 0;
}

int RunEnrollRekey(const EnrollArgs& a) {
  Result<PublicIdentity> id = ReadPublicIdentity(a.key);
  if (!id.ok()) return Fail("enroll rekey", id.status().WithContext(a.key));
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("enroll rekey", c.status());
  Result<json> r = c->Call("POST", "/v1/roster/" + UrlEncode(id->org) + "/rekey",
                           json{{"identity", IdentityBody(*id)}});
  if (!r.ok()) return Fail("enroll rekey", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
  } else {
    std::cout << "new keys for " << id->org << "\n"
              << "  old fingerprint " << (*r)["previous_fingerprint"].get<std::string>()
              << "  (refused from now on; its connections are cut)\n"
              << "  new fingerprint " << (*r)["fingerprint"].get<std::string>()
              << "  (it must be the one the organization reads to you)\n";
  }
  return 0;
}

int RunEnrollRevoke(const EnrollArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("enroll revoke", c.status());
  Result<json> r = c->Call("POST", "/v1/roster/" + UrlEncode(a.org) + "/revoke", json::object());
  if (!r.ok()) return Fail("enroll revoke", r.status());
  if (a.json)
    std::cout << r->dump(2) << "\n";
  else
    std::cout << "revoked " << a.org << ": its key is refused and its agent cut off\n";
  return 0;
}

int RunEnrollRole(const EnrollArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("enroll role", c.status());
  Result<json> r =
      c->Call("POST", "/v1/roster/" + UrlEncode(a.org) + "/role", json{{"role", a.role}});
  if (!r.ok()) return Fail("enroll role", r.status());
  if (a.json)
    std::cout << r->dump(2) << "\n";
  else
    std::cout << a.org << " is now a " << a.role << " (its agents learn it at once)\n";
  return 0;
}

int RunEnrollReinstate(const EnrollArgs& a) {
  json body = json::object();
  if (!a.key.empty()) {
    Result<PublicIdentity> id = ReadPublicIdentity(a.key);
    if (!id.ok()) return Fail("enroll reinstate", id.status().WithContext(a.key));
    body["identity"] = IdentityBody(*id);
  }
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("enroll reinstate", c.status());
  Result<json> r = c->Call("POST", "/v1/roster/" + UrlEncode(a.org) + "/reinstate", body);
  if (!r.ok()) return Fail("enroll reinstate", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
  } else {
    std::cout << "reinstated " << a.org
              << (a.key.empty() ? " with the keys it had" : " with new keys") << "\n  fingerprint "
              << (*r)["fingerprint"].get<std::string>() << "\n";
  }
  return 0;
}

// ---------- status ----------

struct StatusArgs {
  std::string data;
  bool json = false;
};

int RunStatus(const StatusArgs& a) {
  Result<AgentClient> c = AgentClient::Open(a.data, {});
  if (!c.ok()) return Fail("status", c.status());
  Result<json> r = c->Call("GET", "/v1/status");
  if (!r.ok()) return Fail("status", r.status());
  if (Result<PublicIdentity> me = ReadPublicIdentity(a.data + "/identity.pub"); me.ok()) {
    (*r)["fingerprint"] = Fingerprint(*me);
  }
  if (a.json) {
    std::cout << DumpJson(*r, 2) << "\n";
    return 0;
  }
  const json& s = *r;
  std::cout << "agent       " << s["replica"].get<std::string>()
            << (s["org"].is_string() ? "  (" + s["org"].get<std::string>() + ")" : "") << "\n";
  if (s.contains("fingerprint")) {
    std::cout << "fingerprint " << s["fingerprint"].get<std::string>() << "\n";
  }
  std::cout << "records     " << s["records"] << "\n"
            << "outbox      " << s["outbox_depth"] << " edit(s) waiting for the broker\n"
            << "cursor      " << s["cursor"] << "\n";
  if (s["sync"].is_null()) {
    std::cout << "sync        off (start the agent with --broker and --broker-key)\n";
  } else {
    const json& y = s["sync"];
    std::cout << "broker      " << y["broker"].get<std::string>() << "  "
              << y["state"].get<std::string>()
              << (y["role"].get<std::string>().empty() ? "" : " as " + y["role"].get<std::string>())
              << "\n"
              << "log         " << y["cursor"] << " of " << y["broker_head"] << "\n"
              << "last sync   "
              << (y["last_sync"].get<std::string>().empty() ? "never"
                                                            : y["last_sync"].get<std::string>())
              << "\n"
              << "pushed      " << y["pushed"] << " (accepted " << y["accepted"] << ", refused "
              << y["refused"] << "), applied " << y["applied"] << " from others\n";
    if (y.contains("referral_queue")) {
      std::cout << "referrals   " << y["referral_queue"]
                << " step(s) waiting for the broker (switchboard refer list)\n";
    }
    if (y.value("quarantined", uint64_t{0}) > 0) {
      std::cout << "quarantine  " << y["quarantined"]
                << " item(s) from the broker set aside since start (switchboard quarantine)\n";
    }
    if (!y["last_error"].get<std::string>().empty()) {
      std::cout << "last error  " << Clean(y["last_error"].get<std::string>()) << "\n";
    }
  }
  return 0;
}

}  // namespace

void AddNetworkCommands(CLI::App& app, int& exit_code) {
  auto init = std::make_shared<InitArgs>();
  CLI::App* i = app.add_subcommand(
      "init",
      "Create a data directory with its keys: CURVE, encryption and signing key pairs "
      "(secret files mode 0600), the API token, and DIR/identity.pub to send to the "
      "network's maintainers");
  i->add_option("--data", init->data, "data directory to create")->required();
  i->add_option("--org", init->org, "the organization id this agent (or broker) speaks for")
      ->required();
  i->add_flag("--broker", init->broker, "make a broker's data directory instead of an agent's");
  i->callback([init, &exit_code] { exit_code = RunInit(*init); });

  auto broker = std::make_shared<BrokerArgs>();
  CLI::App* b = app.add_subcommand(
      "broker", "Run the broker: CURVE sync endpoint for enrolled agents, and its local API");
  b->add_option("--data", broker->data, "the broker's data directory (from init --broker)")
      ->required();
  b->add_option("--listen", broker->listen, "ZeroMQ endpoint for agents")->capture_default_str();
  b->add_option("--api", broker->api, "local API, 127.0.0.1:PORT (0: any free port)")
      ->capture_default_str();
  b->add_option("--log-retention", broker->log_retention,
                "log entries kept; agents further behind get a snapshot")
      ->capture_default_str();
  b->add_option("--gc-max-age-days", broker->gc_max_age_days,
                "deleted records are collected once every agent acknowledged them; an agent "
                "silent longer than this no longer holds collection back and, when it returns, "
                "is sent a checkpoint and its edits of collected records go to review")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{36500}));
  b->add_option("--gc-interval", broker->gc_interval_s,
                "seconds between tombstone collections (0: never)")
      ->capture_default_str();
  b->add_option("--sessions-per-org", broker->sessions_per_org,
                "agents one organization may have connected at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  b->add_option("--replicas-per-org", broker->replicas_per_org,
                "replica ids (agent installations) one organization may ever use")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  b->add_option("--referral-quota", broker->referral_quota,
                "unanswered referrals one organization may have waiting for another (0: no limit)")
      ->capture_default_str();
  b->add_option("--log-bytes-per-hour", broker->log_bytes_per_hour,
                "bytes of log one partner's pushes may write per hour (a sliding allowance); "
                "pushes beyond it are refused until it refills")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 50));
  b->add_option("--catch-ups-per-org", broker->catchups_per_org,
                "agents of one organization that may start from the beginning of the log (cursor "
                "0) per --catch-up-interval; more are told to try again later")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  b->add_option("--catch-up-interval", broker->catchup_interval_s,
                "seconds of the --catch-ups-per-org allowance")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{86400}));
  b->add_option("--console", broker->console,
                "serve the maintainers' review console on 127.0.0.1:PORT (0: any free port); "
                "sign in with DIR/console.token");
  b->callback([broker, &exit_code] { exit_code = RunBroker(*broker); });

  auto enroll = std::make_shared<EnrollArgs>();
  CLI::App* e = app.add_subcommand("enroll",
                                   "Manage which organizations may connect (through "
                                   "the running broker's local API)");
  e->require_subcommand(1);
  CLI::App* add = e->add_subcommand("add", "enroll an organization from its identity.pub");
  add->add_option("--data", enroll->data, "the broker's data directory")->required();
  add->add_option("--role", enroll->role, "partner or maintainer")
      ->check(CLI::IsMember({"partner", "maintainer"}))
      ->capture_default_str();
  add->add_option("--key", enroll->key, "the organization's identity.pub")
      ->required()
      ->check(CLI::ExistingFile);
  add->add_flag("--json", enroll->json, "machine-readable output");
  add->callback([enroll, &exit_code] { exit_code = RunEnrollAdd(*enroll); });
  CLI::App* list = e->add_subcommand("list", "list enrolled organizations");
  list->add_option("--data", enroll->data, "the broker's data directory")->required();
  list->add_flag("--json", enroll->json, "machine-readable output");
  list->callback([enroll, &exit_code] { exit_code = RunEnrollList(*enroll); });
  CLI::App* revoke = e->add_subcommand("revoke",
                                       "revoke an organization: its key is refused "
                                       "and its agent cut off within seconds");
  revoke->add_option("--data", enroll->data, "the broker's data directory")->required();
  revoke->add_option("ORG", enroll->org, "organization id")->required();
  revoke->add_flag("--json", enroll->json, "machine-readable output");
  revoke->callback([enroll, &exit_code] { exit_code = RunEnrollRevoke(*enroll); });
  CLI::App* rekey = e->add_subcommand(
      "rekey",
      "replace an enrolled organization's keys with those of a new identity.pub (after "
      "checking its fingerprint with the organization): shows the old and new fingerprints, "
      "refuses the old key and cuts its connections");
  rekey->add_option("--data", enroll->data, "the broker's data directory")->required();
  rekey->add_option("--key", enroll->key, "the organization's new identity.pub")
      ->required()
      ->check(CLI::ExistingFile);
  rekey->add_flag("--json", enroll->json, "machine-readable output");
  rekey->callback([enroll, &exit_code] { exit_code = RunEnrollRekey(*enroll); });
  CLI::App* role =
      e->add_subcommand("role", "change an enrolled organization's role (its keys stay)");
  role->add_option("--data", enroll->data, "the broker's data directory")->required();
  role->add_option("ORG", enroll->org, "organization id")->required();
  role->add_option("--role", enroll->role, "partner or maintainer")
      ->required()
      ->check(CLI::IsMember({"partner", "maintainer"}));
  role->add_flag("--json", enroll->json, "machine-readable output");
  role->callback([enroll, &exit_code] { exit_code = RunEnrollRole(*enroll); });
  CLI::App* reinstate = e->add_subcommand(
      "reinstate", "let a revoked organization back in, with the keys it had or new ones (--key)");
  reinstate->add_option("--data", enroll->data, "the broker's data directory")->required();
  reinstate->add_option("ORG", enroll->org, "organization id")->required();
  reinstate->add_option("--key", enroll->key, "a new identity.pub for it (optional)")
      ->check(CLI::ExistingFile);
  reinstate->add_flag("--json", enroll->json, "machine-readable output");
  reinstate->callback([enroll, &exit_code] { exit_code = RunEnrollReinstate(*enroll); });

  auto status = std::make_shared<StatusArgs>();
  CLI::App* st = app.add_subcommand(
      "status", "Show an agent's connection, cursor, outbox depth and last sync");
  st->add_option("--data", status->data, "the agent's data directory")->required();
  st->add_flag("--json", status->json, "machine-readable output");
  st->callback([status, &exit_code] { exit_code = RunStatus(*status); });
}

}  // namespace sb::cli

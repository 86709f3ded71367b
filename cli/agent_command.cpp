// `switchboard agent --data DIR [--config FILE] [--api 127.0.0.1:PORT] [--public-api ADDR]`: runs a
// partner's agent. Wires the real clock, store and HTTP server into the agent's libraries.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "agents/agent.h"
#include "agents/hsds_api.h"
#include "base/json.h"
#include "cli/commands.h"
#include "crypto/identity.h"
#include "store/backup.h"
#include "store/data_dir.h"

namespace sb::cli {
namespace {

struct AgentArgs {
  std::string data;
  std::string config;
  std::string api;
  std::string broker;      // tcp://HOST:PORT
  std::string broker_key;  // the broker's identity.pub
  double prekey_rotate_hours = 7 * 24;
  double prekey_grace_hours = 14 * 24;
  std::string public_api;  // HOST:PORT of the token-less HSDS read API ("" : none)
  double public_api_rate = 5;
  double public_api_burst = 30;
};

struct AgentConfig {
  std::string api = "127.0.0.1:7420";
  uint64_t max_skew_ms = 60'000;
  std::string log_level = "info";
};

Result<AgentConfig> LoadConfig(const std::string& file) {
  AgentConfig c;
  if (file.empty()) return c;
  try {
    toml::table t = toml::parse_file(file);
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      if (key == "api" && v.is_string())
        c.api = *v.value<std::string>();
      else if (key == "max_skew_ms" && v.is_integer())
        c.max_skew_ms = *v.value<int64_t>();
      else if (key == "log_level" && v.is_string())
        c.log_level = *v.value<std::string>();
      else
        return Status::InvalidArgument(file + ": unknown or mistyped setting '" + key +
                                       "' (known: api, max_skew_ms, log_level)");
    }
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(file + ": " + std::string(e.description()));
  }
  return c;
}

Result<std::pair<std::string, int>> ParseHostPort(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--api must be HOST:PORT");
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Status::InvalidArgument("--api: port must be a number from 0 to 65535");
  }
  return std::make_pair(host, std::stoi(port));
}

int Fail(const Status& s) {
  std::cerr << "switchboard agent: " << s.message() << "\n";
  return 1;
}

int RunAgent(const AgentArgs& args) {
  auto logger = spdlog::stderr_color_mt("agent");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  Result<AgentConfig> config = LoadConfig(args.config);
  if (!config.ok()) return Fail(config.status());
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  Result<std::pair<std::string, int>> api =
      ParseHostPort(args.api.empty() ? config->api : args.api);
  if (!api.ok()) return Fail(api.status());

  // Signals are handled by one thread with sigwait; block them everywhere else first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<DataDir> dir = DataDir::OpenOrCreate(args.data, "agent");
  if (!dir.ok()) return Fail(dir.status());
  Agent::Options options;
  options.pre_keys.rotate_ms = static_cast<uint64_t>(args.prekey_rotate_hours * 3600 * 1000);
  options.pre_keys.grace_ms = static_cast<uint64_t>(args.prekey_grace_hours * 3600 * 1000);
  options.replica = dir->replica;
  options.max_skew_ms = config->max_skew_ms;
  // Syncing needs the keys `switchboard init` made, and the broker's public identity; keys
  // without a broker: edits wait in the outbox.
  if (!args.broker.empty() || !args.broker_key.empty()) {
    if (args.broker.empty() || args.broker_key.empty()) {
      return Fail(Status::InvalidArgument("--broker and --broker-key go together"));
    }
    Result<Identity> me = Identity::Load(args.data);
    if (!me.ok()) {
      return Fail(
          me.status().WithContext("this agent has no keys (create its data directory "
                                  "with: switchboard init --data DIR --org ORG)"));
    }
    options.identity = std::move(me).value();
    Result<PublicIdentity> broker = ReadPublicIdentity(args.broker_key);
    if (!broker.ok()) return Fail(broker.status().WithContext("--broker-key"));
    options.broker = *broker;
  } else if (Result<Identity> me = Identity::Load(args.data); me.ok()) {
    options.identity = std::move(me).value();
  }
  // What this agent receives or stored and cannot use is kept aside, never a reason to stop
  // (issue 10).
  auto agent = Agent::Open(dir->store.get(), SystemClock::Get(), std::move(options));
  if (!agent.ok()) return Fail(agent.status().WithContext("cannot load " + args.data));

  if (args.broker.empty() && (*agent)->directory()->restored()) {
    // Restored from a backup, but stand-alone: there is no broker to catch up with first.
    if (Status s = (*agent)->directory()->ClearRestored(); !s.ok()) return Fail(s);
  }
  ApiServer::Options ao;
  ao.host = api->first;
  ao.port = api->second;
  ao.token = dir->token;
  ao.checkpoint = [store = dir->store.get(), data = args.data] {
    return CheckpointForBackup(*store, data);
  };
  Result<int> port = (*agent)->BindApi(ao);
  if (!port.ok()) return Fail(port.status());
  std::string where = ao.host + ":" + std::to_string(*port);
  nlohmann::json runtime = {{"api", where}, {"pid", ::getpid()}};
  // The public HSDS read API: no token, the public's view, rate-limited (agents/hsds_api.h).
  std::unique_ptr<PublicHsdsServer> public_api;
  std::thread public_thread;
  if (!args.public_api.empty()) {
    Result<std::pair<std::string, int>> addr = ParseHostPort(args.public_api);
    if (!addr.ok()) return Fail(addr.status().WithContext("--public-api"));
    PublicHsdsServer::Options po;
    po.host = addr->first;
    po.port = addr->second;
    po.rate_per_second = args.public_api_rate;
    po.burst = args.public_api_burst;
    public_api = std::make_unique<PublicHsdsServer>((*agent)->directory(), SystemClock::Get(), po);
    Result<int> public_port = public_api->Bind();
    if (!public_port.ok()) return Fail(public_port.status());
    runtime["public_api"] = po.host + ":" + std::to_string(*public_port);
    spdlog::info("public HSDS API (read-only, no token) on http://{}",
                 runtime["public_api"].get<std::string>());
    public_thread = std::thread([server = public_api.get()] { server->Serve(); });
  }
  Status wrote = WriteFileAtomic(dir->RuntimePath(), DumpJson(runtime) + "\n");
  if (!wrote.ok()) return Fail(wrote);

  size_t records = (*agent)->directory()->Read([](const Directory& d) { return d.size(); });
  spdlog::info("agent {} ready: {} records, API on http://{} (token in {})",
               ReplicaHex(dir->replica), records, where, dir->TokenPath());

  if (!args.broker.empty()) {
    Status started = (*agent)->Connect(args.broker);
    if (!started.ok()) return Fail(started);
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("agent: signal {}, shutting down", sig);
    (*agent)->StopApi();
  });
  (*agent)->ServeApi();
  // Serve returned (Stop was called, by the signal or a failure): wake the waiter if needed.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (public_api) {
    public_api->Stop();
    public_thread.join();
  }
  (*agent)->Disconnect();
  ::unlink(dir->RuntimePath().c_str());
  spdlog::info("agent stopped");
  return 0;
}

}  // namespace

void AddAgentCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AgentArgs>();
  CLI::App* cmd = app.add_subcommand(
      "agent",
      "Run a partner organization's agent: the local directory replica and its HTTP API on "
      "127.0.0.1 (default port 7420). The first start creates DIR, its replica id and "
      "DIR/api.token (mode 0600)");
  cmd->add_option("--data", args->data, "data directory")->required();
  cmd->add_option("--config", args->config,
                  "TOML config file (api = \"127.0.0.1:7420\", max_skew_ms, log_level)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--api", args->api,
                  "where the local API listens, 127.0.0.1:PORT (0: any free port)");
  cmd->add_option("--public-api", args->public_api,
                  "also serve the HSDS 3.0 read API (GET /, /services, /organizations, ...) "
                  "without a token on HOST:PORT: read-only, only published, non-confidential "
                  "data of vetted organizations, rate-limited per client address");
  cmd->add_option("--public-api-rate", args->public_api_rate,
                  "requests per second each client address may make to --public-api")
      ->check(CLI::Range(0.001, 100000.0))
      ->capture_default_str();
  cmd->add_option("--public-api-burst", args->public_api_burst,
                  "requests a client address may make at once to --public-api")
      ->check(CLI::Range(1.0, 100000.0))
      ->capture_default_str();
  cmd->add_option("--broker", args->broker, "the broker to sync with, tcp://HOST:PORT");
  cmd->add_option("--broker-key", args->broker_key,
                  "the broker's identity.pub (its public keys; the connection is pinned to them)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--prekey-rotate-hours", args->prekey_rotate_hours,
                  "how often the referral pre-key (what referrals to this organization are "
                  "sealed to) is replaced")
      ->check(CLI::Range(0.01, 24.0 * 366))
      ->capture_default_str();
  cmd->add_option("--prekey-grace-hours", args->prekey_grace_hours,
                  "how long a replaced pre-key's secret is kept, so that referrals sealed to it "
                  "still open; then it is destroyed (forward secrecy)")
      ->check(CLI::Range(0.0, 24.0 * 366))
      ->capture_default_str();
  cmd->footer(
      "A full disk under DIR: edits get HTTP 507 and writing resumes by itself once there is "
      "room; a disk I/O error: 503. A clock more than max_skew_ms (60 s) ahead of the broker's: "
      "edits get 409 naming the skew and pushes wait until it is set right (GET /v1/status: "
      "sync.clock_skew_ms; /metrics: switchboard_clock_skew_seconds).");
  cmd->callback([args, &exit_code] { exit_code = RunAgent(*args); });
}

}  // namespace sb::cli

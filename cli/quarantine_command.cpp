// `switchboard quarantine`: what a running agent or broker received and could not use — log
// entries that did not verify, referrals that broke a limit, malformed messages from a partner
// — with the reason each was set aside (store/quarantine.h), through its local API
// (GET /v1/quarantine; DIR/agent.json or DIR/broker.json says where it listens).
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "cli/commands.h"
#include "cli/internal/agent_client.h"
#include "cli/internal/dir_format.h"

namespace sb::cli {
namespace {

using nlohmann::json;

struct QuarantineArgs {
  std::string data;
  size_t limit = 50;
  bool json = false;
};

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

int Run(const QuarantineArgs& a) {
  AgentClient::Options o;
  if (Exists(a.data + "/broker.json")) o.runtime_file = "broker.json";
  Result<AgentClient> client = AgentClient::Open(a.data, o);
  if (!client.ok()) {
    std::cerr << "switchboard quarantine: no agent or broker is running for " << a.data
              << " (start it first; the quarantine is read through its local API)\n";
    return 1;
  }
  Result<json> reply = client->Call("GET", "/v1/quarantine");
  if (!reply.ok()) {
    std::cerr << "switchboard quarantine: " << reply.status().message() << "\n";
    return 1;
  }
  json list = (*reply)["quarantine"];
  if (list.size() > a.limit)
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(a.limit), list.end());
  if (a.json) {
    std::cout << DumpJson(json{{"quarantine", list}, {"kept", (*reply)["kept"]}}, 2) << "\n";
    return 0;
  }
  if (list.empty()) {
    std::cout << "nothing quarantined\n";
    return 0;
  }
  std::cout << Truncate("WHEN", 17) << "  " << Truncate("SOURCE", 8) << "  " << Truncate("WHAT", 20)
            << "  " << Truncate("FROM", 10) << "  REASON\n";
  for (const json& e : list) {
    std::cout << Truncate(ShortTime(e.value("at", "")), 17) << "  "
              << Truncate(Clean(e.value("source", "")), 8) << "  "
              << Truncate(Clean(e.value("ref", "")), 20) << "  "
              << Truncate(ShortId(Clean(e.value("from", ""))), 10) << "  "
              << Clean(e.value("reason", "")) << "\n";
  }
  std::cout << (*reply)["kept"].get<uint64_t>() << " kept (the newest " << 1000
            << " are kept; `--json` shows each one's first bytes)\n";
  return 0;
}

}  // namespace

void AddQuarantineCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<QuarantineArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quarantine",
      "Show what a running agent or broker received and could not use (a log entry that did "
      "not verify, a referral that broke a limit, a malformed message), with the reason each "
      "was set aside");
  cmd->add_option("--data", args->data, "the agent's or broker's data directory")->required();
  cmd->add_option("--limit", args->limit, "show at most this many, newest first (default 50)");
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->callback([args, &exit_code] { exit_code = Run(*args); });
}

}  // namespace sb::cli

// `switchboard maintainer add|list|remove`: the broker's maintainers as people (broker/
// maintainers.h), through the running broker's local API with the coordinator's token.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "cli/commands.h"
#include "cli/internal/agent_client.h"

namespace sb::cli {
namespace {

using nlohmann::json;

struct MaintainerArgs {
  std::string data, name;
  bool password_stdin = false;
  bool json = false;
};

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "switchboard maintainer " << cmd << ": " << s.message() << "\n";
  return 1;
}

int RunAdd(const MaintainerArgs& a) {
  json body = {{"name", a.name}};
  if (a.password_stdin) {
    std::string password;
    if (!std::getline(std::cin, password) || password.empty()) {
      return Fail("add", Status::InvalidArgument("--password-stdin: no password on stdin"));
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
    body["password"] = password;
  }
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("add", c.status());
  Result<json> r = c->Call("POST", "/v1/maintainers", body);
  if (!r.ok()) return Fail("add", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  std::cout << "added maintainer " << a.name << "; their decisions are signed "
            << (*r)["actor"].get<std::string>() << " in the audit log and the history\n";
  if (!a.password_stdin) {
    std::cout << "  console password  " << (*r)["password"].get<std::string>() << "\n";
  }
  std::cout << "  API token         " << (*r)["token"].get<std::string>() << "\n"
            << "Shown once: hand them to " << a.name
            << " in person. The password signs in to the console (with the name); the token is "
               "for the CLI: SWITCHBOARD_TOKEN=<token> switchboard review list --data "
            << a.data << "\n";
  return 0;
}

int RunList(const MaintainerArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("list", c.status());
  Result<json> r = c->Call("GET", "/v1/maintainers");
  if (!r.ok()) return Fail("list", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  if ((*r)["maintainers"].empty()) {
    std::cout << "no named maintainers yet (add one with: switchboard maintainer add NAME --data "
              << a.data << ")\n";
    return 0;
  }
  std::printf("%-24s %-32s %-20s %s\n", "NAME", "ACTS AS", "ADDED (UTC)", "ADDED BY");
  for (const json& m : (*r)["maintainers"]) {
    std::printf("%-24s %-32s %-20s %s\n", m["name"].get<std::string>().c_str(),
                m["actor"].get<std::string>().c_str(),
                m["added_at"].get<std::string>().substr(0, 19).c_str(),
                m["added_by"].get<std::string>().c_str());
  }
  return 0;
}

int RunRemove(const MaintainerArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("remove", c.status());
  Result<json> r = c->Call("POST", "/v1/maintainers/" + UrlEncode(a.name) + "/remove");
  if (!r.ok()) return Fail("remove", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
  } else {
    std::cout << "removed maintainer " << a.name
              << ": their token is refused and their console sessions end now\n";
  }
  return 0;
}

}  // namespace

void AddMaintainerCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<MaintainerArgs>();
  CLI::App* m = app.add_subcommand(
      "maintainer",
      "Manage the broker's maintainers, each with a console password and an API token of their "
      "own (through the running broker's local API, with its api.token)");
  m->require_subcommand(1);
  CLI::App* add = m->add_subcommand(
      "add", "add a maintainer: prints their console password and API token, once");
  add->add_option("NAME", args->name, "lower-case letters, digits, '.', '_', '-'")->required();
  add->add_option("--data", args->data, "the broker's data directory")->required();
  add->add_flag("--password-stdin", args->password_stdin,
                "read their console password (12+ characters) from stdin instead of making one");
  add->add_flag("--json", args->json, "machine-readable output");
  add->callback([args, &exit_code] { exit_code = RunAdd(*args); });
  CLI::App* list = m->add_subcommand("list", "list the named maintainers");
  list->add_option("--data", args->data, "the broker's data directory")->required();
  list->add_flag("--json", args->json, "machine-readable output");
  list->callback([args, &exit_code] { exit_code = RunList(*args); });
  CLI::App* remove = m->add_subcommand(
      "remove", "remove a maintainer: their token is refused and their console sessions end");
  remove->add_option("NAME", args->name, "the maintainer's name")->required();
  remove->add_option("--data", args->data, "the broker's data directory")->required();
  remove->add_flag("--json", args->json, "machine-readable output");
  remove->callback([args, &exit_code] { exit_code = RunRemove(*args); });
}

}  // namespace sb::cli

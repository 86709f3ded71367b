// `switchboard refer send|list|show|accept|decline|start|complete|cancel|purge` against a
// running agent's API (agents/referral_api.h), and `switchboard audit verify|show`, which
// reads a data directory's audit log directly (the process may be running: read-only open).
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "agents/hsds_json.h"
#include "base/json.h"
#include "cli/commands.h"
#include "cli/internal/agent_client.h"
#include "cli/internal/dir_format.h"
#include "store/audit.h"
#include "store/store.h"
#include "transport/referral_rules.h"

namespace sb::cli {

namespace {

using nlohmann::json;
using sb::cli::AgentClient;

struct ReferArgs {
  std::string data;
  bool json = false;
  std::string to, service, urgency = "routine", consent, consent_by, payload;
  double expires_in_hours = 0;
  bool inbox = false, outbox = false;
  std::string status, id, reason;
};

void PrintJson(const json& j) {
  std::cout << DumpJson(j, 2) << "\n";
}

std::string Who(const json& r, const std::string& key) {
  return cli::ShortId(r.value(key, ""));
}

void PrintReferral(const json& r) {
  std::cout << "referral " << r.value("id", "") << "\n"
            << "  status    " << r.value("status", "");
  if (r.contains("waiting") && !r["waiting"].empty()) {
    std::cout << " (waiting for the broker: ";
    for (size_t i = 0; i < r["waiting"].size(); ++i) {
      std::cout << (i ? ", " : "") << r["waiting"][i].get<std::string>();
    }
    std::cout << ")";
  }
  std::cout << "\n"
            << "  from      " << r.value("sender", "") << "\n"
            << "  to        " << r.value("recipient", "") << "\n";
  if (!r.value("service", "").empty())
    std::cout << "  service   " << r["service"].get<std::string>() << "\n";
  std::cout << "  urgency   " << r.value("urgency", "") << "\n"
            << "  created   " << cli::ShortTime(r.value("created", "")) << "\n"
            << "  expires   " << cli::ShortTime(r.value("expires", "")) << "\n";
  if (r.contains("consent")) {
    std::cout << "  consent   " << cli::Clean(r["consent"].value("scope", "")) << " (by "
              << cli::Clean(r["consent"].value("by", "")) << ", "
              << cli::ShortTime(r["consent"].value("at", "")) << ")\n";
  }
  if (!r.value("refused", "").empty())
    std::cout << "  refused   " << cli::Clean(r["refused"].get<std::string>()) << "\n";
  if (r.contains("payload")) {
    if (r["payload"].is_object()) {
      std::cout << "  payload (decrypted on this agent)\n";
      for (const auto& [k, v] : r["payload"].items()) {
        std::cout << "    " << k << ": " << cli::ValueText(v) << "\n";
      }
    } else {
      std::cout << "  payload   unavailable: " << r.value("payload_error", "") << "\n";
    }
  }
  std::cout << "  history\n";
  for (const auto& s : r.value("steps", json::array())) {
    std::cout << "    " << cli::ShortTime(s.value("at", "")) << "  " << s.value("action", "")
              << " by " << cli::ShortId(s.value("actor", ""));
    if (s.contains("reason")) std::cout << ": " << cli::Clean(s["reason"].get<std::string>());
    std::cout << "\n";
  }
}

Result<std::string> ReadPayload(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::NotFound("cannot read the payload file " + file);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  return text;
}

Status Send(const ReferArgs& a) {
  if (a.consent.empty() || a.consent_by.empty()) {
    return Status::InvalidArgument(
        "refusing to send without the client's consent: pass --consent SCOPE (what the client "
        "agreed to share, with whom) and --consent-by NAME (who obtained it)");
  }
  ASSIGN_OR_RETURN(std::string text, ReadPayload(a.payload));
  Result<json> parsed = ParseReferralPayload(text);
  if (!parsed.ok()) {
    return parsed.status().WithContext(
        "the payload must be a JSON object, e.g. {\"alias\": \"R.\", \"contact\": \"...\", "
        "\"language\": \"es\", \"needs\": [...]}");
  }
  json payload = std::move(parsed).value();
  json body = {{"to", a.to},
               {"urgency", a.urgency},
               {"consent", {{"scope", a.consent}, {"by", a.consent_by}}},
               {"payload", payload}};
  if (!a.service.empty()) body["service"] = a.service;
  if (a.expires_in_hours != 0) body["expires_in_hours"] = a.expires_in_hours;  // the agent checks
  ASSIGN_OR_RETURN(AgentClient client, AgentClient::Open(a.data, {}));
  ASSIGN_OR_RETURN(json r, client.Call("POST", "/v1/referrals", body));
  if (a.json) {
    PrintJson(r);
  } else {
    std::cout << "sealed referral " << r.value("id", "") << " for " << r.value("recipient", "")
              << " (" << r.value("urgency", "") << ", expires "
              << cli::ShortTime(r.value("expires", ""))
              << "); it goes to the broker as soon as the agent is connected\n";
  }
  return Status::Ok();
}

Status List(const ReferArgs& a) {
  if (a.inbox && a.outbox) return Status::InvalidArgument("--inbox or --outbox, not both");
  ASSIGN_OR_RETURN(AgentClient client, AgentClient::Open(a.data, {}));
  ASSIGN_OR_RETURN(json r,
                   client.Call("GET", cli::WithQuery("/v1/referrals", {{"box", a.inbox    ? "inbox"
                                                                               : a.outbox ? "outbox"
                                                                                          : ""},
                                                                       {"status", a.status}})));
  if (a.json) {
    PrintJson(r);
    return Status::Ok();
  }
  cli::Table t({"ID", "BOX", "STATUS", "FROM", "TO", "URGENCY", "CREATED"},
               {36, 6, 12, 10, 10, 9, 19});
  for (const auto& x : r["referrals"]) {
    std::string status = x.value("status", "");
    if (!x["waiting"].empty()) status += "*";
    t.Add({x.value("id", ""), x.value("box", ""), status, Who(x, "sender"), Who(x, "recipient"),
           x.value("urgency", ""), cli::ShortTime(x.value("created", ""))});
  }
  if (t.size() == 0) {
    std::cout << "no referrals\n";
  } else {
    t.Print(std::cout);
    std::cout << t.size() << " referral(s); * a step waits for the broker\n";
  }
  return Status::Ok();
}

Status Show(const ReferArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, AgentClient::Open(a.data, {}));
  ASSIGN_OR_RETURN(json r, client.Call("GET", "/v1/referrals/" + cli::UrlEncode(a.id)));
  if (a.json) {
    PrintJson(r);
  } else {
    PrintReferral(r);
  }
  return Status::Ok();
}

Status Act(const ReferArgs& a, const std::string& action) {
  if (action == "decline" && a.reason.empty()) {
    return Status::InvalidArgument(
        "declining needs a reason: --reason TEXT (no personal data; "
        "the broker sees it)");
  }
  ASSIGN_OR_RETURN(AgentClient client, AgentClient::Open(a.data, {}));
  json body = json::object();
  if (!a.reason.empty()) body["reason"] = a.reason;
  ASSIGN_OR_RETURN(
      json r, client.Call("POST", "/v1/referrals/" + cli::UrlEncode(a.id) + "/" + action, body));
  if (a.json) {
    PrintJson(r);
  } else {
    std::cout << "referral " << a.id << ": " << action
              << " recorded; it takes effect when the broker confirms it (status until then: "
              << r.value("status", "") << ")\n";
  }
  return Status::Ok();
}

Status Purge(const ReferArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, AgentClient::Open(a.data, {}));
  ASSIGN_OR_RETURN(json r, client.Call("POST", "/v1/referrals/" + cli::UrlEncode(a.id) + "/purge",
                                       json::object()));
  if (a.json) {
    PrintJson(r);
  } else {
    std::cout << "referral " << a.id << ": its data key is destroyed on this agent; the payload "
              << "can no longer be read here\n";
  }
  return Status::Ok();
}

Status RotateKey(const ReferArgs& a) {
  ASSIGN_OR_RETURN(AgentClient client, AgentClient::Open(a.data, {}));
  ASSIGN_OR_RETURN(json r, client.Call("POST", "/v1/prekeys/rotate", json::object()));
  if (a.json) {
    PrintJson(r);
  } else {
    std::cout << "new referral pre-key " << r["current"].get<uint64_t>()
              << " (published to the broker within seconds); " << r["destroyed"].get<size_t>()
              << " retired pre-key secret(s) past their grace destroyed; " << r["held"].size()
              << " held\n";
  }
  return Status::Ok();
}

// --- audit ---

Result<std::unique_ptr<Store>> OpenReadOnly(const std::string& data) {
  StoreOptions o;
  o.read_only = true;
  Result<std::unique_ptr<Store>> s = Store::Open(data + "/db", o);
  if (!s.ok()) {
    return s.status().WithContext("cannot read the store in " + data +
                                  " (is it a switchboard data directory?)");
  }
  return s;
}

Status AuditVerify(const ReferArgs& a) {
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenReadOnly(a.data));
  ASSIGN_OR_RETURN(AuditCheck c, AuditLog::Verify(*store));
  if (a.json) {
    PrintJson(
        {{"ok", c.ok}, {"entries", c.entries}, {"first_bad", c.first_bad}, {"problem", c.problem}});
  } else if (c.ok) {
    std::cout << "audit log intact: " << c.entries << " entries, each linked to the one before\n";
  } else {
    std::cout << "audit log BROKEN at entry " << c.first_bad << ": " << c.problem << "\n"
              << "(" << c.entries << " entries before it verify)\n";
  }
  return c.ok ? Status::Ok()
              : Status::Corruption("the audit log fails verification at entry " +
                                   std::to_string(c.first_bad));
}

Status AuditShow(const ReferArgs& a) {
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenReadOnly(a.data));
  AuditLog log(store.get());
  ASSIGN_OR_RETURN(std::vector<AuditEntry> tail, log.Tail(50));
  if (a.json) {
    json out = json::array();
    for (const auto& e : tail) {
      out.push_back({{"seq", e.seq},
                     {"at_ms", e.at_ms},
                     {"actor", e.actor},
                     {"action", e.action},
                     {"subject", e.subject},
                     {"hash", e.hash}});
    }
    PrintJson({{"entries", out}});
    return Status::Ok();
  }
  cli::Table t({"SEQ", "AT", "ACTOR", "ACTION", "SUBJECT"}, {8, 19, 36, 22, 36});
  for (const auto& e : tail) {
    t.Add({std::to_string(e.seq), cli::ShortTime(IsoTime(e.at_ms)), e.actor, e.action, e.subject});
  }
  t.Print(std::cout);
  return Status::Ok();
}

CLI::App* Sub(CLI::App* parent, const std::string& name, const std::string& help,
              const std::shared_ptr<ReferArgs>& args, int& exit_code, const std::string& prefix,
              std::function<Status(const ReferArgs&)> run) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("--data", args->data, "the agent's data directory")->required();
  cmd->add_flag("--json", args->json, "print JSON instead of text");
  cmd->callback([args, &exit_code, name, prefix, run] {
    Status s = run(*args);
    std::cout << std::flush;
    if (!s.ok()) {
      std::cerr << "switchboard " << prefix << " " << name << ": " << s.message() << "\n";
      exit_code = 1;
    } else {
      exit_code = 0;
    }
  });
  return cmd;
}

}  // namespace

void AddReferCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReferArgs>();
  CLI::App* refer = app.add_subcommand(
      "refer",
      "Referral handoffs through the running agent: sealed end to end for the recipient "
      "organization (the broker never sees the contents), with their status coming back until "
      "the loop is closed.");
  refer->require_subcommand(1);

  CLI::App* send = Sub(refer, "send", "Seal a referral for another organization and send it", args,
                       exit_code, "refer", Send);
  send->add_option("--to", args->to, "the recipient organization id")->required();
  send->add_option("--service", args->service, "the recipient's service record id (optional)");
  send->add_option("--urgency", args->urgency, "emergency, urgent or routine (default routine)")
      ->check(CLI::IsMember({"emergency", "urgent", "routine"}));
  send->add_option("--consent", args->consent,
                   "the client's consent: what they agreed to share, with whom (required)");
  send->add_option("--consent-by", args->consent_by, "who obtained the consent (required)");
  send->add_option("--expires-in", args->expires_in_hours,
                   "hours until it expires unanswered (default 336, two weeks)");
  send->add_option("--payload", args->payload,
                   "a JSON file with alias, contact, contact_times, language, needs, notes; "
                   "- for standard input")
      ->required();

  CLI::App* list =
      Sub(refer, "list", "List referrals sent and received", args, exit_code, "refer", List);
  list->add_flag("--inbox", args->inbox, "only referrals to this organization");
  list->add_flag("--outbox", args->outbox, "only referrals from this organization");
  list->add_option("--status", args->status,
                   "only this status (sent, delivered, accepted, declined, expired, in_progress, "
                   "completed, cancelled)");

  CLI::App* show = Sub(refer, "show", "Show a referral, its payload decrypted on this agent", args,
                       exit_code, "refer", Show);
  show->add_option("ID", args->id, "referral id")->required();

  struct ActionHelp {
    const char* name;
    const char* help;
  };
  for (const ActionHelp& h : {ActionHelp{"accept", "Accept a referral sent to you"},
                              ActionHelp{"decline", "Decline a referral sent to you (--reason)"},
                              ActionHelp{"start", "Mark an accepted referral in progress"},
                              ActionHelp{"complete", "Complete a referral in progress"},
                              ActionHelp{"cancel", "Cancel a referral you sent"}}) {
    std::string action = h.name;
    CLI::App* cmd = Sub(refer, action, h.help, args, exit_code, "refer",
                        [action](const ReferArgs& a) { return Act(a, action); });
    cmd->add_option("ID", args->id, "referral id")->required();
    if (action == "decline") {
      cmd->add_option("--reason", args->reason, "why (no personal data)")->required();
    } else {
      cmd->add_option("--reason", args->reason, "a note (optional)");
    }
  }
  CLI::App* purge = Sub(refer, "purge",
                        "After closure: destroy the referral's data key on this agent, so its "
                        "payload can no longer be read from any copy here",
                        args, exit_code, "refer", Purge);
  purge->add_option("ID", args->id, "referral id")->required();
  Sub(refer, "rotate-key",
      "Replace this organization's referral pre-key now (it also rotates on its own, see "
      "`agent --prekey-rotate-hours`), and destroy retired pre-key secrets past their grace",
      args, exit_code, "refer", RotateKey);

  CLI::App* audit =
      app.add_subcommand("audit", "The hash-chained audit log of a broker or agent data directory");
  audit->require_subcommand(1);
  Sub(audit, "verify", "Check every entry's hash and link; names the first bad entry", args,
      exit_code, "audit", AuditVerify);
  Sub(audit, "show", "Print the last 50 entries", args, exit_code, "audit", AuditShow);
}

}  // namespace sb::cli

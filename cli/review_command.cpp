// `switchboard review`: the maintainers' review queue, through the running broker's local API
// (DIR/broker.json says where it listens, DIR/api.token holds the token; broker/review_api.h).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/internal/agent_client.h"
#include "cli/internal/dir_format.h"

namespace sb::cli {
namespace {

using nlohmann::json;

struct ReviewArgs {
  std::string data;
  std::vector<std::string> ids;
  std::string kind, org, field, reason, value;
  uint64_t min_age = 0;
  size_t limit = 200;
  bool json = false;
};

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "switchboard review " << cmd << ": " << s.message() << "\n";
  return 1;
}

std::string Age(uint64_t s) {
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

// before/after of any kind of item as one line.
std::string Brief(const json& v) {
  if (v.is_array()) {
    std::string out;
    for (const json& x : v) {
      std::string one = x.is_object() && x.contains("field")
                            ? x["field"].get<std::string>() + "=" + ValueText(x["value"])
                            : ValueText(x);
      out += (out.empty() ? "" : " | ") + one;
    }
    return out.empty() ? "-" : out;
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [k, x] : v.items()) out += (out.empty() ? "" : ", ") + k + "=" + ValueText(x);
    return out;
  }
  return ValueText(v);
}

std::string Who(const json& item) {
  const json& who = item["who"];
  if (who.is_object() && who["org"].is_string()) return ShortId(who["org"].get<std::string>());
  return who.is_object() ? who.value("replica", "") : "";
}

int RunList(const ReviewArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("list", c.status());
  std::string path =
      WithQuery("/v1/review", {{"kind", a.kind},
                               {"org", a.org},
                               {"field", a.field},
                               {"min_age", a.min_age ? std::to_string(a.min_age) : ""},
                               {"limit", std::to_string(a.limit)}});
  Result<json> r = c->Call("GET", path);
  if (!r.ok()) return Fail("list", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  const json& items = (*r)["items"];
  if (items.empty()) {
    std::cout << "nothing waits for review\n";
    return 0;
  }
  Table t({"ID", "KIND", "ORGANIZATION", "RECORD", "FIELD", "BEFORE", "AFTER", "BY", "AGE"},
          {16, 16, 24, 24, 16, 24, 24, 10, 0});
  for (const json& it : items) {
    std::string org = it.value("org_name", "");
    if (org.empty()) org = ShortId(it.value("org", ""));
    std::string rec = it.value("record_name", "");
    if (rec.empty()) rec = ShortId(it.value("record", ""));
    t.Add({it["id"], it["kind"], org, rec, it.value("field", ""), Brief(it["before"]),
           Brief(it["after"]), Who(it), Age(it.value("age_s", 0ULL))});
  }
  t.Print(std::cout);
  std::cout << items.size() << " of " << (*r)["total"] << " item(s); waiting in all:";
  for (const auto& [k, n] : (*r)["counts"].items()) std::cout << " " << k << " " << n;
  std::cout << "\n";
  return 0;
}

int RunShow(const ReviewArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail("show", c.status());
  Result<json> r = c->Call("GET", "/v1/review/" + UrlEncode(a.ids.front()));
  if (!r.ok()) return Fail("show", r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  const json& it = *r;
  auto line = [](const std::string& k, const std::string& v) {
    std::cout << k << std::string(k.size() < 13 ? 13 - k.size() : 1, ' ') << Clean(v) << "\n";
  };
  line("item", it["id"].get<std::string>() + "  (" + it["kind"].get<std::string>() + ")");
  line("organization", it.value("org_name", "") + "  " + it.value("org", ""));
  line("record", it.value("record_kind", "") + " " + it.value("record", "") + "  " +
                     it.value("record_name", ""));
  if (!it.value("field", "").empty()) line("field", it["field"]);
  if (!it.value("detail", "").empty()) line("detail", it["detail"]);
  line("by",
       Who(it) + (it["who"].is_object() ? "  replica " + it["who"].value("replica", "") : ""));
  if (it["when"].is_string()) line("when", ShortTime(it["when"].get<std::string>()));
  line("before", Brief(it["before"]));
  line("after", Brief(it["after"]));
  for (const json& s : it["siblings"]) {
    line("  sibling",
         ValueText(s["value"]) + "  by " +
             (s["org"].is_string() ? s["org"].get<std::string>() : "?") +
             (s["at"].is_string() ? " at " + ShortTime(s["at"].get<std::string>()) : ""));
  }
  std::string actions;
  for (const json& x : it["actions"])
    actions += (actions.empty() ? "" : ", ") + x.get<std::string>();
  line("actions", actions);
  const json& rec = it["record_view"];
  if (rec.is_object()) {
    std::cout << "\nthe record now:\n";
    Table t({"FIELD", "VALUE"}, {28, 0});
    for (const auto& [name, f] : rec["fields"].items()) t.Add({name, FieldText(f, 60)});
    t.Print(std::cout);
    if (!rec["history"].empty()) {
      std::cout << "\nhistory at the broker:\n";
      Table h({"LOG", "WHEN", "BY", "VIA", "OP", "FIELDS"}, {8, 19, 20, 8, 8, 0});
      for (const json& e : rec["history"]) {
        std::string fields;
        for (const json& f : e["fields"])
          fields += (fields.empty() ? "" : ",") + f.get<std::string>();
        h.Add({std::to_string(e["seq"].get<uint64_t>()), ShortTime(e["at"].get<std::string>()),
               e.value("by", e["org"].get<std::string>()), e["via"], e["op"], fields});
      }
      h.Print(std::cout);
    }
  }
  return 0;
}

int RunDecision(const std::string& action, const ReviewArgs& a) {
  Result<AgentClient> c = BrokerClient(a.data);
  if (!c.ok()) return Fail(action, c.status());
  if (action == "approve" && a.ids.size() > 1) {
    Result<json> r = c->Call("POST", "/v1/review/approve", json{{"ids", a.ids}});
    if (!r.ok()) return Fail(action, r.status());
    if (a.json) {
      std::cout << r->dump(2) << "\n";
    }
    int failed = 0;
    for (const json& x : (*r)["results"]) {
      if (!x["ok"].get<bool>()) {
        ++failed;
        if (!a.json)
          std::cerr << x["id"].get<std::string>() << ": " << x["error"].get<std::string>() << "\n";
      } else if (!a.json) {
        std::cout << "approved " << x["id"].get<std::string>() << "\n";
      }
    }
    return failed ? 1 : 0;
  }
  json body = json::object();
  if (action == "reject") body["reason"] = a.reason;
  if (action == "resolve") body["value"] = a.value;
  Result<json> r = c->Call("POST", "/v1/review/" + UrlEncode(a.ids.front()) + "/" + action, body);
  if (!r.ok()) return Fail(action, r.status());
  if (a.json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  std::string past = action == "approve"  ? "approved"
                     : action == "reject" ? "rejected"
                                          : "resolved";
  uint64_t seq = (*r)["seq"].get<uint64_t>();
  std::cout << past << " " << a.ids.front() << " as " << r->value("by", "?");
  if (seq) std::cout << " (broker log " << seq << "; it reaches every agent with the next sync)";
  std::cout << "\n";
  return 0;
}

}  // namespace

void AddReviewCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReviewArgs>();
  CLI::App* review =
      app.add_subcommand("review",
                         "The maintainers' review queue at the running broker: conflicts, new "
                         "organizations, moderated changes, refused pushes");
  review->require_subcommand(1);
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data", args->data, "the broker's data directory")->required();
    sub->add_flag("--json", args->json, "machine-readable output");
  };
  CLI::App* list = review->add_subcommand("list", "list what waits for review, oldest first");
  common(list);
  list->add_option("--kind", args->kind, "only this kind")
      ->check(CLI::IsMember({"conflict", "new_organization", "moderated_change", "refused_push"}));
  list->add_option("--org", args->org, "only this organization (id, or part of its name)");
  list->add_option("--field", args->field, "only this field");
  list->add_option("--min-age", args->min_age, "only items older than this many seconds");
  list->add_option("--limit", args->limit, "at most this many")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  list->callback([args, &exit_code] { exit_code = RunList(*args); });

  CLI::App* show = review->add_subcommand("show",
                                          "one item: before and after, who, when, the "
                                          "record and its history");
  common(show);
  show->add_option("ID", args->ids, "item id (from review list)")->required()->expected(1);
  show->callback([args, &exit_code] { exit_code = RunShow(*args); });

  CLI::App* approve = review->add_subcommand(
      "approve",
      "approve items: publish a moderated change, vet an organization, keep a "
      "conflict's displayed value, apply a refused push");
  common(approve);
  approve->add_option("ID", args->ids, "item id(s)")->required();
  approve->callback([args, &exit_code] { exit_code = RunDecision("approve", *args); });

  CLI::App* reject = review->add_subcommand(
      "reject",
      "reject a moderated change or an organization (the reason reaches the partner), "
      "or dismiss a refused push");
  common(reject);
  reject->add_option("ID", args->ids, "item id")->required()->expected(1);
  reject->add_option("--reason", args->reason, "why (shown to the partner)")->required();
  reject->callback([args, &exit_code] { exit_code = RunDecision("reject", *args); });

  CLI::App* resolve = review->add_subcommand(
      "resolve",
      "write a value yourself, superseding every sibling (a record edited while "
      "deleted: --value restore or --value delete)");
  common(resolve);
  resolve->add_option("ID", args->ids, "item id")->required()->expected(1);
  resolve->add_option("--value", args->value, "the value to write")->required();
  resolve->callback([args, &exit_code] { exit_code = RunDecision("resolve", *args); });
}

}  // namespace sb::cli

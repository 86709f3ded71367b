// `switchboard dir kinds [KIND] [--json]`: the built-in field table (conflict/hsds_schema.cpp):
// every HSDS 3.0 record kind, and per kind its fields with type, rule, who may read them,
// whether a partner's change waits for review, and the links ownership derives from. Needs no
// agent: it is the table this build validates against (schemas/HSDS.md explains it).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "conflict/field_schema.h"
#include "conflict/record.h"

namespace sb::cli {
namespace {

using nlohmann::json;

std::string Rule(const FieldSpec& f) {
  std::string r;
  if (f.type == FieldType::kInt) {
    r = std::to_string(f.min_int) + ".." + std::to_string(f.max_int);
  } else if (f.type == FieldType::kNumber) {
    r = *CanonicalNumber(std::to_string(f.min_number)) + ".." +
        *CanonicalNumber(std::to_string(f.max_number));
  } else if (!f.enum_values.empty()) {
    for (const auto& e : f.enum_values) r += (r.empty() ? "" : "|") + e;
  } else if (f.pattern != Pattern::kNone) {
    r = PatternRule(f.pattern);
    if (r.rfind("must be ", 0) == 0) r = r.substr(8);
  } else if (f.type == FieldType::kText) {
    r = "at most " + std::to_string(f.max_length) + " bytes";
  }
  return r;
}

json FieldJson(const FieldSpec& f) {
  json j = {{"name", f.name},
            {"type", FieldTypeName(f.type)},
            {"audience", AudienceName(f.audience)},
            {"moderated", f.moderated},
            {"maintainer_only", f.maintainer_only},
            {"rule", Rule(f)},
            {"help", f.help}};
  if (!f.link_kind.empty()) {
    j["link"] = {{"kind", f.link_kind}, {"owned", f.owned_link}};
  }
  return j;
}

int Run(const std::string& kind, bool as_json) {
  const FieldSchema& schema = FieldSchema::Hsds();
  std::vector<std::string> kinds = schema.KindNames();
  if (!kind.empty()) {
    if (Status s = schema.ValidateKind(kind); !s.ok()) {
      std::cerr << "switchboard dir kinds: " << s.message() << "\n";
      return 1;
    }
    kinds = {kind};
  }
  json out = json::array();
  for (const std::string& k : kinds) {
    json fields = json::array();
    for (const auto& [name, f] : schema.Kind(k)->fields) {
      if (IsShadowField(name)) continue;  // review data, written by maintainers' decisions
      fields.push_back(FieldJson(f));
    }
    out.push_back({{"kind", k}, {"fields", std::move(fields)}});
  }
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (kind.empty()) {
    std::cout << "record kinds (HSDS 3.0; `switchboard dir kinds KIND` for the fields), and "
                 "the links that must name the owner's own records:\n";
    for (const json& k : out) {
      std::string owned;
      for (const json& f : k["fields"]) {
        if (f.contains("link") && f["link"]["owned"].get<bool>())
          owned += (owned.empty() ? "" : ", ") + f["name"].get<std::string>();
      }
      std::printf("  %-24s %3zu fields  %s\n", k["kind"].get<std::string>().c_str(),
                  k["fields"].size(),
                  k["kind"] == "organization" ? "(owns itself)"
                  : owned.empty()             ? "(owned by the organization that publishes it)"
                                              : owned.c_str());
    }
    return 0;
  }
  std::printf("%-26s %-12s %-10s %-4s %s\n", "field", "type", "audience", "rev", "rule");
  for (const json& f : out[0]["fields"]) {
    std::string rule = f["rule"].get<std::string>();
    if (f.contains("link")) {
      rule = "-> " + f["link"]["kind"].get<std::string>() +
             (f["link"]["owned"].get<bool>() ? " (must be the owner's)" : " (anyone's)");
    }
    if (f["maintainer_only"].get<bool>()) rule += " [maintainers only]";
    std::printf("%-26s %-12s %-10s %-4s %s\n", f["name"].get<std::string>().c_str(),
                f["type"].get<std::string>().c_str(), f["audience"].get<std::string>().c_str(),
                f["moderated"].get<bool>() ? "yes" : "", rule.c_str());
  }
  return 0;
}

}  // namespace

void AddDirKindsCommand(CLI::App& dir, int& exit_code) {
  auto kind = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd = dir.add_subcommand(
      "kinds",
      "The record kinds (every HSDS 3.0 object) and, for one KIND, its fields: type, rule, "
      "audience, review, links (needs no agent)");
  cmd->add_option("KIND", *kind, "show the fields of this kind");
  cmd->add_flag("--json", *as_json, "print JSON instead of a table");
  cmd->callback([kind, as_json, &exit_code] { exit_code = Run(*kind, *as_json); });
}

}  // namespace sb::cli

#include "tests/integration/hsds_compare.h"

#include "agents/hsds_json.h"
#include "conflict/field_schema.h"

namespace sb::testing {

Result<FlatDocument> Flatten(const nlohmann::json& doc) {
  std::vector<ImportProblem> problems;
  auto edits = ParseHsds(FieldSchema::Hsds(), doc, &problems);
  if (!edits.ok()) {
    std::string m = edits.status().message();
    for (size_t i = 0; i < problems.size() && i < 10; ++i) {
      m += "\n  " + problems[i].where + ": " + problems[i].error;
    }
    return Status(edits.status().code(), m);
  }
  FlatDocument out;
  for (const RecordEdit& e : *edits) {
    FlatRecord& r = out[e.id];
    r.kind = e.kind;
    for (const auto& [name, v] : e.values) {
      if (!std::holds_alternative<Null>(v)) r.values[name] = v;
    }
    for (const auto& [name, els] : e.sets) {
      if (!els.empty()) r.sets[name] = std::set<std::string>(els.begin(), els.end());
    }
  }
  return out;
}

namespace {
std::string SetString(const std::set<std::string>& s) {
  std::string out = "[";
  for (const auto& e : s) out += (out.size() > 1 ? "," : "") + e;
  return out + "]";
}
}  // namespace

std::string Difference(const FlatDocument& expected, const FlatDocument& actual, size_t max_lines) {
  std::vector<std::string> lines;
  auto add = [&](const std::string& l) { lines.push_back(l); };
  for (const auto& [id, want] : expected) {
    auto it = actual.find(id);
    if (it == actual.end()) {
      add(id + " (" + want.kind + "): missing");
      continue;
    }
    const FlatRecord& got = it->second;
    if (got.kind != want.kind) add(id + ": kind " + want.kind + " became " + got.kind);
    for (const auto& [f, v] : want.values) {
      auto g = got.values.find(f);
      if (g == got.values.end())
        add(id + "." + f + ": " + ValueToString(v) + " missing");
      else if (g->second != v)
        add(id + "." + f + ": " + ValueToString(v) + " became " + ValueToString(g->second));
    }
    for (const auto& [f, v] : got.values) {
      if (!want.values.count(f)) add(id + "." + f + ": unexpected " + ValueToString(v));
    }
    for (const auto& [f, s] : want.sets) {
      auto g = got.sets.find(f);
      std::string gs = g == got.sets.end() ? "[]" : SetString(g->second);
      if (gs != SetString(s)) add(id + "." + f + ": " + SetString(s) + " became " + gs);
    }
    for (const auto& [f, s] : got.sets) {
      if (!want.sets.count(f)) add(id + "." + f + ": unexpected " + SetString(s));
    }
  }
  for (const auto& [id, got] : actual) {
    if (!expected.count(id)) add(id + " (" + got.kind + "): unexpected");
  }
  std::string out;
  for (size_t i = 0; i < lines.size() && i < max_lines; ++i) out += lines[i] + "\n";
  if (lines.size() > max_lines)
    out += "... and " + std::to_string(lines.size() - max_lines) + " more\n";
  return out;
}

}  // namespace sb::testing

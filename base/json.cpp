#include "base/json.h"

#include <utility>
#include <vector>

#include "base/utf8.h"

namespace sb {

using nlohmann::json;

namespace {

// The deepest nesting in `text`, stopping early once it passes `limit`. A linear scan that
// skips strings, so that the library's recursive parts never see a hostile depth.
int ScanDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<json> ParseJson(std::string_view text, std::string_view what, JsonLimits limits) {
  if (text.size() > limits.max_bytes) {
    return Status::ResourceExhausted(std::string(what) + " is " + std::to_string(text.size()) +
                                     " bytes; the limit is " + std::to_string(limits.max_bytes));
  }
  if (ScanDepth(text, limits.max_depth) > limits.max_depth) {
    return Status::InvalidArgument(std::string(what) + " is nested more than " +
                                   std::to_string(limits.max_depth) + " levels deep");
  }
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.what() quotes the last bytes read, which may be anything: make them printable.
    std::string why = Printable(e.what(), 300);
    if (size_t p = why.find("] "); p != std::string::npos) why = why.substr(p + 2);
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + why);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string(what) +
                                   " is not valid JSON: " + Printable(e.what(), 300));
  }
}

json ParseStoredJson(std::string_view text, JsonLimits limits) {
  Result<json> j = ParseJson(text, "stored JSON", limits);
  return j.ok() ? std::move(j).value() : json(json::value_t::discarded);
}

std::string DumpJson(const json& j, int indent) {
  try {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception&) {
    // Only an allocation failure can get here.
    return "null";
  }
}

std::string DumpJson(const nlohmann::ordered_json& j, int indent) {
  try {
    return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  } catch (const std::exception&) {
    return "null";
  }
}

int JsonDepth(const json& j) {
  int deepest = 0;
  std::vector<std::pair<const json*, int>> stack{{&j, 0}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node->is_structured()) continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    for (const json& child : *node) stack.emplace_back(&child, depth + 1);
  }
  return deepest;
}

}  // namespace sb

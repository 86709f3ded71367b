// Comparing HSDS documents by content: each document is parsed with sb::ParseHsds into
// id -> (kind, field values, set contents), so nesting, key order and element order do not
// matter, and a difference is reported field by field.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "base/status.h"
#include "conflict/value.h"

namespace sb::testing {

struct FlatRecord {
  std::string kind;
  std::map<std::string, Value> values;
  std::map<std::string, std::set<std::string>> sets;
  friend bool operator==(const FlatRecord&, const FlatRecord&) = default;
};

using FlatDocument = std::map<std::string, FlatRecord>;

// Parses `doc`; an invalid document gives the parser's problems in the Status message.
Result<FlatDocument> Flatten(const nlohmann::json& doc);

// "" when equal; otherwise up to `max_lines` lines naming ids and fields that differ.
std::string Difference(const FlatDocument& expected, const FlatDocument& actual,
                       size_t max_lines = 20);

}  // namespace sb::testing

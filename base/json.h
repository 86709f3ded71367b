// The one way JSON enters and leaves a process. ParseJson is bounded (size and nesting depth:
// the JSON library's copies, comparisons and dump() recurse, so hostile depth would overflow a
// thread's stack) and refuses text that is not UTF-8; DumpJson never throws (a string that is
// not UTF-8 — which the boundaries refuse, so only a bug can bring one here — is written with
// U+FFFD instead of aborting the process). Use these instead of json::parse and json::dump.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sb {

struct JsonLimits {
  size_t max_bytes = 1 << 20;  // of the text
  int max_depth = 64;          // nested arrays and objects
};

// For replies of the process's own local API (exports of a whole directory): large, shallow.
inline constexpr JsonLimits kReplyLimits{size_t{1} << 31, 64};

// Parses `text`. Errors (InvalidArgument, or ResourceExhausted for size) start with `what`
// ("the request body", "identity.pub", "referral payload") and say where the text is wrong;
// they never repeat bytes that are not printable.
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what = "the JSON text",
                                 JsonLimits limits = {});

// For JSON a process stored itself and reads back: the value, or a discarded value
// (is_discarded()) when the text is not JSON within `limits` — callers that skip or refuse what
// they cannot read say so themselves.
nlohmann::json ParseStoredJson(std::string_view text, JsonLimits limits = {64 << 20, 64});

// json.dump(indent) that cannot throw.
std::string DumpJson(const nlohmann::json& j, int indent = -1);
std::string DumpJson(const nlohmann::ordered_json& j, int indent = -1);

// The deepest nesting of arrays and objects in `j` (0 for a scalar), without recursion.
int JsonDepth(const nlohmann::json& j);

}  // namespace sb

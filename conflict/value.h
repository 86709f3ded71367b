// The value of one scalar field: null, text, integer or boolean. Enum values are text.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace sb {

struct Null {
  friend auto operator<=>(const Null&, const Null&) = default;
};

using Value = std::variant<Null, std::string, int64_t, bool>;

// "null", "\"text\"", "42", "true" — unambiguous, for logs, tests and CLI tables.
std::string ValueToString(const Value& v);
// The type's name as users see it: "null", "text", "integer", "boolean".
const char* ValueTypeName(const Value& v);

}  // namespace sb

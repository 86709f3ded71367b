// Field values as JSON, typed by the field table: a kNumber field's canonical decimal text is a
// JSON number on the way out, and a JSON number (or a string holding one) on the way in.
// Header-only so that conflict/ itself does not depend on a JSON library; include it only
// where nlohmann-json is a dependency (agents, broker, cli).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "conflict/field_schema.h"
#include "conflict/value.h"

namespace sb {

// The canonical text of a JSON number, or of a string that holds one; nullopt otherwise.
inline std::optional<std::string> NumberText(const nlohmann::json& v) {
  if (v.is_number()) return CanonicalNumber(v.dump());
  if (v.is_string()) return CanonicalNumber(v.get_ref<const std::string&>());
  return std::nullopt;
}

// A number field's text as a JSON number: an integer when it is one that fits, else a double.
// Text that is not a number (a value stored before the field's rule) stays text.
inline nlohmann::json NumberJson(const std::string& text) {
  std::optional<std::string> canonical = CanonicalNumber(text);
  if (!canonical) return text;
  nlohmann::json out = nlohmann::json::parse(*canonical, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) return text;
  return out;
}

}  // namespace sb

// Pure helpers of `switchboard dir`: typing FIELD=VALUE arguments by the field schema, and
// turning the agent's JSON into readable, aligned, terminal-safe text. No I/O.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "conflict/field_schema.h"

namespace sb::cli {

// Splits "FIELD=VALUE" at the first '='. InvalidArgument without '=' or without a field.
Result<std::pair<std::string, std::string>> SplitAssignment(std::string_view arg);

// The JSON value for `text` given for `field` (spec null when the schema does not know it:
// sent as text, for the agent to refuse). Empty text is null (clears the field); integers and
// booleans (true/false) are parsed; a set takes a comma-separated list.
Result<nlohmann::json> ParseFieldValue(const FieldSpec* spec, const std::string& field,
                                       const std::string& text);

// Replaces control characters (C0, DEL, C1: newlines, terminal escapes) with spaces, so that
// text from other organizations cannot disturb the terminal.
std::string Clean(std::string_view s);
// Columns `s` takes on a terminal (UTF-8 code points).
size_t DisplayWidth(std::string_view s);
// `s` cleaned and cut to at most `width` columns, ending in "…" when cut.
std::string Truncate(std::string_view s, size_t width);
// The first `n` characters of an id and "…" ("1b4e28ba…"); ids this short are kept whole.
std::string ShortId(std::string_view id, size_t n = 8);
// "2026-11-29T13:23:18.123Z" -> "2026-11-29 13:23:18".
std::string ShortTime(std::string_view iso);
// One field value as text: "-" for null, lists joined with ", ", text cleaned.
std::string ValueText(const nlohmann::json& v);
// A field of a record as the agent shows it ({"value", "pending", "published", "siblings"}):
// the value cut to `width`, then "[pending review, published: X]" and "[CONFLICT: a | b]".
std::string FieldText(const nlohmann::json& field, size_t width);
// "create" -> "created", "delete" -> "deleted", ...
std::string PastTense(std::string_view op);
// Objects with a text "id" anywhere in an HSDS document, and those under "organizations".
std::pair<size_t, size_t> CountHsds(const nlohmann::json& doc);

// Rows printed in aligned columns two spaces apart; cells are cleaned and cut to their
// column's limit; the last column is not padded.
class Table {
 public:
  // `limits`: the most columns each cell may take (0: no limit).
  Table(std::vector<std::string> header, std::vector<size_t> limits);
  void Add(std::vector<std::string> row);
  void Print(std::ostream& out) const;
  size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<size_t> limits_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sb::cli

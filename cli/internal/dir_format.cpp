#include "cli/internal/dir_format.h"

#include <algorithm>
#include <charconv>

#include "base/json.h"

namespace sb::cli {

using nlohmann::json;

Result<std::pair<std::string, std::string>> SplitAssignment(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument("'" + std::string(arg) +
                                   "' is not FIELD=VALUE (FIELD= with nothing after clears it)");
  }
  return std::make_pair(std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1)));
}

namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

bool IsContinuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

}  // namespace

Result<json> ParseFieldValue(const FieldSpec* spec, const std::string& field,
                             const std::string& text) {
  if (text.empty()) return json(nullptr);
  if (spec == nullptr) return json(text);
  switch (spec->type) {
    case FieldType::kInt: {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return Status::InvalidArgument(field + ": must be a whole number, got '" + Clean(text) +
                                       "'");
      }
      return json(n);
    }
    case FieldType::kBool:
      if (text == "true") return json(true);
      if (text == "false") return json(false);
      return Status::InvalidArgument(field + ": must be true or false, got '" + Clean(text) + "'");
    case FieldType::kTextSet: {
      json list = json::array();
      size_t start = 0;
      while (start <= text.size()) {
        size_t comma = std::min(text.find(',', start), text.size());
        std::string el = Trim(std::string_view(text).substr(start, comma - start));
        if (!el.empty()) list.push_back(el);
        start = comma + 1;
      }
      return list;
    }
    case FieldType::kNumber: {
      std::optional<std::string> canonical = CanonicalNumber(text);
      if (!canonical) {
        return Status::InvalidArgument(field + ": must be a number such as 51.5, got '" +
                                       Clean(text) + "'");
      }
      return json::parse(*canonical);
    }
    case FieldType::kText:
    case FieldType::kEnum:
      return json(text);
  }
  return json(text);
}

std::string Clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x20 || c == 0x7F) {
      out.push_back(' ');
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out.push_back(' ');  // C1 control, such as the 8-bit CSI
      ++i;
    } else if (c == 0xE2 && i + 2 < s.size() &&
               ((s[i + 1] == '\x80' && s[i + 2] >= '\xAA' && s[i + 2] <= '\xAE') ||
                (s[i + 1] == '\x81' && s[i + 2] >= '\xA6' && s[i + 2] <= '\xA9'))) {
      out.push_back(' ');  // bidirectional override, which can make text read backwards
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

size_t DisplayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return !IsContinuation(c); }));
}

std::string Truncate(std::string_view s, size_t width) {
  std::string clean = Clean(s);
  if (width == 0 || DisplayWidth(clean) <= width) return clean;
  size_t points = 0, i = 0;
  for (; i < clean.size(); ++i) {
    if (IsContinuation(clean[i])) continue;
    if (points == width - 1) break;
    ++points;
  }
  return clean.substr(0, i) + "…";
}

std::string ShortId(std::string_view id, size_t n) {
  if (id.size() <= n + 1) return Clean(id);
  return Clean(id.substr(0, n)) + "…";
}

std::string ShortTime(std::string_view iso) {
  std::string t = Clean(iso.substr(0, 19));
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  return t;
}

std::string ValueText(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return Clean(v.get<std::string>());
  if (v.is_array()) {
    if (v.empty()) return "-";
    std::string out;
    for (const auto& el : v) out += (out.empty() ? "" : ", ") + ValueText(el);
    return out;
  }
  return Clean(DumpJson(v));
}

std::string FieldText(const json& field, size_t width) {
  if (!field.is_object()) return Truncate(ValueText(field), width);
  std::string out = Truncate(ValueText(field.value("value", json())), width);
  if (field.value("pending", false)) {
    out +=
        "  [pending review, published: " +
        (field.value("published", json()).is_null() ? std::string("none")
                                                    : Truncate(ValueText(field["published"]), 30)) +
        "]";
  }
  if (field.contains("rejected") && field["rejected"].is_object()) {
    const json& r = field["rejected"];
    out += "  [REJECTED " + Truncate(ValueText(r.value("value", json())), 30) + ": " +
           Truncate(ValueText(r.value("reason", json())), 80) + "]";
  }
  if (field.value("conflict", false) && field.contains("siblings") &&
      field["siblings"].is_array()) {
    std::string sibs;
    for (const auto& s : field["siblings"]) {
      sibs += (sibs.empty() ? "" : " | ") + Truncate(ValueText(s.value("value", json())), 30);
    }
    out += "  [CONFLICT: " + sibs + "]";
  }
  return out;
}

std::string PastTense(std::string_view op) {
  if (op == "create") return "created";
  if (op == "update") return "updated";
  if (op == "delete") return "deleted";
  if (op == "restore") return "restored";
  return Clean(op);
}

namespace {

void Count(const json& node, size_t* records) {
  if (!node.is_object()) return;
  for (const auto& [key, value] : node.items()) {
    if (!value.is_array()) continue;
    for (const auto& el : value) {
      if (!el.is_object() || !el.contains("id") || !el["id"].is_string()) continue;
      ++*records;
      Count(el, records);
    }
  }
}

}  // namespace

std::pair<size_t, size_t> CountHsds(const json& doc) {
  size_t records = 0, orgs = 0;
  Count(doc, &records);
  if (doc.is_object() && doc.contains("organizations") && doc["organizations"].is_array()) {
    orgs = doc["organizations"].size();
  }
  return {orgs, records};
}

Table::Table(std::vector<std::string> header, std::vector<size_t> limits)
    : header_(std::move(header)), limits_(std::move(limits)) {
  limits_.resize(header_.size(), 0);
}

void Table::Add(std::vector<std::string> row) {
  row.resize(header_.size());
  for (size_t i = 0; i < row.size(); ++i) row[i] = Truncate(row[i], limits_[i]);
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print(header_);
  for (const auto& r : rows_) print(r);
}

}  // namespace sb::cli

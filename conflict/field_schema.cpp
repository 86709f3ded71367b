#include "conflict/field_schema.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "base/ids.h"  // IsUuid
#include "base/utf8.h"

namespace sb {

const char* AudienceName(Audience a) {
  switch (a) {
    case Audience::kPublic:
      return "public";
    case Audience::kPartners:
      return "partners";
    case Audience::kMaintainers:
      return "maintainers";
    case Audience::kOwner:
      return "owner";
  }
  return "?";
}

const char* FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kText:
      return "text";
    case FieldType::kInt:
      return "integer";
    case FieldType::kBool:
      return "boolean";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kTextSet:
      return "set of text";
    case FieldType::kNumber:
      return "number";
  }
  return "?";
}

namespace {

constexpr std::string_view kPublishedSuffix = "@published";
constexpr std::string_view kRejectedSuffix = "@rejected";
constexpr std::string_view kReasonSuffix = "@rejected_reason";

bool HasSuffix(std::string_view name, std::string_view suffix) {
  return name.size() > suffix.size() && name.ends_with(suffix);
}

bool AllOf(std::string_view s, int (*pred)(int)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return pred(static_cast<unsigned char>(c)) != 0;
  });
}

bool IsHostname(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.back() == '.') return false;
  bool has_dot = false;
  char prev = 0;
  for (char c : h) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    has_dot |= c == '.';
    prev = c;
  }
  return has_dot;
}

bool IsUrl(std::string_view s) {
  std::string_view rest;
  if (s.rfind("https://", 0) == 0)
    rest = s.substr(8);
  else if (s.rfind("http://", 0) == 0)
    rest = s.substr(7);
  else
    return false;
  size_t end = rest.find_first_of("/?#");
  std::string_view host = rest.substr(0, end);
  if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    if (!AllOf(host.substr(colon + 1), [](int c) { return std::isdigit(c); })) return false;
    host = host.substr(0, colon);
  }
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return false;
  }
  return IsHostname(host);
}

bool IsEmail(std::string_view s) {
  size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : s.substr(0, at)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("._%+-").find(c) != std::string_view::npos))
      return false;
  }
  return IsHostname(s.substr(at + 1));
}

bool IsE164(std::string_view s) {
  if (s.size() < 9 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  return AllOf(s.substr(1), [](int c) { return std::isdigit(c); });
}

bool IsDigits(std::string_view s) {
  return AllOf(s, [](int c) { return std::isdigit(c); });
}

// "HH:MM" with hours < 24 and minutes < 60 (or, for `max_first` 14, a UTC offset's hours).
bool IsClock(std::string_view s, int max_first = 23) {
  if (s.size() != 5 || s[2] != ':' || !IsDigits(s.substr(0, 2)) || !IsDigits(s.substr(3)))
    return false;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  return h <= max_first && m < 60;
}

// HH:MM[:SS[.fff]] then an optional Z or +HH:MM / -HH:MM.
bool IsTime(std::string_view s) {
  if (!IsClock(s.substr(0, std::min<size_t>(s.size(), 5)))) return false;
  s.remove_prefix(5);
  if (s.size() >= 3 && s[0] == ':') {
    if (!IsDigits(s.substr(1, 2)) || s[1] > '5') return false;
    s.remove_prefix(3);
    if (!s.empty() && s[0] == '.') {
      size_t n = 1;
      while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n;
      if (n == 1) return false;
      s.remove_prefix(n);
    }
  }
  if (s.empty() || s == "Z") return true;
  return (s[0] == '+' || s[0] == '-') && IsClock(s.substr(1), 14);
}

bool IsPhone(std::string_view s) {
  bool digit = false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isdigit(u)) {
      digit = true;
    } else if (!(std::isalpha(u) ||
                 std::string_view(" +()-./#*,;\"'").find(c) != std::string_view::npos)) {
      return false;
    }
  }
  return digit;
}

bool IsByDay(std::string_view s) {
  static constexpr std::string_view kDays[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
  if (s.size() < 2) return false;
  std::string_view day = s.substr(s.size() - 2), week = s.substr(0, s.size() - 2);
  if (std::find(std::begin(kDays), std::end(kDays), day) == std::end(kDays)) return false;
  if (week.empty()) return true;
  if (week[0] == '+' || week[0] == '-') week.remove_prefix(1);
  if (week.empty() || week.size() > 2 || !IsDigits(week) || week[0] == '0') return false;
  int n = std::stoi(std::string(week));
  return n >= 1 && n <= 53;
}

// -?digits(.digits)?([eE][+-]?digits)? — JSON's number, leading zeros tolerated (the decimal
// text earlier formats stored for latitude and longitude).
bool IsNumber(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  size_t n = 0;
  while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n;
  if (n == 0) return false;
  s.remove_prefix(n);
  if (!s.empty() && s[0] == '.') {
    n = 1;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n;
    if (n == 1) return false;
    s.remove_prefix(n);
  }
  if (!s.empty() && (s[0] == 'e' || s[0] == 'E')) {
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
    return !s.empty() && s.size() <= 4 && IsDigits(s);
  }
  return s.empty();
}

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

bool IsDateTime(std::string_view s) {
  if (s.size() < 16 || s[10] != 'T') return false;
  return IsDate(s.substr(0, 10)) && IsTime(s.substr(11));
}

bool IsDecimal(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  size_t dot = s.find('.');
  auto digits = [](std::string_view p) { return AllOf(p, [](int c) { return std::isdigit(c); }); };
  if (dot == std::string_view::npos) return digits(s);
  return digits(s.substr(0, dot)) && digits(s.substr(dot + 1));
}

}  // namespace

bool MatchesPattern(Pattern p, std::string_view s) {
  switch (p) {
    case Pattern::kNone:
      return true;
    case Pattern::kUuid:
      return IsUuid(s);
    case Pattern::kE164:
      return IsE164(s);
    case Pattern::kUrl:
      return IsUrl(s);
    case Pattern::kEmail:
      return IsEmail(s);
    case Pattern::kCountry:
      return s.size() == 2 && AllOf(s, [](int c) { return std::isupper(c); });
    case Pattern::kLanguage:
      return (s.size() == 2 || s.size() == 3) && AllOf(s, [](int c) { return std::islower(c); });
    case Pattern::kTime:
      return IsTime(s);
    case Pattern::kDate:
      return IsDate(s);
    case Pattern::kDecimal:
      return IsDecimal(s);
    case Pattern::kPhone:
      return IsPhone(s);
    case Pattern::kByDay:
      return IsByDay(s);
    case Pattern::kDateTime:
      return IsDateTime(s);
    case Pattern::kCurrency:
      // Any case: published directories write "gbp" as well as "GBP" (HSDS's own example).
      return s.size() == 3 && AllOf(s, [](int c) { return std::isalpha(c); });
    case Pattern::kNumber:
      return IsNumber(s);
  }
  return false;
}

const char* PatternRule(Pattern p) {
  switch (p) {
    case Pattern::kNone:
      return "";
    case Pattern::kUuid:
      return "must be a lowercase UUID such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    case Pattern::kE164:
      return "must be an E.164 phone number: '+' and 8 to 15 digits, such as +14155550123";
    case Pattern::kUrl:
      return "must be an http:// or https:// URL with a host name";
    case Pattern::kEmail:
      return "must be an email address such as help@example.org";
    case Pattern::kCountry:
      return "must be an ISO 3166-1 alpha-2 country code such as NG";
    case Pattern::kLanguage:
      return "must be an ISO 639-1 or ISO 639-3 language code such as es or tir";
    case Pattern::kTime:
      return "must be a 24-hour time HH:MM or HH:MM:SS, optionally with Z or a UTC offset, "
             "such as 09:30 or 10:00:00-05:00";
    case Pattern::kDate:
      return "must be a date YYYY-MM-DD";
    case Pattern::kDecimal:
      return "must be a decimal number such as -12.5";
    case Pattern::kPhone:
      return "must be a phone number: digits, spaces and + ( ) - . / (such as +44 1234 234567)";
    case Pattern::kByDay:
      return "must be an iCal day such as MO, 2MO or -1FR";
    case Pattern::kDateTime:
      return "must be an ISO 8601 date-time such as 2024-05-01T09:30:00Z";
    case Pattern::kCurrency:
      return "must be an ISO 4217 currency code such as USD (three letters)";
    case Pattern::kNumber:
      return "must be a number such as 51.5";
  }
  return "";
}

std::optional<std::string> CanonicalNumber(std::string_view text) {
  if (!IsNumber(text)) return std::nullopt;
  std::string copy(text);
  errno = 0;
  double d = std::strtod(copy.c_str(), nullptr);
  if (errno == ERANGE || !std::isfinite(d)) return std::nullopt;
  if (d == 0) return "0";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc()) return std::nullopt;
  return std::string(buf, end);
}

std::string PublishedFieldName(std::string_view field) {
  return std::string(field) + std::string(kPublishedSuffix);
}

std::string RejectedFieldName(std::string_view field) {
  return std::string(field) + std::string(kRejectedSuffix);
}

std::string RejectionReasonFieldName(std::string_view field) {
  return std::string(field) + std::string(kReasonSuffix);
}

bool IsPublishedField(std::string_view name) {
  return HasSuffix(name, kPublishedSuffix);
}

bool IsShadowField(std::string_view name) {
  return HasSuffix(name, kPublishedSuffix) || HasSuffix(name, kRejectedSuffix) ||
         HasSuffix(name, kReasonSuffix);
}

std::string_view BaseFieldName(std::string_view name) {
  for (std::string_view suffix : {kPublishedSuffix, kRejectedSuffix, kReasonSuffix}) {
    if (HasSuffix(name, suffix)) return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

FieldSchema::FieldSchema(std::vector<KindSpec> kinds) {
  for (auto& k : kinds) {
    // Every moderated field gets a maintainer-only shadow holding its published value.
    std::vector<FieldSpec> shadows;
    for (const auto& [name, spec] : k.fields) {
      if (!spec.moderated) continue;
      FieldSpec shadow = spec;
      shadow.name = PublishedFieldName(name);
      shadow.moderated = false;
      shadow.maintainer_only = true;
      shadow.help = "published value of " + name + " (written by maintainers' approval)";
      // What a maintainer rejected, and why: for the owner (and maintainers) only.
      FieldSpec rejected = shadow;
      rejected.name = RejectedFieldName(name);
      rejected.audience = Audience::kOwner;
      rejected.help = "the last proposed value of " + name + " a maintainer rejected";
      FieldSpec reason;
      reason.name = RejectionReasonFieldName(name);
      reason.type = FieldType::kText;
      reason.max_length = 1000;
      reason.maintainer_only = true;
      reason.audience = Audience::kOwner;
      reason.help = "why the maintainer rejected the proposed " + name;
      shadows.push_back(std::move(shadow));
      shadows.push_back(std::move(rejected));
      shadows.push_back(std::move(reason));
    }
    for (auto& s : shadows) k.fields.emplace(s.name, std::move(s));
    std::string name = k.name;
    kinds_.emplace(std::move(name), std::move(k));
  }
}

const KindSpec* FieldSchema::Kind(std::string_view kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? nullptr : &it->second;
}

const FieldSpec* FieldSchema::Field(std::string_view kind, std::string_view field) const {
  const KindSpec* k = Kind(kind);
  if (!k) return nullptr;
  auto it = k->fields.find(std::string(field));
  return it == k->fields.end() ? nullptr : &it->second;
}

std::vector<std::string> FieldSchema::KindNames() const {
  std::vector<std::string> out;
  for (const auto& [name, k] : kinds_) out.push_back(name);
  return out;
}

Status FieldSchema::ValidateKind(std::string_view kind) const {
  if (Kind(kind)) return Status::Ok();
  std::string known;
  for (const auto& n : KindNames()) known += (known.empty() ? "" : ", ") + n;
  return Status::InvalidArgument("unknown kind '" + std::string(kind) + "' (known: " + known + ")");
}

namespace {
Status TextRule(const std::string& where, const FieldSpec& spec, const std::string& s) {
  if (s.size() > spec.max_length) {
    return Status::InvalidArgument(where + ": longer than " + std::to_string(spec.max_length) +
                                   " bytes (" + std::to_string(s.size()) + ")");
  }
  if (s.size() < spec.min_length) {
    return Status::InvalidArgument(where + ": must be at least " + std::to_string(spec.min_length) +
                                   " characters");
  }
  // UTF-8, and no control characters but tab and newline: every text is shown to people.
  RETURN_IF_ERROR(CheckText(s, where, TextKind::kProse));
  if (!MatchesPattern(spec.pattern, s)) {
    return Status::InvalidArgument(where + ": " + PatternRule(spec.pattern) + " (got '" +
                                   Printable(s, 80) + "')");
  }
  if (!spec.enum_values.empty() &&
      std::find(spec.enum_values.begin(), spec.enum_values.end(), s) == spec.enum_values.end()) {
    std::string allowed;
    for (const auto& e : spec.enum_values) allowed += (allowed.empty() ? "" : ", ") + e;
    return Status::InvalidArgument(where + ": must be one of " + allowed + " (got '" +
                                   Printable(s, 80) + "')");
  }
  return Status::Ok();
}
}  // namespace

Status FieldSchema::ValidateValue(std::string_view kind, std::string_view field,
                                  const Value& v) const {
  RETURN_IF_ERROR(ValidateKind(kind));
  std::string where = std::string(kind) + "." + std::string(field);
  const FieldSpec* spec = Field(kind, field);
  if (!spec) return Status::InvalidArgument(where + ": unknown field");
  if (std::holds_alternative<Null>(v)) {
    if (spec->type == FieldType::kTextSet) {
      return Status::InvalidArgument(where + ": is a set; remove its elements instead");
    }
    return Status::Ok();  // clearing a scalar field is always allowed
  }
  switch (spec->type) {
    case FieldType::kText:
    case FieldType::kEnum:
      if (!std::holds_alternative<std::string>(v)) break;
      return TextRule(where, *spec, std::get<std::string>(v));
    case FieldType::kInt: {
      if (!std::holds_alternative<int64_t>(v)) break;
      int64_t i = std::get<int64_t>(v);
      if (i < spec->min_int || i > spec->max_int) {
        return Status::InvalidArgument(
            where + ": must be between " + std::to_string(spec->min_int) + " and " +
            std::to_string(spec->max_int) + " (got " + std::to_string(i) + ")");
      }
      return Status::Ok();
    }
    case FieldType::kBool:
      if (!std::holds_alternative<bool>(v)) break;
      return Status::Ok();
    case FieldType::kTextSet:
      return Status::InvalidArgument(where + ": is a set; add or remove elements instead");
    case FieldType::kNumber: {
      if (!std::holds_alternative<std::string>(v)) break;
      const std::string& text = std::get<std::string>(v);
      std::optional<std::string> canonical;
      if (text.size() <= 40) canonical = CanonicalNumber(text);
      if (!canonical) {
        return Status::InvalidArgument(where + ": must be a number such as 51.5 (got '" +
                                       Printable(text, 40) + "')");
      }
      double d = std::strtod(canonical->c_str(), nullptr);
      if (d < spec->min_number || d > spec->max_number) {
        return Status::InvalidArgument(
            where + ": must be between " + *CanonicalNumber(std::to_string(spec->min_number)) +
            " and " + *CanonicalNumber(std::to_string(spec->max_number)) + " (got " + *canonical +
            ")");
      }
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(where + ": must be " + FieldTypeName(spec->type) + ", got " +
                                 ValueTypeName(v));
}

Status FieldSchema::ValidateElement(std::string_view kind, std::string_view field,
                                    const std::string& element) const {
  RETURN_IF_ERROR(ValidateKind(kind));
  std::string where = std::string(kind) + "." + std::string(field);
  const FieldSpec* spec = Field(kind, field);
  if (!spec) return Status::InvalidArgument(where + ": unknown field");
  if (spec->type != FieldType::kTextSet) {
    return Status::InvalidArgument(where + ": is a " + FieldTypeName(spec->type) +
                                   " field, not a set");
  }
  return TextRule(where, *spec, element);
}

}  // namespace sb

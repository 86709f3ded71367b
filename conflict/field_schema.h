// The field schema: one table, used by agent and broker alike, that says for every HSDS kind
// which fields exist, their type and constraints, whether a partner's change is moderated, and
// who may read them (audience). See DESIGN.md §3.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "conflict/value.h"

namespace sb {

// Organization fields only maintainers write: whether the organization is vetted (published
// to other partners), and why not when a maintainer declined it.
inline constexpr char kApprovedField[] = "approved";
inline constexpr char kVettingNoteField[] = "vetting_note";

// kNumber is a JSON number (HSDS `number`: latitude, amount, extension, minimum_age...). It is
// held as its canonical decimal text so that a published 51.5 stays exactly 51.5 (no binary
// floating-point rounding on the way through the CRDT, the log and the wire), and every JSON
// view writes it as a number. See schemas/FORMATS.md, "Field types".
enum class FieldType { kText, kInt, kBool, kEnum, kTextSet, kNumber };

// What a text value (or each set element) must look like.
enum class Pattern {
  kNone,
  kUuid,      // 8-4-4-4-12 lowercase hex
  kE164,      // "+" then 8 to 15 digits, first digit not 0
  kUrl,       // http:// or https:// then a host
  kEmail,     // local@domain.tld
  kCountry,   // ISO 3166-1 alpha-2, upper case
  kLanguage,  // ISO 639-1 or ISO 639-3: two or three lower-case letters
  kTime,      // HH:MM or HH:MM:SS, 24-hour, optionally Z or +HH:MM / -HH:MM (HSDS opens_at)
  kDate,      // YYYY-MM-DD
  kDecimal,   // -?digits(.digits)?
  kPhone,     // a phone number as people write it: digits, spaces, + ( ) - . / and an "ext"
  kByDay,     // one iCal BYDAY element: MO..SU, optionally after a signed week number ("2MO",
              // "-1FR")
  kDateTime,  // ISO 8601 date-time, YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM]
  kCurrency,  // ISO 4217 code, three upper-case letters
  kNumber,    // a JSON number: -?(0|[1-9]digits)(.digits)?([eE][+-]?digits)?
};

enum class Audience {
  kPublic,       // everyone, including exports to the public
  kPartners,     // every enrolled organization
  kMaintainers,  // maintainers and the owner
  kOwner,        // the owning organization only (and maintainers)
};

const char* AudienceName(Audience a);
const char* FieldTypeName(FieldType t);

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kText;
  Pattern pattern = Pattern::kNone;
  size_t max_length = 500;  // text and each set element, in bytes
  size_t min_length = 0;
  int64_t min_int = INT64_MIN, max_int = INT64_MAX;
  double min_number = -1e300, max_number = 1e300;  // kNumber
  std::vector<std::string> enum_values;            // kEnum, and kTextSet elements when non-empty
  size_t max_elements = 64;                        // kTextSet
  bool moderated = false;        // a partner's change waits for a maintainer before publication
  bool maintainer_only = false;  // only maintainers may write it (approvals, owner)
  Audience audience = Audience::kPublic;
  // A reference to another record (a kUuid text field): the kind it names, and whether that
  // record must belong to the writer's own organization (a service's phone, a location's
  // address) or may be anyone's (a parent organization, a shared taxonomy term).
  std::string link_kind;
  bool owned_link = false;
  std::string help;  // one line for users
};

struct KindSpec {
  std::string name;
  std::map<std::string, FieldSpec> fields;
};

// Moderated fields have maintainer-only "shadow" fields (see schemas/FORMATS.md, "Review"):
//   <field>@published        the value a maintainer approved; what other partners see
//   <field>@rejected         the last proposal a maintainer rejected (same type as the field)
//   <field>@rejected_reason  why it was rejected (text for the owner)
// The name of the maintainer-only field that holds the published value of moderated `field`.
std::string PublishedFieldName(std::string_view field);
std::string RejectedFieldName(std::string_view field);
std::string RejectionReasonFieldName(std::string_view field);
// True for names produced by PublishedFieldName.
bool IsPublishedField(std::string_view name);
// True for any shadow name (published, rejected, rejection reason).
bool IsShadowField(std::string_view name);
// The moderated field that a shadow field shadows: "number@published" -> "number".
std::string_view BaseFieldName(std::string_view name);

class FieldSchema {
 public:
  // The built-in HSDS table (organizations, services, locations, phones, schedules, languages,
  // services at locations) with the anti-trafficking extensions; a process-wide constant.
  static const FieldSchema& Hsds();

  const KindSpec* Kind(std::string_view kind) const;
  // The spec of `field` in `kind`, including the derived "<field>@published" shadows of
  // moderated fields; nullptr if unknown.
  const FieldSpec* Field(std::string_view kind, std::string_view field) const;
  std::vector<std::string> KindNames() const;

  // InvalidArgument naming "kind.field" and the broken rule, or OK.
  Status ValidateKind(std::string_view kind) const;
  Status ValidateValue(std::string_view kind, std::string_view field, const Value& v) const;
  Status ValidateElement(std::string_view kind, std::string_view field,
                         const std::string& element) const;

  explicit FieldSchema(std::vector<KindSpec> kinds);

 private:
  std::map<std::string, KindSpec, std::less<>> kinds_;
};

// The canonical text of a kNumber value: the shortest text that reads back as the same
// number ("51.50" -> "51.5", "1e2" -> "100", "-0" -> "0"); nullopt if `text` is not a number.
std::optional<std::string> CanonicalNumber(std::string_view text);

// The unknown properties of an imported HSDS object (extensions are allowed by HSDS and are
// exported again): one JSON object, as text, per record.
inline constexpr char kExtraField[] = "extra";

// Pattern checks, exposed for tests and importers.
bool MatchesPattern(Pattern p, std::string_view s);
const char* PatternRule(Pattern p);  // "must be an E.164 phone number such as +14155550123"

}  // namespace sb

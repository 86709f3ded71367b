#include "agents/hsds_model.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

namespace sb {

using json = nlohmann::json;

const std::vector<Nested>& Nesting() {
  static const std::vector<Nested>* const kNesting = [] {
    auto* n = new std::vector<Nested>;
    auto many = [n](const char* parent, const char* property, const char* child, const char* link) {
      n->push_back({parent, property, child, true, link, false});
    };
    auto one = [n](const char* parent, const char* property, const char* child,
                   const char* parent_field) {
      n->push_back({parent, property, child, false, parent_field, true});
    };
    // In the order of the official schemas' properties.
    many("organization", "funding", "funding", "organization_id");
    many("organization", "contacts", "contact", "organization_id");
    many("organization", "phones", "phone", "organization_id");
    many("organization", "locations", "location", "organization_id");
    many("organization", "programs", "program", "organization_id");
    many("organization", "organization_identifiers", "organization_identifier", "organization_id");
    many("organization", "services", "service", "organization_id");  // compiled view
    many("organization", "attributes", "attribute", "link_id");

    many("service", "phones", "phone", "service_id");
    many("service", "schedules", "schedule", "service_id");
    many("service", "service_areas", "service_area", "service_id");
    many("service", "service_at_locations", "service_at_location", "service_id");
    many("service", "languages", "language", "service_id");
    one("service", "organization", "organization", "organization_id");
    many("service", "funding", "funding", "service_id");
    many("service", "cost_options", "cost_option", "service_id");
    one("service", "program", "program", "program_id");
    many("service", "required_documents", "required_document", "service_id");
    many("service", "contacts", "contact", "service_id");
    many("service", "attributes", "attribute", "link_id");

    many("location", "languages", "language", "location_id");
    many("location", "addresses", "address", "location_id");
    many("location", "contacts", "contact", "location_id");
    many("location", "accessibility", "accessibility", "location_id");
    many("location", "phones", "phone", "location_id");
    many("location", "schedules", "schedule", "location_id");
    many("location", "attributes", "attribute", "link_id");

    many("service_at_location", "contacts", "contact", "service_at_location_id");
    many("service_at_location", "phones", "phone", "service_at_location_id");
    many("service_at_location", "schedules", "schedule", "service_at_location_id");
    one("service_at_location", "location", "location", "location_id");
    one("service_at_location", "service", "service", "service_id");  // compiled view
    many("service_at_location", "attributes", "attribute", "link_id");

    many("contact", "phones", "phone", "contact_id");
    many("contact", "attributes", "attribute", "link_id");
    many("phone", "languages", "language", "phone_id");
    many("phone", "attributes", "attribute", "link_id");
    for (const char* kind :
         {"address", "schedule", "language", "accessibility", "service_area", "funding",
          "cost_option", "program", "required_document", "organization_identifier"}) {
      many(kind, "attributes", "attribute", "link_id");
    }
    one("attribute", "taxonomy_term", "taxonomy_term", "taxonomy_term_id");
    one("taxonomy_term", "taxonomy_detail", "taxonomy", "taxonomy_id");
    return n;
  }();
  return *kNesting;
}

std::vector<const Nested*> NestingOf(std::string_view parent_kind) {
  std::vector<const Nested*> out;
  for (const Nested& n : Nesting()) {
    if (n.parent_kind == parent_kind) out.push_back(&n);
  }
  return out;
}

const std::vector<std::string>& HsdsRequired(std::string_view kind) {
  static const auto* const kRequired =
      new std::map<std::string, std::vector<std::string>, std::less<>>{
          {"organization", {"name", "description"}},
          {"service", {"name", "status"}},
          {"location", {"location_type"}},
          {"phone", {"number"}},
          {"address",
           {"address_1", "city", "state_province", "postal_code", "country", "address_type"}},
          {"program", {"name", "description"}},
          {"organization_identifier", {"identifier_type", "identifier"}},
          {"taxonomy", {"name", "description"}},
          {"taxonomy_term", {"name", "description"}},
      };
  static const std::vector<std::string> kNone;
  auto it = kRequired->find(kind);
  return it == kRequired->end() ? kNone : it->second;
}

std::string DerivedId(std::string_view record_id, std::string_view purpose) {
  static constexpr std::string_view kDomain = "switchboard hsds derived id v1";
  std::array<unsigned char, 16> h{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, h.size());
  auto add = [&st](std::string_view s) {
    // Length-prefixed, so ("ab","c") and ("a","bc") differ.
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(s.size() >> (8 * i));
    crypto_generichash_update(&st, len, sizeof len);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  add(kDomain);
  add(record_id);
  add(purpose);
  crypto_generichash_final(&st, h.data(), h.size());
  h[6] = static_cast<unsigned char>((h[6] & 0x0F) | 0x80);  // version 8
  h[8] = static_cast<unsigned char>((h[8] & 0x3F) | 0x80);  // RFC 9562 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
                h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
                h[15]);
  return out;
}

namespace {

struct TermText {
  const char* code;
  const char* name;
  const char* description;
};

const TermText kCategoryTerms[] = {
    {"emergency_shelter", "Emergency shelter", "Safe accommodation available at short notice"},
    {"long_term_housing", "Long-term housing", "Transitional or long-term accommodation"},
    {"legal", "Legal services", "Legal advice and representation, including immigration relief"},
    {"case_management", "Case management", "Coordination of services for a survivor"},
    {"psychological_support", "Psychological support", "Counselling and mental health care"},
    {"medical", "Medical care", "Health care and medical services"},
    {"hotline", "Hotline", "A telephone or text line answering at need"},
    {"interpretation", "Interpretation", "Interpreters and translation"},
    {"employment", "Employment", "Job training and placement"},
    {"education", "Education", "Schooling and education support"},
    {"repatriation", "Repatriation", "Safe return to the country of origin"},
    {"financial_aid", "Financial aid", "Money for immediate needs"},
};
const TermText kPopulationTerms[] = {
    {"sex_trafficking", "Survivors of sex trafficking",
     "People trafficked for sexual exploitation"},
    {"labor_trafficking", "Survivors of labor trafficking", "People trafficked for forced labor"},
    {"minors", "Minors", "People under 18"},
    {"adults", "Adults", "People 18 and over"},
    {"women", "Women", "Women and girls"},
    {"men", "Men", "Men and boys"},
    {"lgbtq", "LGBTQ+ people", "Lesbian, gay, bisexual, transgender and queer people"},
    {"foreign_nationals", "Foreign nationals", "People who are not citizens of the country"},
    {"families", "Families", "Families with children"},
    {"disabled", "People with disabilities", "People with physical or mental disabilities"},
};

const TermText* FindTerm(std::string_view group, std::string_view code) {
  auto find = [code](const auto& table) -> const TermText* {
    for (const TermText& t : table) {
      if (code == t.code) return &t;
    }
    return nullptr;
  };
  if (group == "category") return find(kCategoryTerms);
  if (group == "population") return find(kPopulationTerms);
  return nullptr;
}

}  // namespace

json SwitchboardTaxonomy() {
  return {{"id", kSwitchboardTaxonomyId},
          {"name", "Switchboard anti-trafficking services"},
          {"description",
           "Categories of help and populations served in anti-trafficking resource directories "
           "(published by Switchboard)"},
          {"version", "1"}};
}

std::string SwitchboardTermId(std::string_view group, std::string_view code) {
  return DerivedId(kSwitchboardTaxonomyId, std::string(group) + ":" + std::string(code));
}

json SwitchboardTerm(std::string_view group, std::string_view code) {
  const TermText* t = FindTerm(group, code);
  json term = {{"id", SwitchboardTermId(group, code)},
               {"code", std::string(group) + ":" + std::string(code)},
               {"name", t ? t->name : std::string(code)},
               {"description", t ? t->description : std::string(code)},
               {"taxonomy", "Switchboard"},
               {"taxonomy_id", kSwitchboardTaxonomyId},
               {"taxonomy_detail", SwitchboardTaxonomy()}};
  return term;
}

bool IsSwitchboardTerm(std::string_view term_id, std::string* group, std::string* code) {
  static const std::vector<std::array<std::string, 3>>* const kIds = [] {
    auto* v = new std::vector<std::array<std::string, 3>>;
    for (const TermText& t : kCategoryTerms)
      v->push_back({SwitchboardTermId("category", t.code), "category", t.code});
    for (const TermText& t : kPopulationTerms)
      v->push_back({SwitchboardTermId("population", t.code), "population", t.code});
    return v;
  }();
  for (const auto& [id, g, c] : *kIds) {
    if (id == term_id) {
      if (group) *group = g;
      if (code) *code = c;
      return true;
    }
  }
  return false;
}

namespace {

// The sort key of one BYDAY element: weekday, then ordinal (none first, positive ascending,
// then negative ascending by magnitude).
std::pair<int, int> ByDayKey(const std::string& e) {
  static constexpr std::string_view kDays[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
  std::string_view s(e);
  int day = 7;
  if (s.size() >= 2) {
    auto it = std::find(std::begin(kDays), std::end(kDays), s.substr(s.size() - 2));
    day = static_cast<int>(it - std::begin(kDays));
  }
  std::string_view num = s.substr(0, s.size() >= 2 ? s.size() - 2 : 0);
  int ord = 0;
  if (!num.empty()) {
    bool neg = num[0] == '-';
    if (num[0] == '+' || num[0] == '-') num.remove_prefix(1);
    int n = 0;
    for (char c : num) n = n * 10 + (c - '0');
    ord = neg ? 100 + n : n;
  }
  return {day, ord};
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::vector<std::string> ByDaySet(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string el = Trim(text.substr(start, comma - start));
    if (!el.empty() && std::find(out.begin(), out.end(), el) == out.end()) out.push_back(el);
    start = comma + 1;
  }
  return out;
}

std::string ByDayText(const std::vector<std::string>& elements) {
  std::vector<std::string> sorted = elements;
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return ByDayKey(a) < ByDayKey(b); });
  std::string out;
  for (const std::string& e : sorted) out += (out.empty() ? "" : ",") + e;
  return out;
}

}  // namespace sb

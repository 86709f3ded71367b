// The built-in field table: HSDS 3.0 names, plus the fields an anti-trafficking directory
// needs (populations served, service categories, countries served, 24/7, live capacity, a
// confidential-address flag). Changing a field's type is a format change: add fields, do not
// repurpose them.
#include "conflict/field_schema.h"
#include "conflict/record.h"

namespace sb {
namespace {

FieldSpec Text(std::string name, size_t max_len, std::string help, Pattern p = Pattern::kNone) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = FieldType::kText;
  f.max_length = max_len;
  f.pattern = p;
  f.help = std::move(help);
  return f;
}
FieldSpec Ref(std::string name, std::string help) {
  return Text(std::move(name), 36, std::move(help), Pattern::kUuid);
}
FieldSpec Int(std::string name, int64_t lo, int64_t hi, std::string help) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = FieldType::kInt;
  f.min_int = lo;
  f.max_int = hi;
  f.help = std::move(help);
  return f;
}
FieldSpec Bool(std::string name, std::string help) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = FieldType::kBool;
  f.help = std::move(help);
  return f;
}
FieldSpec Enum(std::string name, std::vector<std::string> values, std::string help) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = FieldType::kEnum;
  f.enum_values = std::move(values);
  f.max_length = 64;
  f.help = std::move(help);
  return f;
}
FieldSpec SetOf(std::string name, std::vector<std::string> values, std::string help,
                Pattern p = Pattern::kNone) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = FieldType::kTextSet;
  f.enum_values = std::move(values);
  f.pattern = p;
  f.max_length = 64;
  f.help = std::move(help);
  return f;
}
FieldSpec Moderated(FieldSpec f) {
  f.moderated = true;
  return f;
}
FieldSpec Seen(FieldSpec f, Audience a) {
  f.audience = a;
  return f;
}

const std::vector<std::string> kPopulations = {
    "sex_trafficking", "labor_trafficking", "minors",   "adults",  "women", "men",
    "lgbtq",           "foreign_nationals", "families", "disabled"};
const std::vector<std::string> kCategories = {
    "emergency_shelter", "long_term_housing",     "legal",
    "case_management",   "psychological_support", "medical",
    "hotline",           "interpretation",        "employment",
    "education",         "repatriation",          "financial_aid"};
const std::vector<std::string> kDays = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};

KindSpec MakeKind(std::string name, std::vector<FieldSpec> fields) {
  KindSpec k;
  k.name = std::move(name);
  FieldSpec owner = Ref(kOwnerField, "the organization that owns this record");
  owner.maintainer_only = true;
  fields.push_back(owner);
  fields.push_back(Bool(kDeletedField, "true once the record is deleted"));
  for (auto& f : fields) {
    std::string n = f.name;
    k.fields.emplace(std::move(n), std::move(f));
  }
  return k;
}

std::vector<KindSpec> HsdsKinds() {
  std::vector<KindSpec> kinds;
  FieldSpec name = Text("name", 200, "name as the public should see it");
  name.min_length = 1;
  kinds.push_back(MakeKind(
      "organization",
      {name, Text("alternate_name", 200, "other name or acronym"),
       Text("description", 4000, "what the organization does"),
       Moderated(Text("email", 254, "main contact email", Pattern::kEmail)),
       Moderated(Text("website", 500, "main website", Pattern::kUrl)),
       Text("legal_status", 100, "legal form"),
       Int("year_incorporated", 1800, 2100, "year founded"),
       SetOf("countries_served", {}, "ISO 3166-1 codes of countries served", Pattern::kCountry),
       SetOf("populations_served", kPopulations, "populations the organization serves"),
       [] {
         FieldSpec f = Bool("approved", "vetted and published by a maintainer");
         f.maintainer_only = true;
         return f;
       }(),
       [] {
         FieldSpec f =
             Text(kVettingNoteField, 1000, "why a maintainer declined to publish the organization");
         f.maintainer_only = true;
         f.audience = Audience::kOwner;
         return f;
       }()}));
  kinds.push_back(MakeKind(
      "service",
      {Ref("organization_id", "the organization providing the service"), name,
       Text("alternate_name", 200, "other name"), Text("description", 4000, "what is offered"),
       Moderated(Text("url", 500, "web page of the service", Pattern::kUrl)),
       Moderated(Text("email", 254, "contact email of the service", Pattern::kEmail)),
       Enum("status", {"active", "inactive", "defunct", "temporarily closed"}, "HSDS status"),
       SetOf("categories", kCategories, "what kind of help"),
       SetOf("populations_served", kPopulations, "who is served"),
       SetOf("countries_served", {}, "ISO 3166-1 codes", Pattern::kCountry),
       Bool("available_24_7", "reachable at any hour"),
       Seen(Int("capacity_beds_available", 0, 100000, "live count of free beds"),
            Audience::kPartners),
       Seen(Int("capacity_beds_total", 0, 100000, "beds in all"), Audience::kPartners),
       Text("eligibility_description", 2000, "who is eligible"),
       Text("application_process", 2000, "how to get the service"),
       Text("fees_description", 1000, "costs, if any")}));
  kinds.push_back(MakeKind(
      "location",
      {Ref("organization_id", "the organization at this location"), Text("name", 200, "name"),
       Enum("location_type", {"physical", "postal", "virtual"}, "HSDS location type"),
       Text("description", 2000, "directions or notes"),
       Moderated(Text("address_1", 200, "street address")),
       Moderated(Text("address_2", 200, "second address line")), Text("city", 100, "city"),
       Text("state_province", 100, "state or province"), Text("postal_code", 20, "postal code"),
       Text("country", 2, "ISO 3166-1 alpha-2 country code", Pattern::kCountry),
       Text("latitude", 20, "WGS84 latitude", Pattern::kDecimal),
       Text("longitude", 20, "WGS84 longitude", Pattern::kDecimal),
       Bool("address_confidential",
            "when true the street address, coordinates and postal code reach only the owner "
            "and maintainers (a confidential shelter)")}));
  kinds.push_back(
      MakeKind("service_at_location",
               {Ref("service_id", "the service"), Ref("location_id", "where it is offered"),
                Text("description", 1000, "notes for this place")}));
  FieldSpec ext = Text("extension", 10, "extension digits");
  kinds.push_back(MakeKind(
      "phone",
      {Ref("organization_id", "organization reached"), Ref("service_id", "service reached"),
       Ref("location_id", "location reached"),
       Moderated(Text("number", 16, "the number in E.164 form", Pattern::kE164)), ext,
       Enum("type", {"text", "voice", "fax", "cell", "video", "pager", "textphone"}, "HSDS type"),
       Text("description", 500, "when to call, who answers"),
       SetOf("languages", {}, "ISO 639-1 codes spoken on this line", Pattern::kLanguage)}));
  kinds.push_back(MakeKind(
      "schedule",
      {Ref("service_id", "service the hours belong to"), Ref("location_id", "location"),
       Enum("freq", {"WEEKLY", "MONTHLY"}, "recurrence"), SetOf("byday", kDays, "days open"),
       Text("opens_at", 5, "opening time", Pattern::kTime),
       Text("closes_at", 5, "closing time", Pattern::kTime),
       Text("valid_from", 10, "first day", Pattern::kDate),
       Text("valid_to", 10, "last day", Pattern::kDate), Text("description", 500, "hours in words"),
       Text("notes", 500, "exceptions")}));
  kinds.push_back(MakeKind(
      "language",
      {Ref("service_id", "service offered in the language"), Ref("location_id", "location"),
       Ref("phone_id", "phone line"), Text("name", 100, "language name"),
       Text("code", 2, "ISO 639-1 code", Pattern::kLanguage),
       Text("note", 500, "e.g. interpreter on request")}));
  return kinds;
}

}  // namespace

const FieldSchema& FieldSchema::Hsds() {
  static const FieldSchema* const kSchema = new FieldSchema(HsdsKinds());
  return *kSchema;
}

}  // namespace sb

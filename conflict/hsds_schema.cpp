// The built-in field table: every object of HSDS 3.0 with its fields (schemas/HSDS.md maps
// each to the official schema), plus the fields an anti-trafficking directory needs
// (populations served, service categories, countries served, 24/7, live capacity, a
// confidential-address flag), which the HSDS view presents through HSDS's own structures
// (attributes of the Switchboard taxonomy, service areas, schedules, capacities). Changing a
// field's type is a format change: add fields, do not repurpose them.
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
// A link to a record of `kind` that must belong to the writer's own organization.
FieldSpec Ref(std::string name, std::string help, std::string kind = "") {
  FieldSpec f = Text(std::move(name), 36, std::move(help), Pattern::kUuid);
  f.link_kind = std::move(kind);
  f.owned_link = true;
  return f;
}
// A link to a record anyone may own (a parent organization, a shared taxonomy term).
FieldSpec SharedRef(std::string name, std::string help, std::string kind) {
  FieldSpec f = Ref(std::move(name), std::move(help), std::move(kind));
  f.owned_link = false;
  return f;
}
FieldSpec Number(std::string name, double lo, double hi, std::string help) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = FieldType::kNumber;
  f.min_number = lo;
  f.max_number = hi;
  f.max_length = 40;
  f.help = std::move(help);
  return f;
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

// The unknown properties of an imported object (kept and exported again).
FieldSpec Extra() {
  return Text(kExtraField, 16384,
              "properties of the imported HSDS object that Switchboard has no field for, as one "
              "JSON object; exported again as they came");
}

std::vector<KindSpec> HsdsKinds() {
  std::vector<KindSpec> kinds;
  FieldSpec name = Text("name", 200, "name as the public should see it");
  name.min_length = 1;
  const std::string kOrg = "organization", kService = "service", kLocation = "location",
                    kSal = "service_at_location", kPhone = "phone", kContact = "contact";
  kinds.push_back(MakeKind(
      "organization",
      {name, Text("alternate_name", 200, "other name or acronym"),
       Text("description", 4000, "what the organization does"),
       Moderated(Text("email", 254, "main contact email", Pattern::kEmail)),
       Moderated(Text("website", 500, "main website", Pattern::kUrl)),
       Text("tax_status", 200, "tax status, e.g. 501(c)(3)"), Text("tax_id", 100, "tax identifier"),
       Text("legal_status", 100, "legal form"),
       Int("year_incorporated", 1800, 2100, "year founded"),
       Moderated(Text("logo", 500, "URL of the organization's logo", Pattern::kUrl)),
       Moderated(Text("uri", 500, "persistent identifier of the organization", Pattern::kUrl)),
       SharedRef("parent_organization_id", "the organization this one is part of", kOrg),
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
       }(),
       Extra()}));
  kinds.push_back(MakeKind(
      "service",
      {Ref("organization_id", "the organization providing the service", kOrg),
       Ref("program_id", "the program the service belongs to", "program"),
       name,
       Text("alternate_name", 200, "other name"),
       Text("description", 4000, "what is offered"),
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
       Seen(Text("capacity_updated", 40, "when the bed count was last updated", Pattern::kDateTime),
            Audience::kPartners),
       Text("interpretation_services", 1000, "interpretation offered"),
       Text("eligibility_description", 2000, "who is eligible"),
       Text("application_process", 2000, "how to get the service"),
       Text("fees_description", 1000, "costs, if any"),
       Text("fees", 1000, "fees (HSDS 2 field)"),
       Text("wait_time", 500, "how long people wait"),
       Text("accreditations", 1000, "accreditations"),
       Text("licenses", 1000, "licenses"),
       Number("minimum_age", 0, 150, "youngest age served"),
       Number("maximum_age", 0, 150, "oldest age served"),
       Text("assured_date", 10, "when the information was last checked", Pattern::kDate),
       Moderated(Text("assurer_email", 254, "who checked it", Pattern::kEmail)),
       Text("alert", 1000, "a short-term notice (closures, changes)"),
       Text("last_modified", 40, "when the service's information last changed", Pattern::kDateTime),
       Extra()}));
  kinds.push_back(MakeKind(
      "location",
      {Ref("organization_id", "the organization at this location", kOrg), Text("name", 200, "name"),
       Text("alternate_name", 200, "other name"),
       Enum("location_type", {"physical", "postal", "virtual"}, "HSDS location type"),
       Moderated(Text("url", 500, "web address of a virtual location", Pattern::kUrl)),
       Text("description", 2000, "directions or notes"),
       Text("transportation", 1000, "how to get there"),
       Text("external_identifier", 200, "a third-party identifier (e.g. UPRN)"),
       Text("external_identifier_type", 100, "the scheme of external_identifier"),
       // The location's own (first) address, as the HSDS `addresses[]` object with id
       // address_id; further addresses are `address` records.
       Text("address_id", 36, "HSDS id of the location's own address", Pattern::kUuid),
       Enum("address_type", {"physical", "postal", "virtual"}, "HSDS address type"),
       Text("attention", 200, "the person or office to address"),
       Moderated(Text("address_1", 200, "street address")),
       Moderated(Text("address_2", 200, "second address line")), Text("city", 100, "city"),
       Text("region", 100, "region"), Text("state_province", 100, "state or province"),
       Text("postal_code", 20, "postal code"),
       Text("country", 2, "ISO 3166-1 alpha-2 country code", Pattern::kCountry),
       // No range: HSDS sets none, and its own example has latitude 100.
       Number("latitude", -1e300, 1e300, "WGS84 latitude"),
       Number("longitude", -1e300, 1e300, "WGS84 longitude"),
       Bool("address_confidential",
            "when true the street address, coordinates and postal code reach only the owner "
            "and maintainers (a confidential shelter)"),
       Extra()}));
  kinds.push_back(MakeKind("service_at_location",
                           {Ref("service_id", "the service", kService),
                            Ref("location_id", "where it is offered", kLocation),
                            Text("description", 1000, "notes for this place"), Extra()}));
  kinds.push_back(
      MakeKind("address",
               {Ref("location_id", "the location this address belongs to", kLocation),
                Enum("address_type", {"physical", "postal", "virtual"}, "HSDS address type"),
                Text("attention", 200, "the person or office to address"),
                Moderated(Text("address_1", 200, "street address")),
                Moderated(Text("address_2", 200, "second address line")), Text("city", 100, "city"),
                Text("region", 100, "region"), Text("state_province", 100, "state or province"),
                Text("postal_code", 20, "postal code"),
                Text("country", 2, "ISO 3166-1 alpha-2 country code", Pattern::kCountry),
                Bool("address_confidential",
                     "when true the street address and postal code reach only the owner and "
                     "maintainers"),
                Extra()}));
  kinds.push_back(MakeKind(
      "phone", {Ref("organization_id", "organization reached", kOrg),
                Ref("service_id", "service reached", kService),
                Ref("location_id", "location reached", kLocation),
                Ref("contact_id", "contact reached", kContact),
                Ref("service_at_location_id", "service at a location reached", kSal),
                Moderated(Text("number", 50, "the number as it is dialled, e.g. +44 1234 234567",
                               Pattern::kPhone)),
                Number("extension", 0, 1e15, "extension"),
                Text("type", 50, "HSDS type: text, voice, fax, cell, video, pager or textphone"),
                Text("description", 500, "when to call, who answers"),
                SetOf("languages", {},
                      "ISO 639 codes spoken on this line (language records with this "
                      "phone_id carry names and notes)",
                      Pattern::kLanguage),
                Extra()}));
  kinds.push_back(MakeKind(
      "contact",
      {Ref("organization_id", "organization", kOrg), Ref("service_id", "service", kService),
       Ref("service_at_location_id", "service at a location", kSal),
       Ref("location_id", "location", kLocation), Text("name", 200, "name"),
       Text("title", 200, "job title"), Text("department", 200, "department"),
       Moderated(Text("email", 254, "email", Pattern::kEmail)), Extra()}));
  kinds.push_back(MakeKind(
      "schedule",
      {Ref("service_id", "service the hours belong to", kService),
       Ref("location_id", "location", kLocation),
       Ref("service_at_location_id", "service at a location", kSal),
       Enum("freq", {"WEEKLY", "MONTHLY"}, "recurrence"),
       SetOf("byday", {}, "iCal BYDAY: the days open (MO, 2MO, -1FR ...)", Pattern::kByDay),
       Text("byweekno", 200, "iCal BYWEEKNO"),
       Text("bymonthday", 200, "iCal BYMONTHDAY"),
       Text("byyearday", 200, "iCal BYYEARDAY"),
       Int("interval", 1, 1000, "every n periods"),
       Int("count", 1, 100000, "number of occurrences"),
       Enum("wkst", {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}, "first day of the week"),
       Text("dtstart", 40, "first occurrence (date)"),
       Text("until", 40, "last occurrence"),
       Number("timezone", -14, 14, "UTC offset of the times, in hours"),
       Text("opens_at", 20, "opening time", Pattern::kTime),
       Text("closes_at", 20, "closing time", Pattern::kTime),
       Text("valid_from", 10, "first day", Pattern::kDate),
       Text("valid_to", 10, "last day", Pattern::kDate),
       Moderated(Text("schedule_link", 500, "a page with the hours", Pattern::kUrl)),
       Text("attending_type", 200, "how people attend (in person, online, phone)"),
       Text("description", 500, "hours in words"),
       Text("notes", 500, "exceptions"),
       Extra()}));
  kinds.push_back(MakeKind(
      "language", {Ref("service_id", "service offered in the language", kService),
                   Ref("location_id", "location", kLocation), Ref("phone_id", "phone line", kPhone),
                   Text("name", 100, "language name"),
                   Text("code", 3, "ISO 639-1 or 639-3 code", Pattern::kLanguage),
                   Text("note", 500, "e.g. interpreter on request"), Extra()}));
  kinds.push_back(
      MakeKind("accessibility",
               {Ref("location_id", "location", kLocation),
                Text("description", 1000, "what is accessible"), Text("details", 1000, "details"),
                Moderated(Text("url", 500, "more information", Pattern::kUrl)), Extra()}));
  kinds.push_back(
      MakeKind("service_area",
               {Ref("service_id", "service", kService), Text("name", 200, "name of the area"),
                Text("description", 1000, "the area in words"),
                Text("extent", 100000, "the area's extent (GeoJSON, TopoJSON, KML or text)"),
                Text("extent_type", 20, "geojson, topojson, kml or text"),
                Text("uri", 500, "identifier of the area (e.g. a Wikidata URI)"), Extra()}));
  kinds.push_back(MakeKind("funding", {Ref("organization_id", "organization", kOrg),
                                       Ref("service_id", "service", kService),
                                       Text("source", 1000, "who funds it"), Extra()}));
  kinds.push_back(MakeKind(
      "cost_option",
      {Ref("service_id", "service", kService), Text("valid_from", 10, "from", Pattern::kDate),
       Text("valid_to", 10, "to", Pattern::kDate), Text("option", 500, "what the cost is for"),
       Text("currency", 3, "ISO 4217 currency", Pattern::kCurrency),
       Number("amount", 0, 1e12, "amount"), Text("amount_description", 1000, "about the amount"),
       Extra()}));
  FieldSpec program_name = name;
  kinds.push_back(MakeKind("program", {Ref("organization_id", "organization", kOrg), program_name,
                                       Text("alternate_name", 200, "other name"),
                                       Text("description", 4000, "what the program is"), Extra()}));
  kinds.push_back(MakeKind(
      "required_document",
      {Ref("service_id", "service", kService), Text("document", 1000, "the document needed"),
       Moderated(Text("uri", 500, "where to find it", Pattern::kUrl)), Extra()}));
  kinds.push_back(MakeKind("organization_identifier",
                           {Ref("organization_id", "organization", kOrg),
                            Text("identifier_scheme", 50, "org-id.guide scheme, e.g. GB-COH"),
                            Text("identifier_type", 200, "what kind of identifier"),
                            Text("identifier", 200, "the identifier"), Extra()}));
  kinds.push_back(
      MakeKind("attribute",
               {Ref("link_id", "the record this classifies (one of the owner's own)"),
                SharedRef("taxonomy_term_id", "the taxonomy term", "taxonomy_term"),
                Text("link_type", 200, "how the term applies"),
                Text("link_entity", 50, "the kind of the linked record (service, location, ...)"),
                Text("value", 1000, "a value for the term"), Extra()}));
  kinds.push_back(
      MakeKind("taxonomy_term",
               {Text("code", 200, "the term's code in its taxonomy"), name,
                Text("description", 2000, "what the term means"),
                SharedRef("parent_id", "the broader term", "taxonomy_term"),
                Text("taxonomy", 200, "the taxonomy's name (when there is no taxonomy record)"),
                Text("language", 20, "language of the term"),
                SharedRef("taxonomy_id", "the taxonomy", "taxonomy"),
                Text("term_uri", 500, "URI of the term"), Extra()}));
  kinds.push_back(MakeKind("taxonomy", {name, Text("description", 2000, "what it classifies"),
                                        Text("uri", 500, "URI of the taxonomy"),
                                        Text("version", 50, "version"), Extra()}));
  return kinds;
}

}  // namespace

const FieldSchema& FieldSchema::Hsds() {
  static const FieldSchema* const kSchema = new FieldSchema(HsdsKinds());
  return *kSchema;
}

}  // namespace sb

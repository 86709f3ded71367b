// The HSDS 3.0 view of the directory: how Switchboard's records map to the official objects,
// shared by import (agents/hsds_import.*), export and the HSDS API (agents/hsds_export.*,
// agents/hsds_api.*) and the tabular form (agents/hsds_tabular.*). schemas/HSDS.md documents
// it for users; the official schemas are in ../shared/hsds/schema.
//
// Records and HSDS objects are one to one (same kind name, same id, same field names), with
// these mappings, applied the same way in both directions:
//
//  * Link fields are implied by nesting in the compiled (dereferenced) JSON: a phone inside a
//    service's `phones` has service_id = that service (Nesting() below). In the tabular form
//    they are columns.
//  * location's own address: the fields address_1 ... country, attention, region,
//    address_type on the location record are its first `addresses[]` object, whose id is the
//    location's `address_id` (or, when unset, DerivedId(location id, "address")). Further
//    addresses of the location are `address` records (location_id = the location). On import
//    the first address (the first with address_type "physical" if any, else the first) goes
//    onto the location, unless the location carries address fields of its own or that
//    address has unknown properties (it then stays an `address` record, so nothing is lost);
//    the other addresses get the location's address_confidential.
//  * service.categories / populations_served and organization.populations_served: each
//    element is an `attribute` {id: DerivedId(record id, "category:" + element) (or
//    "population:"), link_id: the record, link_entity: "service"/"organization",
//    taxonomy_term_id: SwitchboardTermId(...), taxonomy_term: {…the term, with
//    taxonomy_detail = the Switchboard taxonomy}}. Attributes of other taxonomies (Open
//    Eligibility, AIRS...) are ordinary `attribute` records and their terms `taxonomy_term`
//    records. On import an attribute whose taxonomy_term id is a Switchboard term becomes the
//    set element again, whatever its own id.
//  * service.countries_served: each element is a `service_areas[]` object {id:
//    DerivedId(service id, "country:" + code), name: code, extent: code, extent_type:
//    "text", description: "Country served (ISO 3166-1 alpha-2)"}; on import a service area
//    whose id is that derived id, or whose extent_type is "text" and whose extent is exactly a
//    two-letter upper-case code equal to its name, becomes the set element.
//    organization.countries_served has no HSDS structure: it is the additional property
//    `countries_served` (a list of codes) on the organization.
//  * service.available_24_7 = true is a `schedules[]` object {id: DerivedId(service id,
//    "24_7"), freq: "WEEKLY", byday: "MO,TU,WE,TH,FR,SA,SU", opens_at: "00:00", closes_at:
//    "23:59", description: "Open 24 hours a day, 7 days a week"}; on import a schedule with
//    that derived id sets available_24_7 (other schedules are schedule records).
//  * bed capacity (HSDS 3.1 draft `service.capacities[]`, an additional property in 3.0):
//    {id: DerivedId(service id, "capacity:bed"), unit: "Bed", available:
//    capacity_beds_available, maximum: capacity_beds_total, updated: capacity_updated}. Only
//    readers the fields' audience allows (partners) get it: never the public API.
//  * phone.languages (a set of ISO 639 codes on the phone): each code not already carried by
//    a `language` record with this phone_id is a `languages[]` object {id: DerivedId(phone id,
//    "language:" + code), code}. On import, languages nested in a phone are `language`
//    records with phone_id.
//  * schedule.byday is a set of iCal days inside; outside it is HSDS's comma-separated text,
//    in the order MO..SU with week numbers first by number ("2MO,-1FR" stays a set {2MO, -1FR}
//    and is written "2MO,-1FR": ByDayText()).
//  * location.address_confidential and address.address_confidential: the documented
//    additional property `address_confidential` (true only; omitted when false). To a reader
//    outside the audience, a confidential location has no addresses[], latitude or longitude.
//  * `extra` (unknown properties of the imported object): merged into the object on the way
//    out; on the way in every property that is neither a field nor a known nested array/object
//    goes into it (so HSDS extensions survive a round trip).
//  * numbers: kNumber fields are JSON numbers (conflict/field_json.h).
//  * not exported: review data (approved, vetting_note, the @published/@rejected shadows),
//    the owner and deleted flags; `metadata[]` is derived from the record's history on export.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sb {

// One HSDS object, flat: its kind, its id, and its own properties (scalars, link ids, and the
// additional properties), with nested objects taken out. `where` is the JSON path (or
// "file.csv row N") it came from, for error messages.
struct HsdsObject {
  std::string kind;
  std::string id;
  nlohmann::json fields = nlohmann::json::object();
  std::string where;
};

// A property of a compiled object that holds other objects.
struct Nested {
  std::string parent_kind;
  std::string property;    // "phones", "location", "taxonomy_term", ...
  std::string child_kind;  // "phone", "location", ...
  bool many = true;        // an array (true) or one object (false)
  // How the child is linked to the parent: the child's field naming the parent
  // (phone.service_id), or, when the parent names the child (service.program_id,
  // service_at_location.location_id, attribute.taxonomy_term_id), the parent's field naming
  // the child, with `parent_names_child` set.
  std::string link_field;
  bool parent_names_child = false;
};

// Every nesting of the official compiled schemas (schema/compiled/*.json and the object
// schemas' arrays), e.g. {service, phones, phone, many, service_id}, {service_at_location,
// location, location, one, location_id, parent_names_child}. `metadata` is not listed: it is
// derived on export and ignored on import.
const std::vector<Nested>& Nesting();
// The nestings of one parent kind, in the order of the official schema's properties.
std::vector<const Nested*> NestingOf(std::string_view parent_kind);

// HSDS 3.0's required properties of `kind` besides `id` (the official schemas' `required`);
// empty for kinds that require only an id. Import refuses an object without them; export
// leaves out an object whose reader would get it without them.
const std::vector<std::string>& HsdsRequired(std::string_view kind);

// The location fields that are its own (first) address, in the official address order.
inline constexpr const char* kLocationAddressFields[] = {
    "address_type", "attention",      "address_1",   "address_2", "city",
    "region",       "state_province", "postal_code", "country"};

// A stable UUID derived from a record id and a purpose ("address", "category:legal"): the
// same on every replica and in every export, lower-case, in the RFC 9562 version 8 layout
// (BLAKE2b of a Switchboard domain string, the record id and the purpose).
std::string DerivedId(std::string_view record_id, std::string_view purpose);

// The published Switchboard taxonomy of anti-trafficking categories and populations.
inline constexpr char kSwitchboardTaxonomyId[] = "5b0a7c1e-6f2d-8c8b-9a3e-53574954434a";
// The taxonomy as an HSDS object {id, name, description, uri, version}.
nlohmann::json SwitchboardTaxonomy();
// The term for a category ("legal") or population ("minors") element: {id, code, name,
// description, taxonomy, taxonomy_id, taxonomy_detail}. `group` is "category" or "population".
std::string SwitchboardTermId(std::string_view group, std::string_view code);
nlohmann::json SwitchboardTerm(std::string_view group, std::string_view code);
// For an id of a Switchboard term, its group and code; false for any other id.
bool IsSwitchboardTerm(std::string_view term_id, std::string* group, std::string* code);

// schedule.byday between its set form and HSDS's text: "TH,FR" <-> {"FR","TH"}; the text
// is written in weekday order MO..SU, each day's ordinals ascending, positive before negative.
std::vector<std::string> ByDaySet(std::string_view text);
std::string ByDayText(const std::vector<std::string>& elements);

}  // namespace sb

// HSDS import (agents/hsds_import.h) against the official examples in ../shared/hsds (located
// by SB_HSDS_DIR, which meson sets) and hostile documents: shapes, dedupe, every value kept,
// the mapping onto Switchboard's fields, problems with their JSON paths, --skip-invalid.
#include "agents/hsds_import.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/json.h"
#include "conflict/field_json.h"

namespace sb {
namespace {

using json = nlohmann::json;

constexpr char kImporter[] = "0a000000-0000-4000-8000-000000000001";

std::string HsdsDir() {
  const char* d = std::getenv("SB_HSDS_DIR");
  return d ? d : "../shared/hsds";
}

json Example(const std::string& name) {
  std::ifstream in(HsdsDir() + "/examples/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  Result<json> j = ParseJson(ss.str(), name, JsonLimits{size_t{1} << 24, 64});
  EXPECT_TRUE(j.ok()) << HsdsDir() << "/examples/" << name << ": " << j.status().ToString();
  return j.ok() ? *j : json();
}

HsdsImportResult Import(const json& doc, bool skip_invalid = false) {
  HsdsImportOptions options;
  options.skip_invalid = skip_invalid;
  options.importer_org = kImporter;
  Result<HsdsImportResult> r = ImportHsdsJson(FieldSchema::Hsds(), doc, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : HsdsImportResult{};
}

std::string Problems(const HsdsImportResult& r) {
  std::string out;
  for (const ImportProblem& p : r.problems)
    out += "\n  " + p.where + " (" + p.record + "): " + p.error;
  return out;
}

const RecordEdit* Find(const HsdsImportResult& r, const std::string& id) {
  for (const RecordEdit& e : r.edits) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

// A record field as JSON, typed by the field table (numbers as numbers, byday as its text).
json FieldJson(const RecordEdit& e, const std::string& name) {
  const FieldSpec* spec = FieldSchema::Hsds().Field(e.kind, name);
  if (auto s = e.sets.find(name); s != e.sets.end()) {
    if (e.kind == "schedule" && name == "byday") return ByDayText(s->second);
    return s->second;
  }
  auto v = e.values.find(name);
  if (v == e.values.end()) return json();
  if (spec && spec->type == FieldType::kNumber) return NumberJson(std::get<std::string>(v->second));
  if (const auto* s = std::get_if<std::string>(&v->second)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v->second)) return *i;
  if (const auto* b = std::get_if<bool>(&v->second)) return *b;
  return json();
}

json ExtraOf(const RecordEdit& e) {
  auto v = e.values.find(kExtraField);
  if (v == e.values.end()) return json::object();
  return ParseStoredJson(std::get<std::string>(v->second));
}

bool IsNestedProperty(const std::string& kind, const std::string& property, const json& v) {
  for (const Nested* n : NestingOf(kind)) {
    if (n->property == property && (v.is_array() ? !v.empty() && v[0].is_object() : v.is_object()))
      return true;
  }
  return false;
}

// Every scalar property of every object in `doc` (walked as `kind`) is in the import: as the
// record's field, in its extra, or (a location's first address) on the location.
void ExpectEveryValueKept(const json& obj, const std::string& kind, const HsdsImportResult& r,
                          const std::string& path, int* compared) {
  ASSERT_TRUE(obj.is_object()) << path;
  std::string id = obj["id"];
  const RecordEdit* e = Find(r, id);
  std::string prefix;
  if (!e && kind == "address") {
    for (const RecordEdit& l : r.edits) {
      if (FieldJson(l, "address_id") == id) e = &l;
    }
  }
  ASSERT_NE(e, nullptr) << path << ": no record for " << kind << " " << id;
  json extra = ExtraOf(*e);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    if (key == "id" || key == "metadata") continue;
    if (IsNestedProperty(kind, key, *it)) {
      for (const Nested* n : NestingOf(kind)) {
        if (n->property != key) continue;
        if (n->many) {
          for (size_t i = 0; i < it->size(); ++i)
            ExpectEveryValueKept((*it)[i], n->child_kind, r,
                                 path + "." + key + "[" + std::to_string(i) + "]", compared);
        } else {
          ExpectEveryValueKept(*it, n->child_kind, r, path + "." + key, compared);
        }
      }
      continue;
    }
    json got = FieldSchema::Hsds().Field(e->kind, key) ? FieldJson(*e, key) : json();
    if (got.is_null() && extra.contains(key)) got = extra[key];
    EXPECT_EQ(got, *it) << path << "." << key << " (" << e->kind << " " << e->id << ")";
    // Types too: 51.5 stays a number, "100" stays text.
    EXPECT_EQ(got.type_name(), std::string(it->type_name())) << path << "." << key;
    ++*compared;
  }
}

TEST(HsdsImport, TheOfficialOrganizationIsTwentyIdsOnce) {
  json doc = Example("organization_full.json");
  HsdsImportResult r = Import(doc);
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  // 20 distinct ids: 18 records, the address on its location, the metadata entry ignored.
  std::set<std::string> ids;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object()) {
      if (j.contains("id")) ids.insert(j["id"].get<std::string>());
      for (const auto& v : j) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
  ASSERT_EQ(ids.size(), 20u);
  EXPECT_EQ(r.objects, 19u);  // metadata[] is not read
  EXPECT_EQ(r.edits.size(), 18u);
  std::set<std::string> got;
  for (const RecordEdit& e : r.edits) {
    EXPECT_TRUE(got.insert(e.id).second) << "two edits for " << e.id;
    if (auto a = e.values.find("address_id"); a != e.values.end())
      got.insert(std::get<std::string>(a->second));
  }
  got.insert("6cd71e9f-1013-49d9-8370-26b8f59d3e5a");  // the metadata entry
  EXPECT_EQ(got, ids);
  // The phone embedded ten times is one record with every link its places imply.
  const RecordEdit* phone = Find(r, "1554f2e2-a373-45db-a3fa-9fc48a61c15e");
  ASSERT_NE(phone, nullptr);
  EXPECT_EQ(FieldJson(*phone, "organization_id"), "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610");
  EXPECT_EQ(FieldJson(*phone, "contact_id"), "1e7efce3-639b-4880-940c-b95cd30cdb50");
  EXPECT_EQ(FieldJson(*phone, "service_id"), "ac148810-d857-441c-9679-408f346de14b");
  // Parents name the children embedded as single objects.
  const RecordEdit* service = Find(r, "ac148810-d857-441c-9679-408f346de14b");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(FieldJson(*service, "program_id"), "e7ec2e57-4540-43fa-b2c7-6be5a0ef7f42");
  const RecordEdit* sal = Find(r, "e94c9f38-1e8f-4564-91d4-d53501ab1765");
  ASSERT_NE(sal, nullptr);
  EXPECT_EQ(FieldJson(*sal, "location_id"), "3a19ff88-4620-4d17-9830-ac1d859eb5d5");
  EXPECT_EQ(FieldJson(*sal, "service_id"), "ac148810-d857-441c-9679-408f346de14b");
  const RecordEdit* attribute = Find(r, "ae58cc39-8b70-4ab1-8aea-786882e5ac8e");
  ASSERT_NE(attribute, nullptr);
  EXPECT_EQ(FieldJson(*attribute, "taxonomy_term_id"), "3f7b145d-84af-42d7-8fae-eaca714b02b2");
  EXPECT_EQ(FieldJson(*attribute, "link_id"), "ac148810-d857-441c-9679-408f346de14b");
  // Owners: the organization for what sits in it; the importer for taxonomies.
  for (const RecordEdit& e : r.edits) {
    std::string want = e.kind == "taxonomy" || e.kind == "taxonomy_term"
                           ? kImporter
                           : "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610";
    EXPECT_EQ(FieldJson(e, kOwnerField), want) << e.kind << " " << e.id;
  }
}

TEST(HsdsImport, EveryOfficialExampleImportsWithEveryValueKept) {
  struct Case {
    const char* file;
    const char* kind;  // of each object ("" for a Page: per item)
  };
  for (const Case& c :
       {Case{"organization_full.json", "organization"}, Case{"service_full.json", "service"},
        Case{"service_at_location_full.json", "service_at_location"},
        Case{"location.json", "location"}, Case{"taxonomy.json", "taxonomy"},
        Case{"taxonomy_term.json", "taxonomy_term"}, Case{"organization_list.json", "organization"},
        Case{"service_list.json", "service"},
        Case{"service_at_location_list.json", "service_at_location"},
        Case{"taxonomy_list.json", "taxonomy"}, Case{"taxonomy_term_list.json", "taxonomy_term"}}) {
    SCOPED_TRACE(c.file);
    json doc = Example(c.file);
    HsdsImportResult r = Import(doc);
    ASSERT_TRUE(r.problems.empty()) << Problems(r);
    ASSERT_FALSE(r.edits.empty());
    int compared = 0;
    if (doc.contains("contents")) {
      for (size_t i = 0; i < doc["contents"].size(); ++i)
        ExpectEveryValueKept(doc["contents"][i], c.kind, r, "contents[" + std::to_string(i) + "]",
                             &compared);
    } else {
      ExpectEveryValueKept(doc, c.kind, r, "", &compared);
    }
    EXPECT_GE(compared, 4);
  }
}

TEST(HsdsImport, EveryRecordOfACompiledServiceAtLocationBelongsToItsOrganization) {
  // The location hangs only on the service_at_location, which hangs on the service, which
  // names its organization: the owner is found through the links.
  HsdsImportResult r = Import(Example("service_at_location_full.json"));
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  for (const RecordEdit& e : r.edits) {
    std::string want = e.kind == "taxonomy" || e.kind == "taxonomy_term"
                           ? kImporter
                           : "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610";
    EXPECT_EQ(FieldJson(e, kOwnerField), want) << e.kind << " " << e.id;
  }
}

TEST(HsdsImport, FlatObjectsWithTheirLinksBecomeEdits) {
  // The tabular form's entry: rows with link columns, a row repeated, an unknown column.
  std::vector<HsdsObject> objects(4);
  objects[0] = {"organization",
                "6A000000-0000-4000-8000-000000000001",
                {{"name", "Org"}, {"description", "d"}},
                "organizations.csv row 2"};
  objects[1] = {"service",
                "6b000000-0000-4000-8000-000000000001",
                {{"organization_id", "6A000000-0000-4000-8000-000000000001"},
                 {"name", "S"},
                 {"status", "active"},
                 {"x_funder", "city"}},
                "services.csv row 2"};
  objects[2] = {"phone",
                "6c000000-0000-4000-8000-000000000001",
                {{"service_id", "6b000000-0000-4000-8000-000000000001"}, {"number", "0800 1"}},
                "phones.csv row 2"};
  objects[3] = objects[2];
  objects[3].where = "phones.csv row 3";
  HsdsImportOptions options;
  options.importer_org = kImporter;
  Result<HsdsImportResult> r = EditsFromHsdsObjects(FieldSchema::Hsds(), objects, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->problems.empty()) << Problems(*r);
  EXPECT_EQ(r->objects, 3u);
  ASSERT_EQ(r->edits.size(), 3u);
  const RecordEdit* phone = Find(*r, "6c000000-0000-4000-8000-000000000001");
  ASSERT_NE(phone, nullptr);
  EXPECT_EQ(FieldJson(*phone, kOwnerField), "6a000000-0000-4000-8000-000000000001");
  EXPECT_EQ(ExtraOf(*Find(*r, "6b000000-0000-4000-8000-000000000001")),
            json({{"x_funder", "city"}}));
  // The repeated row with another number: both rows named.
  objects[3].fields["number"] = "0800 2";
  r = EditsFromHsdsObjects(FieldSchema::Hsds(), objects, options);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->edits.empty());
  ASSERT_EQ(r->problems.size(), 1u) << Problems(*r);
  EXPECT_EQ(r->problems[0].where, "phones.csv row 3.number");
  EXPECT_NE(r->problems[0].error.find("phones.csv row 2.number"), std::string::npos)
      << r->problems[0].error;
}

TEST(HsdsImport, ASeriesOfPagesIsAListOfPages) {
  json doc = json::array({Example("service_list.json"), Example("organization_list.json")});
  HsdsImportResult r = Import(doc);
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  EXPECT_NE(Find(r, doc[0]["contents"][0]["id"]), nullptr);
  EXPECT_NE(Find(r, doc[1]["contents"][0]["id"]), nullptr);
}

json SmallOrganization() {
  return json::parse(R"({
    "id": "1A000000-0000-4000-8000-00000000000A",
    "name": "Refugio", "description": "Shelter",
    "services": [{
      "id": "1B000000-0000-4000-8000-00000000000B", "name": "Shelter", "status": "active",
      "phones": [{"id": "1c000000-0000-4000-8000-000000000001", "number": "+52 55 1234 5678",
                  "languages": [{"id": "1d000000-0000-4000-8000-000000000001", "code": "es",
                                 "name": "Spanish"}]}],
      "schedules": [{"id": "1e000000-0000-4000-8000-000000000001", "freq": "WEEKLY",
                     "byday": "2MO,-1FR,TU", "opens_at": "09:00", "closes_at": "17:00"}]
    }],
    "locations": [{
      "id": "1f000000-0000-4000-8000-000000000001", "location_type": "physical",
      "latitude": 51.5, "longitude": -0.125,
      "addresses": [
        {"id": "2a000000-0000-4000-8000-000000000001", "address_type": "postal",
         "address_1": "PO Box 1", "city": "London", "state_province": "London",
         "postal_code": "N1 1AA", "country": "GB"},
        {"id": "2a000000-0000-4000-8000-000000000002", "address_type": "physical",
         "address_1": "1 High St", "city": "London", "state_province": "London",
         "postal_code": "N1 1AB", "country": "GB"}]
    }]
  })");
}

TEST(HsdsImport, UppercaseIdsAndLinksAreLowerCased) {
  HsdsImportResult r = Import(SmallOrganization());
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  const RecordEdit* org = Find(r, "1a000000-0000-4000-8000-00000000000a");
  ASSERT_NE(org, nullptr);
  const RecordEdit* service = Find(r, "1b000000-0000-4000-8000-00000000000b");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(FieldJson(*service, "organization_id"), "1a000000-0000-4000-8000-00000000000a");
  EXPECT_EQ(FieldJson(*service, kOwnerField), "1a000000-0000-4000-8000-00000000000a");
}

TEST(HsdsImport, TheMappingOfHsdsModel) {
  json doc = SmallOrganization();
  const std::string service = "1b000000-0000-4000-8000-00000000000b";
  json& s = doc["services"][0];
  // Switchboard attributes, a derived country, the 24/7 schedule, a bed capacity.
  s["attributes"] = json::array();
  for (auto [group, code] : {std::pair{"category", "legal"}, {"population", "minors"}}) {
    s["attributes"].push_back({{"id", DerivedId(service, std::string(group) + ":" + code)},
                               {"taxonomy_term", SwitchboardTerm(group, code)}});
  }
  s["service_areas"] = {{{"id", DerivedId(service, "country:MX")},
                         {"name", "MX"},
                         {"extent", "MX"},
                         {"extent_type", "text"}}};
  s["schedules"].push_back({{"id", DerivedId(service, "24_7")},
                            {"freq", "WEEKLY"},
                            {"byday", "MO,TU,WE,TH,FR,SA,SU"},
                            {"opens_at", "00:00"},
                            {"closes_at", "23:59"}});
  s["capacities"] = {{{"id", DerivedId(service, "capacity:bed")},
                      {"unit", "Bed"},
                      {"available", 3},
                      {"maximum", 12},
                      {"updated", "2026-01-02T03:04:05Z"}},
                     {{"id", "3a000000-0000-4000-8000-000000000001"}, {"unit", "Cot"}}};
  HsdsImportResult r = Import(doc);
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  const RecordEdit* e = Find(r, service);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(FieldJson(*e, "categories"), json({"legal"}));
  EXPECT_EQ(FieldJson(*e, "populations_served"), json({"minors"}));
  EXPECT_EQ(FieldJson(*e, "countries_served"), json({"MX"}));
  EXPECT_EQ(FieldJson(*e, "available_24_7"), true);
  EXPECT_EQ(FieldJson(*e, "capacity_beds_available"), 3);
  EXPECT_EQ(FieldJson(*e, "capacity_beds_total"), 12);
  EXPECT_EQ(FieldJson(*e, "capacity_updated"), "2026-01-02T03:04:05Z");
  // The other capacity stays as it came.
  EXPECT_EQ(ExtraOf(*e)["capacities"], json::array({s["capacities"][1]}));
  // None of the mapped objects is a record; the built-in taxonomy is not one either.
  for (const RecordEdit& x : r.edits) {
    EXPECT_NE(x.kind, "attribute");
    EXPECT_NE(x.kind, "service_area");
    EXPECT_NE(x.kind, "taxonomy_term");
    EXPECT_NE(x.kind, "taxonomy");
    EXPECT_NE(x.id, DerivedId(service, "24_7"));
  }
  // byday text -> set.
  const RecordEdit* schedule = Find(r, "1e000000-0000-4000-8000-000000000001");
  ASSERT_NE(schedule, nullptr);
  EXPECT_EQ(
      std::set<std::string>(schedule->sets.at("byday").begin(), schedule->sets.at("byday").end()),
      (std::set<std::string>{"2MO", "-1FR", "TU"}));
  // A phone's language is a language record with phone_id.
  const RecordEdit* language = Find(r, "1d000000-0000-4000-8000-000000000001");
  ASSERT_NE(language, nullptr);
  EXPECT_EQ(FieldJson(*language, "phone_id"), "1c000000-0000-4000-8000-000000000001");
  // The physical address is the location's own; the postal one an address record.
  const RecordEdit* location = Find(r, "1f000000-0000-4000-8000-000000000001");
  ASSERT_NE(location, nullptr);
  EXPECT_EQ(FieldJson(*location, "address_id"), "2a000000-0000-4000-8000-000000000002");
  EXPECT_EQ(FieldJson(*location, "address_1"), "1 High St");
  EXPECT_EQ(FieldJson(*location, "latitude"), 51.5);
  EXPECT_EQ(Find(r, "2a000000-0000-4000-8000-000000000002"), nullptr);
  const RecordEdit* postal = Find(r, "2a000000-0000-4000-8000-000000000001");
  ASSERT_NE(postal, nullptr);
  EXPECT_EQ(postal->kind, "address");
  EXPECT_EQ(FieldJson(*postal, "location_id"), "1f000000-0000-4000-8000-000000000001");
}

TEST(HsdsImport, UnknownPropertiesAreKeptInExtra) {
  json doc = SmallOrganization();
  doc["x_local_code"] = {{"scheme", "LA"}, {"value", 17}};
  doc["services"][0]["phones"][0]["x_hours"] = "9-5";
  HsdsImportResult r = Import(doc);
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  EXPECT_EQ(ExtraOf(*Find(r, "1a000000-0000-4000-8000-00000000000a")),
            json({{"x_local_code", {{"scheme", "LA"}, {"value", 17}}}}));
  EXPECT_EQ(ExtraOf(*Find(r, "1c000000-0000-4000-8000-000000000001")), json({{"x_hours", "9-5"}}));
}

bool HasProblem(const HsdsImportResult& r, const std::string& where, const std::string& text) {
  for (const ImportProblem& p : r.problems) {
    if (p.where == where && p.error.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(HsdsImport, TwoCopiesThatDisagreeAreAnErrorNamingBoth) {
  json doc = Example("organization_full.json");
  doc["phones"][0]["extension"] = 101;
  HsdsImportResult r = Import(doc);
  EXPECT_TRUE(r.edits.empty());
  ASSERT_FALSE(r.problems.empty());
  // The first copy is in contacts[0].phones[0]; this one in phones[0].
  EXPECT_TRUE(HasProblem(r, "phones[0].extension", "contacts[0].phones[0].extension"))
      << Problems(r);
}

TEST(HsdsImport, BadValuesAreListedWithTheirPathsAndNothingIsImported) {
  json doc = SmallOrganization();
  doc["services"][0]["phones"][0]["extension"] = "one hundred";
  doc["locations"][0]["location_type"] = "boat";
  doc["services"][0]["status"] = nullptr;
  doc["services"][0]["schedules"][0]["id"] = "not-a-uuid";
  HsdsImportResult r = Import(doc);
  EXPECT_TRUE(r.edits.empty());
  EXPECT_TRUE(HasProblem(r, "services[0].phones[0].extension", "phone.extension")) << Problems(r);
  EXPECT_TRUE(HasProblem(r, "locations[0].location_type", "location.location_type")) << Problems(r);
  EXPECT_TRUE(HasProblem(r, "services[0].status", "required")) << Problems(r);
  EXPECT_TRUE(HasProblem(r, "services[0].schedules[0].id", "UUID")) << Problems(r);
  EXPECT_EQ(r.problems.size(), 4u) << Problems(r);
}

TEST(HsdsImport, SkipInvalidImportsTheValidRecordsAndNamesTheRest) {
  json doc = SmallOrganization();
  doc["services"].push_back(json::parse(R"({
    "id": "4b000000-0000-4000-8000-000000000001", "name": "Broken", "status": "closed",
    "phones": [{"id": "4c000000-0000-4000-8000-000000000001", "number": "+1 555 0100"}]})"));
  HsdsImportResult all_or_nothing = Import(doc);
  EXPECT_TRUE(all_or_nothing.edits.empty());
  HsdsImportResult r = Import(doc, /*skip_invalid=*/true);
  EXPECT_TRUE(HasProblem(r, "services[1].status", "service.status")) << Problems(r);
  EXPECT_TRUE(HasProblem(r, "services[1].phones[0]", "skipped: its service")) << Problems(r);
  EXPECT_EQ(r.skipped, 2u);
  EXPECT_EQ(Find(r, "4b000000-0000-4000-8000-000000000001"), nullptr);
  EXPECT_EQ(Find(r, "4c000000-0000-4000-8000-000000000001"), nullptr);
  EXPECT_NE(Find(r, "1b000000-0000-4000-8000-00000000000b"), nullptr);
  EXPECT_NE(Find(r, "1c000000-0000-4000-8000-000000000001"), nullptr);
}

TEST(HsdsImport, ACycleOfParentTermsIsAnError) {
  json doc = json::array();
  doc.push_back({{"id", "5a000000-0000-4000-8000-000000000001"},
                 {"name", "a"},
                 {"description", "a"},
                 {"parent_id", "5a000000-0000-4000-8000-000000000002"}});
  doc.push_back({{"id", "5a000000-0000-4000-8000-000000000002"},
                 {"name", "b"},
                 {"description", "b"},
                 {"parent_id", "5a000000-0000-4000-8000-000000000001"}});
  HsdsImportResult r = Import(doc);
  EXPECT_TRUE(r.edits.empty());
  EXPECT_TRUE(HasProblem(r, "[0].parent_id", "cycle")) << Problems(r);
}

TEST(HsdsImport, HostileDocumentsGetClearErrors) {
  // 100,000-deep nesting: refused by the bounded parser the API and CLI use, and by the
  // import itself for a document built in memory past its depth.
  std::string deep = "{\"id\":\"" + std::string("1a000000-0000-4000-8000-000000000001") +
                     "\",\"name\":\"x\",\"description\":\"x\",\"x\":" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  Result<json> parsed = ParseJson(deep, "the document", JsonLimits{deep.size(), 64});
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("deep"), std::string::npos)
      << parsed.status().ToString();
  json nested = json::array();
  for (int i = 0; i < 70; ++i) nested = json::array({nested});
  json doc = SmallOrganization();
  doc["x"] = nested;
  {
    HsdsImportOptions options;
    Result<HsdsImportResult> r = ImportHsdsJson(FieldSchema::Hsds(), doc, options);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("deeper than 64"), std::string::npos);
  }
  // Truncated JSON.
  std::string text = DumpJson(SmallOrganization());
  Result<json> truncated =
      ParseJson(text.substr(0, text.size() / 2), "the document", JsonLimits{text.size(), 64});
  EXPECT_FALSE(truncated.ok());
  // A 10 MB string in a field: refused with its path, nothing imported.
  doc = SmallOrganization();
  doc["services"][0]["description"] = std::string(10 << 20, 'a');
  HsdsImportResult r = Import(doc);
  EXPECT_TRUE(r.edits.empty());
  EXPECT_TRUE(HasProblem(r, "services[0].description", "service.description")) << Problems(r);
  // Not HSDS at all.
  HsdsImportOptions options;
  EXPECT_FALSE(ImportHsdsJson(FieldSchema::Hsds(), json(42), options).ok());
  EXPECT_FALSE(ImportHsdsJson(FieldSchema::Hsds(), json::array(), options).ok());
  EXPECT_FALSE(ImportHsdsJson(FieldSchema::Hsds(), json::object(), options).ok());
  r = Import(json::array({json::object({{"id", "5a000000-0000-4000-8000-000000000001"}})}));
  EXPECT_TRUE(HasProblem(r, "[0]", "cannot tell")) << Problems(r);
}

TEST(HsdsImport, AHugeListOfBadElementsListsTheFirstProblemsAndCountsTheRest) {
  json page = {{"total_items", 200000}, {"page_number", 1}, {"contents", json::array()}};
  for (int i = 0; i < 200000; ++i) page["contents"].push_back(i);
  HsdsImportResult r = Import(page);
  EXPECT_TRUE(r.edits.empty());
  ASSERT_EQ(r.problems.size(), 10001u);
  EXPECT_EQ(r.problems[0].where, "contents[0]");
  EXPECT_NE(r.problems.back().error.find("and 190000 more problem(s)"), std::string::npos)
      << r.problems.back().error;
}

TEST(HsdsImport, TheProjectsOwnEnvelopeStillImports) {
  json doc = json::parse(R"({
    "hsds_version": "3.0",
    "organizations": [{
      "id": "1a000000-0000-4000-8000-000000000001", "name": "Hope Line",
      "countries_served": ["MX"],
      "services": [{"id": "1b000000-0000-4000-8000-000000000001", "name": "Hotline",
                    "categories": ["hotline"], "available_24_7": true,
                    "phones": [{"id": "1c000000-0000-4000-8000-000000000001",
                                "number": "+525512345678", "languages": ["es", "en"]}],
                    "schedules": [{"id": "1d000000-0000-4000-8000-000000000001",
                                   "byday": ["MO", "TU"]}]}],
      "locations": [{"id": "1e000000-0000-4000-8000-000000000001", "city": "Puebla",
                     "latitude": "19.4326", "longitude": "-99.1332"}]
    }]})");
  HsdsImportResult r = Import(doc);
  ASSERT_TRUE(r.problems.empty()) << Problems(r);
  EXPECT_EQ(r.edits.size(), 5u);
  const RecordEdit* phone = Find(r, "1c000000-0000-4000-8000-000000000001");
  ASSERT_NE(phone, nullptr);
  EXPECT_EQ(FieldJson(*phone, "languages"), json({"es", "en"}));
  EXPECT_EQ(FieldJson(*phone, kOwnerField), "1a000000-0000-4000-8000-000000000001");
  EXPECT_EQ(FieldJson(*Find(r, "1e000000-0000-4000-8000-000000000001"), "latitude"), 19.4326);
  // Its own rules stay: an owner is not set by hand.
  doc["organizations"][0]["services"][0]["owner"] = "1a000000-0000-4000-8000-000000000009";
  r = Import(doc);
  EXPECT_TRUE(HasProblem(r, "organizations[0].services[0].owner", "not by hand")) << Problems(r);
}

TEST(HsdsImport, TheSampleDirectoryImports) {
  const char* gen = std::getenv("SAMPLE_GENERATOR");
  std::filesystem::path sample =
      gen ? std::filesystem::path(gen).parent_path() / "directory.json" : "";
  if (!gen || !std::filesystem::exists(sample)) GTEST_SKIP() << "no " << sample;
  std::ifstream in(sample, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  Result<json> doc = ParseJson(ss.str(), "directory.json", JsonLimits{ss.str().size(), 64});
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  HsdsImportResult r = Import(*doc);
  EXPECT_TRUE(r.problems.empty()) << Problems(r);
  EXPECT_GT(r.edits.size(), 1000u);
}

}  // namespace
}  // namespace sb

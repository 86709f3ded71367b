// HSDS 3.0 export and the read API against the official schemas, on a real agent process:
// records are written through the local API, exported (GET /v1/export) and read through the
// HSDS API (GET /hsds/... with the token, and the token-less --public-api listener), and every
// body is checked by tests/hsds/validate.py (python3-jsonschema) against
// ../shared/hsds/schema (SB_HSDS_DIR overrides).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "testing/edits.h"
#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using nlohmann::json;
using testing::AgentProcess;
using testing::Reply;
using testing::TempDir;
using testing::Uuid;

const std::string kOrg = Uuid(1), kUnvetted = Uuid(2), kService = Uuid(3), kHidden = Uuid(4),
                  kLocation = Uuid(5), kShelter = Uuid(6), kSal = Uuid(7), kShelterSal = Uuid(8),
                  kPhone = Uuid(9), kPendingPhone = Uuid(10), kSchedule = Uuid(11);

// What the public must never see.
constexpr const char* kSecrets[] = {"+44 20 7946 0999", "7 Hidden Lane", "LS1 1AA",       "53.8",
                                    "Unvetted Org",     "capacities",    "Hidden service"};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Validation {
  int rc = -1;
  std::string output;
};

class HsdsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* v = std::getenv("HSDS_VALIDATE");
    ASSERT_NE(v, nullptr) << "HSDS_VALIDATE (the path of tests/hsds/validate.py) is set by meson";
    validate_ = v;
    auto a = AgentProcess::Start(tmp_ / "agent",
                                 {"--public-api", "127.0.0.1:0", "--public-api-burst", "100000"});
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
    Write();
  }

  void Put(const std::string& id, const std::string& kind, json fields) {
    if (!fields.contains("owner")) fields["owner"] = kind == "organization" ? id : kOrg;
    Reply r = agent_->Put("/v1/records/" + id, {{"kind", kind}, {"fields", fields}});
    ASSERT_EQ(r.status, 200) << kind << " " << id << ": " << r.Describe();
  }

  // A vetted organization with a service at two locations (one confidential), a published
  // phone with two languages and one whose number waits for review, hours, categories,
  // countries, 24/7 and bed capacity; an organization nobody vetted with a service.
  void Write() {
    Put(kOrg, "organization",
        {{"name", "Casa Segura"},
         {"description", "Shelter and legal help"},
         {"approved", true},
         {"website", "https://casa.example.org"},
         {"website@published", "https://casa.example.org"},
         {"populations_served", {"women"}},
         {"countries_served", {"GB"}}});
    Put(kUnvetted, "organization", {{"name", "Unvetted Org"}, {"description", "not yet vetted"}});
    Put(kService, "service",
        {{"organization_id", kOrg},
         {"name", "Safe House"},
         {"status", "active"},
         {"description", "Emergency accommodation"},
         {"categories", {"emergency_shelter", "legal"}},
         {"populations_served", {"women", "minors"}},
         {"countries_served", {"GB", "IE"}},
         {"available_24_7", true},
         {"capacity_beds_available", 3},
         {"capacity_beds_total", 10},
         {"capacity_updated", "2026-01-01T10:00:00Z"},
         {"minimum_age", 18}});
    Put(kHidden, "service",
        {{"organization_id", kUnvetted},
         {"name", "Hidden service"},
         {"status", "active"},
         {"owner", kUnvetted}});
    Put(kLocation, "location",
        {{"organization_id", kOrg},
         {"name", "Main office"},
         {"location_type", "physical"},
         {"address_1", "1 High Street"},
         {"address_1@published", "1 High Street"},
         {"city", "London"},
         {"state_province", "London"},
         {"postal_code", "SW1A 1AA"},
         {"country", "GB"},
         {"address_type", "physical"},
         {"latitude", 51.5},
         {"longitude", -0.12}});
    Put(kShelter, "location",
        {{"organization_id", kOrg},
         {"name", "Shelter"},
         {"location_type", "physical"},
         {"address_confidential", true},
         {"address_1", "7 Hidden Lane"},
         {"address_1@published", "7 Hidden Lane"},
         {"city", "Leeds"},
         {"state_province", "West Yorkshire"},
         {"postal_code", "LS1 1AA"},
         {"country", "GB"},
         {"address_type", "physical"},
         {"latitude", 53.8},
         {"longitude", -1.55}});
    Put(kSal, "service_at_location", {{"service_id", kService}, {"location_id", kLocation}});
    Put(kShelterSal, "service_at_location", {{"service_id", kService}, {"location_id", kShelter}});
    Put(kPhone, "phone",
        {{"service_id", kService},
         {"number", "+44 20 7946 0000"},
         {"number@published", "+44 20 7946 0000"},
         {"languages", {"en", "fr"}}});
    Put(kPendingPhone, "phone", {{"service_id", kService}, {"number", "+44 20 7946 0999"}});
    Put(kSchedule, "schedule",
        {{"service_id", kService},
         {"freq", "WEEKLY"},
         {"byday", {"TH", "FR"}},
         {"opens_at", "09:00"},
         {"closes_at", "17:00"}});
  }

  // Runs validate.py MODE NAME on `body` saved to a file.
  Validation Validate(const std::string& mode, const std::string& name, const std::string& body) {
    std::string file = tmp_ / ("body" + std::to_string(++files_) + ".json");
    std::ofstream(file) << body;
    std::string out = file + ".out";
    std::string cmd = "python3 '" + validate_ + "' " + mode + " '" + name + "' '" + file + "' > '" +
                      out + "' 2>&1";
    int status = std::system(cmd.c_str());
    Validation v;
    v.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    v.output = Slurp(out);
    if (v.rc == 3) {
      ADD_FAILURE() << "python3 cannot import jsonschema: install the Debian package "
                       "python3-jsonschema (./dev.sh installs it)\n"
                    << v.output;
    }
    return v;
  }

  // Asserts that the body validates with no error.
  void ExpectValid(const std::string& mode, const std::string& name, const std::string& body) {
    Validation v = Validate(mode, name, body);
    EXPECT_EQ(v.rc, 0) << mode << " " << name << ":\n" << v.output << "\n" << body.substr(0, 3000);
    EXPECT_NE(v.output.find(" 0 error(s)"), std::string::npos) << v.output;
  }

  // A GET on the token-less public listener.
  httplib::Result PublicGet(const std::string& path, const std::string& method = "GET") {
    json runtime = json::parse(Slurp(agent_->data_dir() + "/agent.json"));
    std::string addr = runtime["public_api"];
    size_t colon = addr.rfind(':');
    httplib::Client c(addr.substr(0, colon), std::stoi(addr.substr(colon + 1)));
    if (method == "GET") return c.Get(path);
    if (method == "POST") return c.Post(path, "{}", "application/json");
    if (method == "PUT") return c.Put(path, "{}", "application/json");
    return c.Delete(path);
  }

  TempDir tmp_;
  std::string validate_;
  std::unique_ptr<AgentProcess> agent_;
  int files_ = 0;
};

TEST_F(HsdsApiTest, TheExportValidatesAgainstTheCompiledSchemas) {
  for (const char* view : {"organization", "service", "service_at_location"}) {
    Reply r = agent_->Get(std::string("/v1/export?view=") + view);
    ASSERT_EQ(r.status, 200) << r.Describe();
    ASSERT_TRUE(r.body.is_array()) << r.raw.substr(0, 500);
    ASSERT_FALSE(r.body.empty()) << view;
    ExpectValid("compiled", view, r.raw);
  }
  // The mapping, as a stand-alone agent (which reads everything as proposed) exports it.
  Reply r = agent_->Get("/v1/export?view=service");
  json svc;
  for (const json& s : r.body) {
    if (s["id"] == kService) svc = s;
  }
  ASSERT_TRUE(svc.is_object()) << r.raw.substr(0, 2000);
  EXPECT_EQ(svc["organization"]["name"], "Casa Segura");
  EXPECT_EQ(svc["minimum_age"], 18);
  EXPECT_EQ(svc["attributes"].size(), 4u) << svc["attributes"].dump();  // 2 categories, 2 pops
  EXPECT_EQ(svc["service_areas"].size(), 2u);
  EXPECT_EQ(svc["capacities"][0]["maximum"], 10);
  EXPECT_EQ(svc["capacities"][0]["unit"], "Bed");
  std::string text = svc.dump();
  EXPECT_NE(text.find("\"TH,FR\""), std::string::npos) << "byday as iCal text";
  EXPECT_NE(text.find("MO,TU,WE,TH,FR,SA,SU"), std::string::npos) << "24/7 as a schedule";
  EXPECT_NE(text.find("Emergency shelter"), std::string::npos) << "the Switchboard term";
  for (const json& sal : svc["service_at_locations"]) {
    if (sal["id"] != kSal) continue;
    EXPECT_EQ(sal["location"]["latitude"], 51.5);
    EXPECT_EQ(sal["location"]["addresses"][0]["address_1"], "1 High Street");
  }
  for (const json& p : svc["phones"]) {
    if (p["id"] == kPhone) {
      EXPECT_EQ(p["languages"].size(), 2u) << p.dump();
    }
  }
  // The older envelope is still there for whoever reads it.
  Reply env = agent_->Get("/v1/export?format=envelope");
  ASSERT_EQ(env.status, 200);
  EXPECT_EQ(env.body["hsds_version"], "3.0");
  EXPECT_EQ(agent_->Get("/v1/export?view=program").status, 400);
}

TEST_F(HsdsApiTest, TheValidatorCatchesALatitudeThatIsAString) {
  Reply r = agent_->Get("/v1/export");
  ASSERT_EQ(r.status, 200);
  json orgs = r.body;
  bool changed = false;
  for (json& o : orgs) {
    if (o.contains("locations")) {
      o["locations"][0]["latitude"] = "51.5";
      changed = true;
    }
  }
  ASSERT_TRUE(changed) << r.raw.substr(0, 1000);
  Validation v = Validate("compiled", "organization", orgs.dump());
  EXPECT_EQ(v.rc, 1) << v.output;
  EXPECT_NE(v.output.find("latitude: '51.5' is not of type 'number'"), std::string::npos)
      << v.output;
}

TEST_F(HsdsApiTest, EveryEndpointAnswersWithASchemaValidBody) {
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"/", "/"},
      {"/services", "/services"},
      {"/services?full=true&per_page=1&page=2", "/services"},
      {"/services/" + kService, "/services/{id}"},
      {"/organizations", "/organizations"},
      {"/organizations?full=true", "/organizations"},
      {"/organizations/" + kOrg, "/organizations/{id}"},
      {"/service_at_locations", "/service_at_locations"},
      {"/service_at_locations/" + kSal, "/service_at_locations/{id}"},
      {"/taxonomies", "/taxonomies"},
      {"/taxonomies/5b0a7c1e-6f2d-8c8b-9a3e-53574954434a", "/taxonomies/{id}"},
      {"/taxonomy_terms", "/taxonomy_terms"},
      {"/taxonomy_terms?taxonomy_id=5b0a7c1e-6f2d-8c8b-9a3e-53574954434a&top_only=true",
       "/taxonomy_terms"},
  };
  for (const auto& [path, op] : calls) {
    Reply r = agent_->Get("/hsds" + path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.Describe();
    ExpectValid("api", op, r.raw);
    EXPECT_EQ(agent_->Send("GET", "/hsds" + path, "", "").status, 401) << "token required";
    auto pub = PublicGet(path);
    ASSERT_TRUE(pub) << path;
    EXPECT_EQ(pub->status, 200) << path << ": " << pub->body.substr(0, 500);
    ExpectValid("api", op, pub->body);
  }
  // A page: 2 services, one per page, the second.
  Reply page = agent_->Get("/hsds/services?per_page=1&page=2");
  EXPECT_EQ(page.body["total_items"], 2);
  EXPECT_EQ(page.body["total_pages"], 2);
  EXPECT_EQ(page.body["size"], 1);
  EXPECT_EQ(page.body["last_page"], true);
  EXPECT_EQ(page.body["first_page"], false);
  // A term of the Switchboard taxonomy finds the service; 404 for ids that are not there.
  Reply terms = agent_->Get("/hsds/taxonomy_terms?search=emergency");
  ASSERT_EQ(terms.body["total_items"], 1) << terms.raw;
  std::string term = terms.body["contents"][0]["id"];
  EXPECT_EQ(agent_->Get("/hsds/services?taxonomy_term_id=" + term).body["total_items"], 1);
  EXPECT_EQ(agent_->Get("/hsds/services?organization_id=" + kUnvetted).body["total_items"], 1);
  EXPECT_EQ(agent_->Get("/hsds/services?modified_after=2999-01-01").body["total_items"], 0);
  EXPECT_EQ(agent_->Get("/hsds/services?modified_after=2000-01-01T00:00:00Z").body["total_items"],
            2);
  EXPECT_EQ(agent_->Get("/hsds/service_at_locations?postcode=sw1a1aa").body["total_items"], 1);
  for (const char* missing :
       {"/hsds/services/", "/hsds/organizations/", "/hsds/service_at_locations/",
        "/hsds/taxonomies/", "/hsds/taxonomy_terms/"}) {
    Reply r = agent_->Get(missing + Uuid(999));
    EXPECT_EQ(r.status, 404) << missing << ": " << r.Describe();
  }
  // Bad parameters: 400 naming the parameter.
  for (const auto& [query, name] : std::vector<std::pair<std::string, std::string>>{
           {"per_page=0", "per_page"},
           {"per_page=100000", "per_page"},
           {"page=-1", "page"},
           {"proximity=51.5,abc,10", "proximity"},
           {"proximity=51.5", "proximity"},
           {"modified_after=yesterday", "modified_after"},
           {"full=maybe", "full"},
           {"colour=red", "colour"}}) {
    Reply r = agent_->Get("/hsds/services?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.Describe();
    EXPECT_NE(r.raw.find("parameter " + name), std::string::npos) << r.raw;
  }
}

TEST_F(HsdsApiTest, ThePublicListenerServesPublishedDataOnlyAndNoWrites) {
  std::string everything;
  for (const char* path :
       {"/services?full=true", "/organizations?full=true", "/service_at_locations?full=true",
        "/service_at_locations", "/services", "/taxonomy_terms", "/services?format=ndjson"}) {
    auto r = PublicGet(path);
    ASSERT_TRUE(r) << path;
    ASSERT_EQ(r->status, 200) << path << ": " << r->body;
    everything += r->body;
  }
  for (const std::string& id : {kOrg, kService, kSal, kShelterSal}) {
    auto r = PublicGet((id == kOrg       ? "/organizations/"
                        : id == kService ? "/services/"
                                         : "/service_at_locations/") +
                       id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << id;
    everything += r->body;
  }
  for (const char* secret : kSecrets) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << "the public saw " << secret;
  }
  EXPECT_NE(everything.find("Safe House"), std::string::npos);
  EXPECT_NE(everything.find("+44 20 7946 0000"), std::string::npos);
  EXPECT_NE(everything.find("1 High Street"), std::string::npos);
  // The confidential location's service is listed, without an address or coordinates.
  auto shelter = PublicGet("/service_at_locations/" + kShelterSal);
  json s = json::parse(shelter->body);
  EXPECT_EQ(s["location"]["name"], "Shelter");
  EXPECT_FALSE(s["location"].contains("addresses")) << s.dump();
  EXPECT_FALSE(s["location"].contains("latitude")) << s.dump();
  EXPECT_EQ(PublicGet("/organizations/" + kUnvetted)->status, 404);
  EXPECT_EQ(PublicGet("/services/" + kHidden)->status, 404);
  // By distance: the public finds the office near London, never the confidential shelter
  // (whose coordinates it may not see); the token holder (this stand-alone agent) finds both
  // within 500 km.
  json near = json::parse(PublicGet("/service_at_locations?proximity=51.5,-0.12,500")->body);
  ASSERT_EQ(near["total_items"], 1) << near.dump();
  EXPECT_EQ(near["contents"][0]["id"], kSal);
  EXPECT_EQ(agent_->Get("/hsds/service_at_locations?proximity=51.5,-0.12,500").body["total_items"],
            2);
  // Read-only, and not the local API.
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto w = PublicGet("/v1/records/" + kOrg, method);
    ASSERT_TRUE(w) << method;
    EXPECT_EQ(w->status, 405) << method;
  }
  EXPECT_EQ(PublicGet("/v1/records/" + kOrg)->status, 404);
  EXPECT_EQ(PublicGet("/v1/export")->status, 404);
  Reply still = agent_->Get("/v1/records/" + kOrg);
  EXPECT_EQ(still.body["fields"]["name"]["value"], "Casa Segura");
  // Once the number is published the public sees it at once (answers are cached per change
  // of the directory, not longer).
  Put(kPendingPhone, "phone", {{"number@published", "+44 20 7946 0999"}});
  auto after = PublicGet("/services/" + kService);
  ASSERT_TRUE(after);
  EXPECT_NE(after->body.find("+44 20 7946 0999"), std::string::npos) << after->body;
}

TEST_F(HsdsApiTest, ThePublicListenerLimitsEachClientsRate) {
  // A second agent whose public listener allows 3 requests at once, then one per 100 s.
  auto b = AgentProcess::Start(tmp_ / "b", {"--public-api", "127.0.0.1:0", "--public-api-burst",
                                            "3", "--public-api-rate", "0.01"});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json runtime = json::parse(Slurp((*b)->data_dir() + "/agent.json"));
  std::string addr = runtime["public_api"];
  size_t colon = addr.rfind(':');
  httplib::Client c(addr.substr(0, colon), std::stoi(addr.substr(colon + 1)));
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("/services");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i;
  }
  auto limited = c.Get("/services");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  int retry = std::atoi(limited->get_header_value("Retry-After").c_str());
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 100);
  // The token-holding local API is not limited by it.
  EXPECT_EQ((*b)->Get("/hsds/services").status, 200);
}

}  // namespace
}  // namespace sb

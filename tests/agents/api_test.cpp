// The agent's local HTTP API, against a real `switchboard agent` process on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/integration/hsds_compare.h"

namespace sb::testing {
namespace {

using nlohmann::json;

constexpr char kOrg[] = "0a000000-0000-4000-8000-000000000001";
constexpr char kService[] = "0b000000-0000-4000-8000-000000000001";
constexpr char kPhone[] = "0c000000-0000-4000-8000-000000000001";

std::string Rec(const std::string& id) {
  return "/v1/records/" + id;
}

std::string Uuid(char prefix, int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%c%07x-0000-4000-8000-000000000000", prefix,
                static_cast<unsigned>(n));
  return buf;
}

// A small valid HSDS document: one organization with a service (with a phone and hours), a
// location and a phone of its own.
json SmallDocument() {
  return json::parse(R"({
    "hsds_version": "3.0",
    "organizations": [{
      "id": "1a000000-0000-4000-8000-000000000001",
      "name": "Refugio Esperanza",
      "description": "Shelter and legal help for survivors",
      "email": "info@refugio.example.org",
      "website": "https://refugio.example.org",
      "year_incorporated": 2004,
      "countries_served": ["MX", "GT"],
      "populations_served": ["women", "minors"],
      "services": [{
        "id": "1b000000-0000-4000-8000-000000000001",
        "name": "Emergency shelter",
        "status": "active",
        "categories": ["emergency_shelter", "legal"],
        "capacity_beds_available": 4,
        "capacity_beds_total": 12,
        "available_24_7": true,
        "phones": [{"id": "1c000000-0000-4000-8000-000000000001", "number": "+525512345678",
                    "type": "voice", "languages": ["es", "en"]}],
        "schedules": [{"id": "1d000000-0000-4000-8000-000000000001", "freq": "WEEKLY",
                       "byday": ["MO", "TU", "WE"], "opens_at": "09:00", "closes_at": "17:30"}]
      }],
      "locations": [{
        "id": "1e000000-0000-4000-8000-000000000001",
        "name": "Main office", "location_type": "physical", "city": "Ciudad de México",
        "country": "MX", "latitude": "19.4326", "longitude": "-99.1332",
        "address_confidential": true
      }],
      "phones": [{"id": "1c000000-0000-4000-8000-000000000002", "number": "+525598765432",
                  "type": "voice"}]
    }, {
      "id": "1a000000-0000-4000-8000-000000000002",
      "name": "Hope Line",
      "services": [{"id": "1b000000-0000-4000-8000-000000000002", "name": "Hotline",
                    "categories": ["hotline"]}]
    }]
  })");
}

class AgentApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }
  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "agent log:\n" << Tail(agent_->LogPath()) << "\n";
  }

  void Restart() {
    auto stopped = agent_->Stop();
    ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
    EXPECT_EQ(*stopped, 0);
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }

  // Every record id the list endpoint shows (deleted ones too), following cursors.
  std::vector<std::string> ListAll(const std::string& query = "", int limit = 7) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int page = 0; page < 10'000; ++page) {
      std::string path = "/v1/records?deleted=true&limit=" + std::to_string(limit) + query;
      if (!cursor.empty()) path += "&cursor=" + cursor;
      Reply r = agent_->Get(path);
      EXPECT_EQ(r.status, 200) << r.Describe();
      if (r.status != 200) break;
      for (const auto& rec : r.body["records"]) ids.push_back(rec["id"]);
      EXPECT_LE(r.body["records"].size(), size_t(limit));
      if (r.body["next_cursor"].is_null()) break;
      cursor = r.body["next_cursor"];
    }
    return ids;
  }

  json Export() {
    Reply r = agent_->Get("/v1/export?format=envelope");
    EXPECT_EQ(r.status, 200) << r.Describe();
    return r.body;
  }

  void CreateOrgServicePhone() {
    Reply org = agent_->Put(
        Rec(kOrg),
        {{"kind", "organization"},
         {"fields", {{"name", "Casa Segura"}, {"website", "https://casa.example.org"}}}});
    ASSERT_EQ(org.status, 200) << org.Describe();
    Reply svc = agent_->Put(
        Rec(kService),
        {{"kind", "service"},
         {"fields",
          {{"organization_id", kOrg}, {"name", "Shelter"}, {"capacity_beds_available", 3}}}});
    ASSERT_EQ(svc.status, 200) << svc.Describe();
    Reply ph = agent_->Put(
        Rec(kPhone),
        {{"kind", "phone"}, {"fields", {{"organization_id", kOrg}, {"number", "+14155550123"}}}});
    ASSERT_EQ(ph.status, 200) << ph.Describe();
  }

  // PUTs `body` to `id`, expects 400 naming each of `needles`, and the record unchanged.
  void ExpectRefused(const std::string& id, const std::string& body,
                     const std::vector<std::string>& needles, int status = 400) {
    Reply before = agent_->Get(Rec(id));
    Reply r = agent_->PutRaw(Rec(id), body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.Describe();
    std::string message =
        r.body.is_object() && r.body.contains("error") ? r.body["error"].value("message", "") : "";
    for (const auto& n : needles) {
      EXPECT_NE(message.find(n), std::string::npos) << "'" << n << "' not in: " << message;
    }
    Reply after = agent_->Get(Rec(id));
    EXPECT_EQ(before.status, after.status);
    EXPECT_EQ(before.body, after.body) << "record " << id << " changed by a refused PUT " << body;
  }

  TempDir tmp_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentApi, HealthzAnswersWithoutAToken) {
  Reply r = agent_->Send("GET", "/healthz", "", "");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body["status"], "ok");
  EXPECT_EQ(r.body["replica"].get<std::string>().size(), 16u);
}

TEST_F(AgentApi, EveryOtherRouteNeedsTheRightTokenAndWritesNothingWithout) {
  CreateOrgServicePhone();
  json before = Export();
  std::string wrong = "Bearer " + std::string(agent_->token().size(), 'f');
  std::string put = json{{"kind", "organization"}, {"fields", {{"name", "Intruder"}}}}.dump();
  std::string intruder = Uuid('9', 1);
  struct Call {
    std::string method, path, body;
  };
  std::vector<Call> calls = {
      {"GET", "/metrics", ""},
      {"GET", "/v1/records", ""},
      {"GET", Rec(kOrg), ""},
      {"GET", Rec(kOrg) + "/history", ""},
      {"GET", "/v1/export", ""},
      {"PUT", Rec(intruder), put},
      {"PUT", Rec(kOrg), put},
      {"DELETE", Rec(kOrg), ""},
      {"POST", Rec(kOrg) + "/restore", ""},
      {"POST", "/v1/import", SmallDocument().dump()},
      {"GET", "/no/such/route", ""},
  };
  for (const auto& auth :
       {std::string(), wrong, std::string("Bearer"), "Bearer " + agent_->token() + "x",
        "Basic " + agent_->token(), agent_->token()}) {
    for (const auto& c : calls) {
      Reply r = agent_->Send(c.method, c.path, c.body, auth);
      EXPECT_EQ(r.status, 401) << c.method << " " << c.path << " with '" << auth
                               << "': " << r.Describe();
      EXPECT_EQ(r.body["error"]["code"], "Unauthenticated") << r.Describe();
    }
  }
  EXPECT_EQ(Export(), before);
  EXPECT_EQ(agent_->Get(Rec(intruder)).status, 404);
  Reply metrics = agent_->Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.raw.find("switchboard_api_unauthorized_total 66"), std::string::npos)
      << metrics.raw;
}

TEST_F(AgentApi, CreatedRecordShowsItsFieldsOwnerAndLastChange) {
  std::string replica = agent_->Send("GET", "/healthz", "", "").body["replica"];
  Reply put = agent_->Put(Rec(kOrg), {{"kind", "organization"},
                                      {"fields",
                                       {{"name", "Casa Segura"},
                                        {"year_incorporated", 1999},
                                        {"countries_served", {"NG", "IT"}}}}});
  ASSERT_EQ(put.status, 200) << put.Describe();
  EXPECT_EQ(put.body["op"], "create");
  EXPECT_EQ(put.body["changed"], json({"countries_served", "name", "owner", "year_incorporated"}));

  Reply get = agent_->Get(Rec(kOrg));
  ASSERT_EQ(get.status, 200) << get.Describe();
  const json& r = get.body;
  EXPECT_EQ(r["id"], kOrg);
  EXPECT_EQ(r["kind"], "organization");
  EXPECT_EQ(r["owner"], kOrg);
  EXPECT_EQ(r["deleted"], false);
  EXPECT_EQ(r["fields"]["name"]["value"], "Casa Segura");
  EXPECT_EQ(r["fields"]["year_incorporated"]["value"], 1999);
  EXPECT_EQ(r["fields"]["countries_served"]["value"], json({"IT", "NG"}));
  EXPECT_EQ(r["fields"]["name"]["changed_by"], replica);
  EXPECT_EQ(r["last_change"]["by"], replica);
  EXPECT_TRUE(r["last_change"]["at"].is_string());
  EXPECT_EQ(r["conflicts"], json::array());
  EXPECT_EQ(put.body["record"], r);

  Reply child = agent_->Put(
      Rec(kService),
      {{"kind", "service"}, {"fields", {{"organization_id", kOrg}, {"name", "Shelter"}}}});
  ASSERT_EQ(child.status, 200) << child.Describe();
  EXPECT_EQ(agent_->Get(Rec(kService)).body["owner"], kOrg);
}

TEST_F(AgentApi, UpdateReportsOnlyChangedFieldsAndRepeatIsUnchanged) {
  CreateOrgServicePhone();
  json body = {{"fields", {{"capacity_beds_available", 5}, {"name", "Shelter"}}}};
  Reply r = agent_->Put(Rec(kService), body);
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body["op"], "update");
  EXPECT_EQ(r.body["changed"], json({"capacity_beds_available"}));
  Reply again = agent_->Put(Rec(kService), body);
  EXPECT_EQ(again.body["op"], "unchanged");
  EXPECT_EQ(agent_->Get(Rec(kService)).body["fields"]["capacity_beds_available"]["value"], 5);
}

TEST_F(AgentApi, InvalidWritesAreRefusedNamingFieldAndRuleAndChangeNothing) {
  CreateOrgServicePhone();
  auto put = [](json fields, std::string kind = "") {
    json b = {{"fields", std::move(fields)}};
    if (!kind.empty()) b["kind"] = kind;
    return b.dump();
  };
  ExpectRefused(kOrg, R"({"kind": "organization", "fields": {"name": "x",)", {"not valid JSON"});
  ExpectRefused(kOrg, "[1, 2]", {"body must be"});
  ExpectRefused(kOrg, R"({"kind": "organization", "fields": {}, "extra": 1})", {"extra"});
  ExpectRefused(Uuid('8', 1), put({{"name", "x"}}, "shelter"), {"unknown kind 'shelter'"});
  ExpectRefused(Uuid('8', 2), put({{"name", "x"}}), {"kind", "required"});
  ExpectRefused(kOrg, put({{"name", "x"}}, "service"), {"is a organization, not a service"});
  ExpectRefused(kOrg, put({{"colour", "red"}}), {"organization.colour", "unknown field"});
  ExpectRefused(kService, put({{"capacity_beds_available", "four"}}),
                {"service.capacity_beds_available", "must be integer", "got text"});
  ExpectRefused(kService, put({{"capacity_beds_available", -1}}),
                {"service.capacity_beds_available"});
  ExpectRefused(kService, put({{"available_24_7", "yes"}}),
                {"service.available_24_7", "must be boolean"});
  ExpectRefused(kService, put({{"categories", "legal"}}),
                {"service.categories", "must be a list of text"});
  ExpectRefused(kService, put({{"categories", {"legal", "astrology"}}}),
                {"service.categories", "must be one of"});
  ExpectRefused(kService, put({{"status", "open"}}), {"service.status", "must be one of"});
  ExpectRefused(kService, put({{"description", std::string(5000, 'd')}}),
                {"service.description", "longer than 4000"});
  ExpectRefused(kOrg, put({{"name", ""}}), {"organization.name", "at least 1"});
  ExpectRefused(kOrg, put({{"name", "bell\x07"}}), {"organization.name", "control character"});
  ExpectRefused(kPhone, put({{"number", "call me"}}), {"phone.number", "must be a phone number"});
  ExpectRefused(kService, put({{"url", "ftp://files.example.org"}}), {"service.url", "http"});
  ExpectRefused(kOrg, put({{"website", "not a url"}}), {"organization.website", "URL"});
  ExpectRefused(kOrg, put({{"email", "someone@"}}), {"organization.email", "email address"});
  ExpectRefused(kOrg, put({{"countries_served", {"NG", "Nigeria"}}}),
                {"organization.countries_served", "ISO 3166-1"});
  ExpectRefused(kOrg, put({{"countries_served", {"ng"}}}), {"organization.countries_served"});
  ExpectRefused(kOrg, put({{"year_incorporated", 1.5}}),
                {"organization.year_incorporated", "must be integer"});
  ExpectRefused(kOrg, put({{"deleted", true}}), {"organization.deleted"});
  ExpectRefused("NOT-A-UUID", put({{"name", "x"}}, "organization"), {"id", "UUID"});
  Reply metrics = agent_->Get("/metrics");
  EXPECT_NE(metrics.raw.find("switchboard_api_writes_total 3\n"), std::string::npos) << metrics.raw;
}

TEST_F(AgentApi, OversizeRecordBodyIsRefusedAs413) {
  CreateOrgServicePhone();
  std::string huge = json{{"fields", {{"description", std::string(2 << 20, 'x')}}}}.dump();
  ExpectRefused(kOrg, huge, {"at most"}, 413);
}

// Regression: a deeply nested JSON value (100,000 brackets: 200 KB, well under the size
// limits) overflowed the stack of the HTTP thread while the handler copied the body, and the
// agent died with SIGSEGV. Hostile input must get a 400, not take the agent down.
std::string DeeplyNested() {
  return std::string(100'000, '[') + std::string(100'000, ']');
}

TEST_F(AgentApi, DeeplyNestedPutBodyIsRefusedAndTheAgentKeepsRunning) {
  Reply r = agent_->PutRaw(
      Rec(kOrg), R"({"kind": "organization", "fields": {"name": )" + DeeplyNested() + "}}");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_EQ(agent_->Send("GET", "/healthz", "", "").status, 200) << "the agent died";
}

TEST_F(AgentApi, DeeplyNestedImportIsRefusedAndTheAgentKeepsRunning) {
  std::string doc =
      R"({"organizations": [{"id": "1a000000-0000-4000-8000-000000000001", "name": )" +
      DeeplyNested() + "}]}";
  Reply r = agent_->Send("POST", "/v1/import", doc, "Bearer " + agent_->token());
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_EQ(agent_->Send("GET", "/healthz", "", "").status, 200) << "the agent died";
}

TEST_F(AgentApi, ConcurrentWritersAreAllAcknowledgedAndVisible) {
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<int>> statuses(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = Uuid(static_cast<char>('1' + t), i);
        statuses[t].push_back(
            agent_->Put(Rec(id), {{"kind", "organization"}, {"fields", {{"name", id}}}}).status);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(statuses[t], std::vector<int>(kEach, 200)) << "thread " << t;
  }
  EXPECT_EQ(ListAll("", 1000).size(), size_t{kThreads * kEach});
  Restart();
  EXPECT_EQ(ListAll("", 1000).size(), size_t{kThreads * kEach});
  EXPECT_EQ(agent_->Get(Rec(Uuid('3', 7))).body["fields"]["name"]["value"], Uuid('3', 7));
}

TEST_F(AgentApi, UnknownRecordIs404) {
  EXPECT_EQ(agent_->Get(Rec(kOrg)).status, 404);
  EXPECT_EQ(agent_->Get(Rec(kOrg) + "/history").status, 404);
  EXPECT_EQ(agent_->Delete(Rec(kOrg)).status, 404);
  EXPECT_EQ(agent_->Post(Rec(kOrg) + "/restore").status, 404);
  EXPECT_EQ(agent_->Get("/v1/nothing").status, 404);
}

TEST_F(AgentApi, DeletedRecordRefusesEditsUntilRestored) {
  CreateOrgServicePhone();
  Reply del = agent_->Delete(Rec(kService));
  ASSERT_EQ(del.status, 200) << del.Describe();
  EXPECT_EQ(del.body["op"], "delete");
  Reply get = agent_->Get(Rec(kService));
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.body["deleted"], true);
  EXPECT_EQ(get.body["owner"], kOrg);

  Reply edit = agent_->Put(Rec(kService), {{"fields", {{"name", "Back"}}}});
  EXPECT_EQ(edit.status, 409) << edit.Describe();
  EXPECT_EQ(agent_->Delete(Rec(kService)).status, 409);
  EXPECT_EQ(agent_->Get(Rec(kService)).body, get.body);

  Reply listed = agent_->Get("/v1/records?kind=service");
  EXPECT_TRUE(listed.body["records"].empty()) << listed.raw;
  EXPECT_FALSE(Export().dump().find(kService) != std::string::npos);

  Reply restore = agent_->Post(Rec(kService) + "/restore");
  ASSERT_EQ(restore.status, 200) << restore.Describe();
  EXPECT_EQ(restore.body["op"], "restore");
  EXPECT_EQ(agent_->Get(Rec(kService)).body["deleted"], false);
  EXPECT_EQ(agent_->Post(Rec(kService) + "/restore").status, 409);
  Reply again = agent_->Put(Rec(kService), {{"fields", {{"name", "Back"}}}});
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(agent_->Get(Rec(kService)).body["fields"]["name"]["value"], "Back");
}

TEST_F(AgentApi, ListingPagesVisitEveryRecordExactlyOnce) {
  std::set<std::string> orgs, services;
  for (int i = 0; i < 23; ++i) {
    std::string id = Uuid('a', i);
    ASSERT_EQ(agent_
                  ->Put(Rec(id),
                        {{"kind", "organization"},
                         {"fields",
                          {{"name", "Org " + std::to_string(i) + (i % 5 == 0 ? " Zebra" : "")}}}})
                  .status,
              200);
    orgs.insert(id);
  }
  for (int i = 0; i < 11; ++i) {
    std::string id = Uuid('b', i);
    ASSERT_EQ(
        agent_
            ->Put(Rec(id),
                  {{"kind", "service"},
                   {"fields",
                    {{"organization_id", Uuid('a', i)}, {"name", "Service " + std::to_string(i)}}}})
            .status,
        200);
    services.insert(id);
  }
  for (int limit : {1, 5, 7, 34, 1000}) {
    std::vector<std::string> all = ListAll("", limit);
    EXPECT_EQ(all.size(), 34u) << "limit " << limit;
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size()) << "duplicates";
  }
  std::vector<std::string> only_services = ListAll("&kind=service", 4);
  EXPECT_EQ(std::set<std::string>(only_services.begin(), only_services.end()), services);
  std::vector<std::string> zebras = ListAll("&q=zEBRA", 2);
  EXPECT_EQ(zebras.size(), 5u);
  EXPECT_EQ(agent_->Get("/v1/records?limit=0").status, 400);
  EXPECT_EQ(agent_->Get("/v1/records?limit=1001").status, 400);
  EXPECT_EQ(agent_->Get("/v1/records?limit=ten").status, 400);
  Reply bad_kind = agent_->Get("/v1/records?kind=shelter");
  EXPECT_EQ(bad_kind.status, 400);
  EXPECT_NE(bad_kind.raw.find("unknown kind"), std::string::npos);
}

TEST_F(AgentApi, HistoryListsWhoWhenAndWhichFields) {
  std::string replica = agent_->Send("GET", "/healthz", "", "").body["replica"];
  CreateOrgServicePhone();
  ASSERT_EQ(agent_->Put(Rec(kService), {{"fields", {{"capacity_beds_available", 0}}}}).status, 200);
  ASSERT_EQ(agent_->Delete(Rec(kService)).status, 200);
  Reply h = agent_->Get(Rec(kService) + "/history");
  ASSERT_EQ(h.status, 200) << h.Describe();
  const json& entries = h.body["history"];
  ASSERT_EQ(entries.size(), 3u) << h.raw;
  EXPECT_EQ(entries[0]["op"], "create");
  EXPECT_EQ(entries[0]["fields"],
            json({"capacity_beds_available", "name", "organization_id", "owner"}));
  EXPECT_EQ(entries[1]["op"], "update");
  EXPECT_EQ(entries[1]["fields"], json({"capacity_beds_available"}));
  EXPECT_EQ(entries[2]["op"], "delete");
  for (const auto& e : entries) {
    EXPECT_EQ(e["by"], replica);
    EXPECT_EQ(e["actor"], "api");
    EXPECT_TRUE(e["at"].is_string() && e["at"].get<std::string>().ends_with("Z")) << e;
  }
  EXPECT_LT(entries[0]["seq"].get<uint64_t>(), entries[2]["seq"].get<uint64_t>());
}

TEST_F(AgentApi, ImportOfAValidDocumentCountsItsRecords) {
  Reply r = agent_->Post("/v1/import", SmallDocument());
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body["records"], 8);
  EXPECT_EQ(r.body["created"], 8);
  EXPECT_EQ(r.body["updated"], 0);
  EXPECT_EQ(ListAll().size(), 8u);
  Reply svc = agent_->Get(Rec("1b000000-0000-4000-8000-000000000001"));
  EXPECT_EQ(svc.body["owner"], "1a000000-0000-4000-8000-000000000001");
  EXPECT_EQ(svc.body["fields"]["organization_id"]["value"], "1a000000-0000-4000-8000-000000000001");
  EXPECT_EQ(agent_->Get(Rec("1c000000-0000-4000-8000-000000000001"))
                .body["fields"]["service_id"]["value"],
            "1b000000-0000-4000-8000-000000000001");
  Reply hist = agent_->Get(Rec("1a000000-0000-4000-8000-000000000001") + "/history");
  EXPECT_EQ(hist.body["history"][0]["actor"], "import");

  Reply again = agent_->Post("/v1/import", SmallDocument());
  ASSERT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.body["unchanged"], 8);
}

TEST_F(AgentApi, ImportWithTwoBadRecordsListsBothAndWritesNothing) {
  CreateOrgServicePhone();
  std::vector<std::string> before = ListAll();
  json before_export = Export();
  json doc = SmallDocument();
  doc["organizations"][0]["services"][0]["phones"][0]["number"] = "call us";
  doc["organizations"][1]["services"][0]["capacity_beds_available"] = "many";
  Reply r = agent_->Post("/v1/import", doc);
  ASSERT_EQ(r.status, 400) << r.Describe();
  const json& problems = r.body["error"]["problems"];
  ASSERT_EQ(problems.size(), 2u) << r.raw;
  EXPECT_EQ(problems[0]["record"], "1c000000-0000-4000-8000-000000000001");
  EXPECT_NE(problems[0]["error"].get<std::string>().find("phone.number"), std::string::npos);
  EXPECT_EQ(problems[0]["where"], "organizations[0].services[0].phones[0].number");
  EXPECT_EQ(problems[1]["record"], "1b000000-0000-4000-8000-000000000002");
  EXPECT_NE(problems[1]["error"].get<std::string>().find("service.capacity_beds_available"),
            std::string::npos);
  EXPECT_EQ(ListAll(), before);
  EXPECT_EQ(Export(), before_export);
}

TEST_F(AgentApi, ImportThatConflictsWithStoredStateWritesNothing) {
  // Valid on its own, but one record would change the kind of a stored record.
  CreateOrgServicePhone();
  json before = Export();
  json doc = SmallDocument();
  doc["organizations"][1]["services"][0]["id"] = kPhone;
  Reply r = agent_->Post("/v1/import", doc);
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_NE(r.raw.find("nothing was imported"), std::string::npos) << r.raw;
  EXPECT_EQ(Export(), before);
}

TEST_F(AgentApi, ImportOfNonDocumentsIsRefused) {
  EXPECT_EQ(agent_->Send("POST", "/v1/import", "{", "Bearer " + agent_->token()).status, 400);
  EXPECT_EQ(agent_->Post("/v1/import", json::array()).status, 400);
  EXPECT_EQ(agent_->Post("/v1/import", json::object()).status, 400);
  Reply r = agent_->Post("/v1/import", {{"organisations", json::array()}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ListAll().size(), 0u);
}

TEST_F(AgentApi, ExportAfterImportRoundTripsEveryRecordAndValue) {
  json doc = SmallDocument();
  ASSERT_EQ(agent_->Post("/v1/import", doc).status, 200);
  auto in = Flatten(doc);
  auto out = Flatten(Export());
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Difference(*in, *out), "");
}

TEST_F(AgentApi, RestartKeepsEveryRecordHistoryAndToken) {
  ASSERT_EQ(agent_->Post("/v1/import", SmallDocument()).status, 200);
  CreateOrgServicePhone();
  ASSERT_EQ(agent_->Delete(Rec(kPhone)).status, 200);
  json export_before = Export();
  Reply org_before = agent_->Get(Rec(kOrg));
  Reply phone_before = agent_->Get(Rec(kPhone));
  Reply history_before = agent_->Get(Rec(kService) + "/history");
  std::string token = agent_->token();
  std::string replica = agent_->Send("GET", "/healthz", "", "").body["replica"];
  std::vector<std::string> ids = ListAll();

  Restart();
  EXPECT_EQ(agent_->token(), token);
  EXPECT_EQ(agent_->Send("GET", "/healthz", "", "").body["replica"], replica);
  EXPECT_EQ(Export(), export_before);
  EXPECT_EQ(ListAll(), ids);
  EXPECT_EQ(agent_->Get(Rec(kOrg)).body, org_before.body);
  EXPECT_EQ(agent_->Get(Rec(kPhone)).body, phone_before.body);
  EXPECT_EQ(agent_->Get(Rec(kService) + "/history").body, history_before.body);
  // And it keeps working: the next write lands after the restored history.
  ASSERT_EQ(agent_->Put(Rec(kService), {{"fields", {{"name", "After restart"}}}}).status, 200);
  EXPECT_EQ(agent_->Get(Rec(kService) + "/history").body["history"].size(),
            history_before.body["history"].size() + 1);
}

TEST_F(AgentApi, StoppedAgentRemovesItsRuntimeFile) {
  std::string runtime = agent_->data_dir() + "/agent.json";
  auto stopped = agent_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(*stopped, 0);
  EXPECT_FALSE(std::filesystem::exists(runtime));
}

TEST_F(AgentApi, SecondAgentOnTheSameDirectoryIsRefused) {
  auto second = AgentProcess::Start(tmp_ / "agent");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another switchboard process"), std::string::npos)
      << second.status().message();
  EXPECT_EQ(agent_->Get("/v1/records").status, 200);
}

}  // namespace
}  // namespace sb::testing

// The HSDS view a reader gets (agents/hsds_export.h): which records and values each kind of
// reader sees, what is left out as invalid, the mapping's derived objects, the compiled
// nesting; and the public API's rate limiter. In process, on a Directory built with PlanEdit.
#include "agents/hsds_export.h"

#include <gtest/gtest.h>

#include "agents/hsds_api.h"
#include "conflict/edit.h"
#include "testing/edits.h"

namespace sb {
namespace {

using nlohmann::json;
using testing::Uuid;

constexpr uint64_t kStart = 1'790'000'000'000;  // 2026-09-21
const std::string kOrgA = Uuid(1), kOrgB = Uuid(2), kService = Uuid(3), kPhone = Uuid(4),
                  kPending = Uuid(5), kShelter = Uuid(6), kLanguage = Uuid(7), kBroken = Uuid(8),
                  kBrokenPhone = Uuid(9), kProgram = Uuid(10), kOrgBService = Uuid(11);

class HsdsExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A: vetted, a service with a program, a published phone with languages en (also a
    // language record) and fr, a phone whose number awaits review, a confidential location,
    // bed capacity; a service without a status (invalid) with a phone. B: not vetted.
    Edit(kOrgA, "organization", kOrgA,
         {{"name", "A"}, {"description", "org A"}, {"approved", true}});
    Edit(kOrgB, "organization", kOrgB, {{"name", "B"}, {"description", "org B"}});
    Edit(kProgram, "program", kOrgA,
         {{"organization_id", kOrgA}, {"name", "P"}, {"description", "a program"}});
    Edit(kService, "service", kOrgA,
         {{"organization_id", kOrgA},
          {"program_id", kProgram},
          {"name", "Shelter service"},
          {"status", "active"},
          {"capacity_beds_available", int64_t{2}}},
         {{"countries_served", {"GB"}}, {"categories", {"legal"}}});
    Edit(kPhone, "phone", kOrgA,
         {{"service_id", kService}, {"number", "+44 1"}, {"number@published", "+44 1"}},
         {{"languages", {"en", "fr"}}});
    Edit(kLanguage, "language", kOrgA, {{"phone_id", kPhone}, {"code", "en"}, {"name", "English"}});
    Edit(kPending, "phone", kOrgA, {{"service_id", kService}, {"number", "+44 2"}});
    Edit(kShelter, "location", kOrgA,
         {{"organization_id", kOrgA},
          {"location_type", "physical"},
          {"address_confidential", true},
          {"address_1", "7 Hidden Lane"},
          {"address_1@published", "7 Hidden Lane"},
          {"city", "Leeds"},
          {"state_province", "Yorkshire"},
          {"postal_code", "LS1"},
          {"country", "GB"},
          {"address_type", "physical"},
          {"latitude", "53.8"},
          {"longitude", "-1.5"}});
    Edit(kBroken, "service", kOrgA, {{"organization_id", kOrgA}, {"name", "No status"}});
    Edit(kBrokenPhone, "phone", kOrgA,
         {{"service_id", kBroken}, {"number", "+44 3"}, {"number@published", "+44 3"}});
    Edit(kOrgBService, "service", kOrgB,
         {{"organization_id", kOrgB}, {"name", "B's"}, {"status", "active"}});
  }

  void Edit(const std::string& id, const std::string& kind, const std::string& owner,
            std::map<std::string, Value> values,
            std::map<std::string, std::vector<std::string>> sets = {}) {
    RecordEdit e = testing::Edit(id, kind, std::move(values));
    e.values["owner"] = owner;
    e.sets = std::move(sets);
    auto planned = PlanEdit(FieldSchema::Hsds(), dir_.Find(id), e, 0x5b, Hlc::Make(++now_, 0));
    ASSERT_TRUE(planned.ok()) << id << ": " << planned.status().ToString();
    dir_.Join(planned->delta);
  }

  HsdsExport As(const Reader& reader) { return HsdsExportOf(dir_, FieldSchema::Hsds(), reader); }

  static const HsdsObject* Find(const HsdsExport& e, const std::string& id) {
    for (const HsdsObject& o : e.objects) {
      if (o.id == id) return &o;
    }
    return nullptr;
  }
  static size_t Count(const HsdsExport& e, const std::string& kind) {
    size_t n = 0;
    for (const HsdsObject& o : e.objects) n += o.kind == kind;
    return n;
  }

  Directory dir_;
  uint64_t now_ = kStart;
};

TEST_F(HsdsExportTest, APartnerSeesPublishedValuesOfVettedOrganizationsOnly) {
  HsdsExport e = As(Reader{Uuid(77), false});
  EXPECT_NE(Find(e, kOrgA), nullptr);
  EXPECT_EQ(Find(e, kOrgB), nullptr) << "not vetted";
  EXPECT_EQ(Find(e, kOrgBService), nullptr);
  EXPECT_EQ(Find(e, kPending), nullptr) << "its number was never approved";
  ASSERT_NE(Find(e, kPhone), nullptr);
  EXPECT_EQ(Find(e, kPhone)->fields.at("number"), "+44 1");
  const HsdsObject* shelter = Find(e, kShelter);
  ASSERT_NE(shelter, nullptr);
  EXPECT_FALSE(shelter->fields.contains("latitude")) << shelter->fields.dump();
  EXPECT_EQ(shelter->fields.at("address_confidential"), true);
  EXPECT_EQ(Count(e, "address"), 0u) << "a confidential location has no addresses[] outside";
  // Partners may read capacities.
  EXPECT_EQ(Find(e, kService)->fields.at("capacities")[0]["available"], 2);
  bool named = false;
  for (const std::string& why : e.left_out)
    named |= why == "phone " + kPending + ": no published number (HSDS requires it)";
  EXPECT_TRUE(named) << ::testing::PrintToString(e.left_out);
}

TEST_F(HsdsExportTest, ThePublicGetsNoCapacitiesAndTheOwnerItsProposals) {
  HsdsExport pub = As(Reader{});
  EXPECT_FALSE(Find(pub, kService)->fields.contains("capacities"));
  EXPECT_EQ(Find(pub, kPending), nullptr);
  HsdsExport owner = As(Reader{kOrgB, false});
  EXPECT_NE(Find(owner, kOrgB), nullptr) << "its own organization, vetted or not";
  EXPECT_NE(Find(owner, kOrgBService), nullptr);
  HsdsExport a = As(Reader{kOrgA, false});
  ASSERT_NE(Find(a, kPending), nullptr);
  EXPECT_EQ(Find(a, kPending)->fields.at("number"), "+44 2");
  ASSERT_EQ(Count(a, "address"), 1u);
  EXPECT_EQ(Find(a, kShelter)->fields.at("latitude"), 53.8);
}

TEST_F(HsdsExportTest, AnInvalidObjectIsLeftOutWithWhatBelongsToIt) {
  HsdsExport e = As(Reader{"", true});
  EXPECT_EQ(Find(e, kBroken), nullptr) << "a service needs a status";
  EXPECT_EQ(Find(e, kBrokenPhone), nullptr) << "its phone goes with it";
  EXPECT_NE(Find(e, kOrgA), nullptr);
  EXPECT_EQ(e.modified_ms.count(kBroken), 0u);
  for (const HsdsObject& m : e.metadata) EXPECT_NE(m.fields.at("resource_id"), kBroken);
}

TEST_F(HsdsExportTest, DerivedObjectsFollowTheMapping) {
  HsdsExport e = As(Reader{"", true});
  // phone.languages: fr is derived, en is the language record's.
  size_t languages = 0;
  for (const HsdsObject& o : e.objects) {
    if (o.kind == "language" && o.fields.value("phone_id", "") == kPhone) {
      ++languages;
      if (o.id != kLanguage) {
        EXPECT_EQ(o.id, DerivedId(kPhone, "language:fr"));
        EXPECT_EQ(o.fields.at("code"), "fr");
      }
    }
  }
  EXPECT_EQ(languages, 2u);
  const HsdsObject* area = Find(e, DerivedId(kService, "country:GB"));
  ASSERT_NE(area, nullptr);
  EXPECT_EQ(area->fields.at("extent_type"), "text");
  const HsdsObject* attr = Find(e, DerivedId(kService, "category:legal"));
  ASSERT_NE(attr, nullptr);
  EXPECT_EQ(attr->fields.at("taxonomy_term_id"), SwitchboardTermId("category", "legal"));
  EXPECT_NE(Find(e, SwitchboardTermId("category", "legal")), nullptr);
  EXPECT_NE(Find(e, kSwitchboardTaxonomyId), nullptr);
  EXPECT_EQ(Find(e, kShelter)->fields.count("address_1"), 0u) << "moved to the address";
  const HsdsObject* address = Find(e, DerivedId(kShelter, "address"));
  ASSERT_NE(address, nullptr);
  EXPECT_EQ(address->fields["address_1"], "7 Hidden Lane");
  // The same directory exports the same objects.
  HsdsExport again = As(Reader{"", true});
  ASSERT_EQ(again.objects.size(), e.objects.size());
  for (size_t i = 0; i < e.objects.size(); ++i) EXPECT_EQ(again.objects[i].id, e.objects[i].id);
}

TEST_F(HsdsExportTest, CompiledViewsNestWithoutRepeatingTheirOwnKind) {
  HsdsCompiler c(As(Reader{"", true}));
  json svc = c.Compile("service", kService);
  EXPECT_EQ(svc["organization"]["id"], kOrgA);
  EXPECT_FALSE(svc["organization"].contains("services")) << "no service inside its service";
  EXPECT_EQ(svc["program"]["name"], "P");
  for (const json& p : svc["phones"]) EXPECT_FALSE(p.contains("service_id")) << "implied";
  json org = c.Compile("organization", kOrgA);
  ASSERT_TRUE(org.contains("services"));
  for (const json& s : org["services"]) EXPECT_FALSE(s.contains("organization"));
  json item = c.CompileListItem("service", kService);
  EXPECT_FALSE(item.contains("phones"));
  EXPECT_EQ(item["organization"]["name"], "A");
  EXPECT_FALSE(item["organization"].contains("locations"));
  // Metadata: the newest change the reader sees.
  ASSERT_TRUE(svc.contains("metadata"));
  EXPECT_EQ(svc["metadata"][0]["last_action_date"], "2026-09-21");
  EXPECT_EQ(svc["metadata"][0]["updated_by"], "replica 000000000000005b");
  EXPECT_TRUE(c.Compile("service", Uuid(999)).is_null());
}

TEST(ClientRateLimiter, ABurstThenOneTokenPerIntervalPerClient) {
  ClientRateLimiter limiter(/*per_second=*/1, /*burst=*/2);
  int retry = 0;
  EXPECT_TRUE(limiter.Allow("a", 1000, &retry));
  EXPECT_TRUE(limiter.Allow("a", 1000, &retry));
  EXPECT_FALSE(limiter.Allow("a", 1000, &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(limiter.Allow("b", 1000, &retry)) << "another client has its own bucket";
  EXPECT_FALSE(limiter.Allow("a", 1500, &retry));
  EXPECT_TRUE(limiter.Allow("a", 2000, &retry));
  EXPECT_FALSE(limiter.Allow("a", 2000, &retry));
}

TEST(ClientRateLimiter, ForgetsFullBucketsBeyondItsLimit) {
  ClientRateLimiter limiter(1, 1, /*max_clients=*/2);
  int retry = 0;
  EXPECT_TRUE(limiter.Allow("a", 0, &retry));
  EXPECT_TRUE(limiter.Allow("b", 0, &retry));
  EXPECT_TRUE(limiter.Allow("c", 0, &retry));  // forgets the oldest
  EXPECT_FALSE(limiter.Allow("c", 0, &retry));
}

}  // namespace
}  // namespace sb

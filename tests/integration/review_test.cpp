// Maintainer review across real processes: a `switchboard broker` and agents on loopback, the
// `switchboard review` command against the broker's API. A partner's phone change reaches the
// other partners only once a maintainer approves it; a rejection reaches the owner with its
// reason; the queue survives a broker restart; bad requests change nothing.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgB = "22222222-2222-4222-8222-222222222222";
const std::string kOrgM = "44444444-4444-4444-8444-444444444444";
const std::string kPhone = "0000000a-0000-4000-8000-000000000001";

class ReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = BrokerProcess::Create(tmp_ / "broker");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    Status started = broker_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
    ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
    ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer"));
    // A lists itself and its hotline; a maintainer vets and publishes both.
    ASSERT_NO_FATAL_FAILURE(
        Put("a", kOrgA, {{"kind", "organization"}, {"fields", {{"name", "Harbor Light"}}}}));
    ASSERT_NO_FATAL_FAILURE(Put(
        "a", kPhone,
        {{"kind", "phone"},
         {"fields", {{"organization_id", kOrgA}, {"number", "+14155550123"}, {"type", "voice"}}}}));
    json items = WaitForItems(2);
    std::vector<std::string> ids;
    for (const json& it : items) ids.push_back(it["id"]);
    std::vector<std::string> args = {"review", "approve", "--data", broker_->data_dir()};
    args.insert(args.end(), ids.begin(), ids.end());
    auto out = RunSwitchboard(args);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->exit_code, 0) << out->output;
    ExpectSees("b", kPhone, "number", "+14155550123");
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (broker_) std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
    for (const auto& [name, a] : agents_) {
      std::cerr << "--- " << name << ".log ---\n" << Tail(tmp_ / (name + ".log"), 2000) << "\n";
    }
  }

  std::string Dir(const std::string& name) const { return tmp_ / name; }

  void Join(const std::string& name, const std::string& org, const std::string& role) {
    ASSERT_TRUE(InitDataDir(Dir(name), org).ok());
    Status enrolled = broker_->Enroll(Dir(name), role);
    ASSERT_TRUE(enrolled.ok()) << enrolled.ToString();
    auto a = StartSyncingAgent(Dir(name), *broker_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agents_[name] = std::move(a).value();
  }
  AgentProcess& Agent(const std::string& name) { return *agents_.at(name); }

  void Put(const std::string& name, const std::string& id, const json& body) {
    Reply r = Agent(name).Put("/v1/records/" + id, body);
    ASSERT_EQ(r.status, 200) << name << " PUT " << id << ": " << r.Describe();
  }
  void ExpectSees(const std::string& name, const std::string& id, const std::string& field,
                  const json& value) {
    EXPECT_TRUE(WaitForValue(Agent(name), id, field, value, seconds(15)))
        << name << " never showed " << id << "." << field << " = " << value.dump() << "; it has "
        << RecordOf(Agent(name), id).dump(2);
  }

  // `switchboard review list --json`, until it lists `n` items.
  json WaitForItems(size_t n) {
    json items;
    std::string last;
    bool ok = WaitFor(
        [&] {
          auto out = RunSwitchboard({"review", "list", "--data", broker_->data_dir(), "--json"});
          last = out.ok() ? out->output : out.status().ToString();
          if (!out.ok() || out->exit_code != 0) return false;
          json j = json::parse(out->output, nullptr, false);
          if (!j.is_object()) return false;
          items = j["items"];
          return items.size() == n;
        },
        seconds(15));
    EXPECT_TRUE(ok) << "the queue never held " << n << " item(s); the last answer: " << last;
    return items;
  }

  // Every agent has everything the broker logged.
  void Settle() {
    for (const auto& [name, a] : agents_) {
      ASSERT_TRUE(WaitUntilOutboxEmpty(*a)) << name;
    }
    for (const auto& [name, a] : agents_) {
      ASSERT_TRUE(WaitUntilCaughtUp(*a, *broker_)) << name << ": " << AgentStatus(*a).dump();
    }
  }

  TempDir tmp_;
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
};

TEST_F(ReviewTest, APartnersPhoneChangeReachesOtherPartnersOnlyAfterApproval) {
  ASSERT_NO_FATAL_FAILURE(Put("a", kPhone, {{"fields", {{"number", "+14155550999"}}}}));
  json items = WaitForItems(1);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["kind"], "moderated_change");
  EXPECT_EQ(items[0]["before"], "+14155550123");
  EXPECT_EQ(items[0]["after"], "+14155550999");
  EXPECT_EQ(items[0]["who"]["org"], kOrgA);
  ASSERT_NO_FATAL_FAILURE(Settle());
  // B has the proposal in its replica but shows the published number; A sees its change pending.
  json at_b = FieldOf(Agent("b"), kPhone, "number");
  EXPECT_EQ(at_b["value"], "+14155550123") << at_b.dump();
  EXPECT_FALSE(at_b.value("pending", false)) << at_b.dump();
  Reply exported = Agent("b").Get("/v1/export");
  EXPECT_EQ(exported.raw.find("+14155550999"), std::string::npos);
  json at_a = FieldOf(Agent("a"), kPhone, "number");
  EXPECT_EQ(at_a["value"], "+14155550999");
  EXPECT_TRUE(at_a["pending"].get<bool>()) << at_a.dump();
  EXPECT_EQ(at_a["published"], "+14155550123");
  // The maintainer's own agent sees the proposal.
  ExpectSees("m", kPhone, "number", "+14155550999");

  auto shown = RunSwitchboard({"review", "show", "--data", broker_->data_dir(), items[0]["id"]});
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->exit_code, 0) << shown->output;
  EXPECT_NE(shown->output.find("+14155550999"), std::string::npos) << shown->output;
  EXPECT_NE(shown->output.find("history at the broker"), std::string::npos) << shown->output;

  auto approved =
      RunSwitchboard({"review", "approve", "--data", broker_->data_dir(), items[0]["id"]});
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(approved->exit_code, 0) << approved->output;
  ExpectSees("b", kPhone, "number", "+14155550999");
  EXPECT_TRUE(WaitFor([&] { return !FieldOf(Agent("a"), kPhone, "number").value("pending", true); },
                      seconds(15)));
  WaitForItems(0);
}

// Regression (issue 16): a maintainer's agent restarted while the broker was down read like a
// partner's until the broker welcomed it again: pending proposals showed at their published
// value and unvetted organizations vanished from its listings. The role the broker last
// welcomed it with is kept and used until the next Welcome.
TEST_F(ReviewTest, AMaintainersAgentRestartedWithTheBrokerDownStillReadsAsAMaintainer) {
  const std::string kOrgC = "33333333-3333-4333-8333-333333333333";
  ASSERT_NO_FATAL_FAILURE(Put("a", kPhone, {{"fields", {{"number", "+14155550999"}}}}));
  ASSERT_NO_FATAL_FAILURE(Join("c", kOrgC, "partner"));
  ASSERT_NO_FATAL_FAILURE(
      Put("c", kOrgC, {{"kind", "organization"}, {"fields", {{"name", "New Dawn"}}}}));
  WaitForItems(2);  // the phone change and the new organization
  ASSERT_NO_FATAL_FAILURE(Settle());
  ExpectSees("m", kPhone, "number", "+14155550999");
  ExpectSees("m", kOrgC, "name", "New Dawn");
  auto listed = [&](const std::string& name) {
    Reply r = Agent(name).Get("/v1/records?kind=organization");
    return r.raw.find(kOrgC) != std::string::npos;
  };
  EXPECT_TRUE(listed("m"));
  EXPECT_FALSE(listed("b")) << "a partner lists an organization no maintainer has vetted";

  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(Agent("m").Stop().ok());
  auto m = StartSyncingAgent(Dir("m"), *broker_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  agents_["m"] = std::move(m).value();
  Reply status = Agent("m").Get("/v1/status");
  ASSERT_EQ(status.status, 200) << status.Describe();
  EXPECT_EQ(status.body["role"], "maintainer") << status.body.dump();
  EXPECT_NE(status.body["sync"]["state"], "ready") << "the broker is down";
  json number = FieldOf(Agent("m"), kPhone, "number");
  EXPECT_EQ(number["value"], "+14155550999") << number.dump();
  EXPECT_TRUE(listed("m")) << "the unvetted organization vanished from the maintainer's list";

  // The maintainer's own edit of a moderated field is not said to wait for review.
  auto set = RunSwitchboard({"dir", "set", "--data", Dir("m"), kPhone, "number=+14155550777"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->exit_code, 0) << set->output;
  EXPECT_EQ(set->output.find("waits for a maintainer's review"), std::string::npos) << set->output;
  EXPECT_NE(set->output.find("needs no review"), std::string::npos) << set->output;
  // A partner's still does.
  auto partner = RunSwitchboard({"dir", "set", "--data", Dir("a"), kPhone, "number=+14155550888"});
  ASSERT_TRUE(partner.ok()) << partner.status().ToString();
  EXPECT_NE(partner->output.find("waits for a maintainer's review"), std::string::npos)
      << partner->output;
}

TEST_F(ReviewTest, ARejectionReachesTheOwnerWithItsReason) {
  ASSERT_NO_FATAL_FAILURE(Put("a", kPhone, {{"fields", {{"number", "+14155550999"}}}}));
  json items = WaitForItems(1);
  ASSERT_EQ(items.size(), 1u);
  const std::string reason = "That number rings a private flat; send the hotline's";
  auto rejected = RunSwitchboard(
      {"review", "reject", "--data", broker_->data_dir(), items[0]["id"], "--reason", reason});
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->exit_code, 0) << rejected->output;
  json at_a;
  EXPECT_TRUE(WaitFor(
      [&] {
        at_a = FieldOf(Agent("a"), kPhone, "number");
        return at_a.is_object() && at_a.contains("rejected");
      },
      seconds(15)))
      << at_a.dump();
  EXPECT_EQ(at_a["value"], "+14155550123");
  EXPECT_FALSE(at_a["pending"].get<bool>());
  EXPECT_EQ(at_a["rejected"]["value"], "+14155550999");
  EXPECT_EQ(at_a["rejected"]["reason"], reason);
  // `dir get` shows it to the partner's staff.
  auto got = RunSwitchboard({"dir", "get", "--data", Dir("a"), kPhone});
  ASSERT_TRUE(got.ok());
  EXPECT_NE(got->output.find("REJECTED"), std::string::npos) << got->output;
  EXPECT_NE(got->output.find("private flat"), std::string::npos) << got->output;
  // Nobody else ever shows the rejected number or the note.
  ASSERT_NO_FATAL_FAILURE(Settle());
  json at_b = RecordOf(Agent("b"), kPhone);
  EXPECT_EQ(at_b["fields"]["number"]["value"], "+14155550123");
  EXPECT_EQ(at_b.dump().find("private flat"), std::string::npos) << at_b.dump();
  ASSERT_TRUE(Agent("b").Stop().ok());
  EXPECT_EQ(FileContaining(Dir("b"), "private flat"), "");
  WaitForItems(0);
}

TEST_F(ReviewTest, TheQueueIsTheSameAfterABrokerRestart) {
  ASSERT_NO_FATAL_FAILURE(Put("a", kPhone, {{"fields", {{"number", "+14155550999"}}}}));
  // B tries to rename A's organization: refused at ingest, kept for review.
  ASSERT_NO_FATAL_FAILURE(Put("b", kOrgA, {{"fields", {{"name", "Hijacked"}}}}));
  json before = WaitForItems(2);
  for (json& it : before) it.erase("age_s");
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(broker_->Start().ok());
  json after = WaitForItems(2);
  for (json& it : after) it.erase("age_s");
  EXPECT_EQ(before, after);
  bool refused = false;
  for (const json& it : after) refused |= it["kind"] == "refused_push" && it["org"] == kOrgB;
  EXPECT_TRUE(refused) << after.dump(2);
}

TEST_F(ReviewTest, BadReviewRequestsAreRefusedAndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(Put("a", kPhone, {{"fields", {{"number", "+14155550999"}}}}));
  json items = WaitForItems(1);
  ASSERT_EQ(items.size(), 1u);
  std::string id = items[0]["id"];
  uint64_t head = broker_->ApiStatus()["log_head"].get<uint64_t>();

  // Another process's token (a partner agent's) is not the broker's.
  std::ifstream runtime(broker_->data_dir() + "/broker.json");
  std::stringstream ss;
  ss << runtime.rdbuf();
  std::string api = json::parse(ss.str())["api"];
  httplib::Client raw(api.substr(0, api.rfind(':')), std::stoi(api.substr(api.rfind(':') + 1)));
  auto wrong =
      raw.Post("/v1/review/" + id + "/approve", {{"Authorization", "Bearer " + Agent("a").token()}},
               "{}", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);

  auto expect = [&](const std::string& path, const std::string& body, int status,
                    const std::string& words) {
    Reply r = broker_->Post(path, json::parse(body));
    EXPECT_EQ(r.status, status) << path << " " << body << ": " << r.Describe();
    EXPECT_NE(r.raw.find(words), std::string::npos) << r.raw;
  };
  expect("/v1/review/m-000000000000/approve", "{}", 404, "no review item");
  expect("/v1/review/" + id + "/reject", "{}", 400, "reason");
  expect("/v1/review/" + id + "/reject", json{{"reason", std::string(5000, 'x')}}.dump(), 400,
         "1000");
  expect("/v1/review/" + id + "/resolve", json{{"value", "not a phone"}}.dump(), 400,
         "must be a phone number");
  expect("/v1/review/" + id + "/approve", json{{"surprise", 1}}.dump(), 400, "unknown key");
  expect("/v1/review/approve", json{{"ids", "m-1"}}.dump(), 400, "ids");

  // Malformed JSON, through the real token.
  std::string token;
  {
    std::ifstream t(broker_->data_dir() + "/api.token");
    std::getline(t, token);
  }
  auto malformed = raw.Post("/v1/review/" + id + "/reject", {{"Authorization", "Bearer " + token}},
                            "{\"reason\": ", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400) << malformed->body;
  auto huge = raw.Post("/v1/review/" + id + "/resolve", {{"Authorization", "Bearer " + token}},
                       std::string(2 << 20, ' '), "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);

  auto cli = RunSwitchboard({"review", "approve", "--data", broker_->data_dir(), "nope"});
  ASSERT_TRUE(cli.ok());
  EXPECT_EQ(cli->exit_code, 1);
  EXPECT_NE(cli->output.find("no review item nope"), std::string::npos) << cli->output;

  EXPECT_EQ(broker_->ApiStatus()["log_head"].get<uint64_t>(), head);
  EXPECT_EQ(WaitForItems(1)[0]["id"], id);
}

}  // namespace
}  // namespace sb::testing

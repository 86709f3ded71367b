// Trust between organizations, tried as an attacker inside the network would, with real
// processes: a `switchboard broker`, agents on loopback over CURVE, the `enroll` CLI.
//   - enrollment takeover: a newcomer's identity.pub naming an enrolled (or revoked)
//     organization is refused by `enroll add`; replacing keys is `enroll rekey`, which shows
//     both fingerprints, cuts the old key's connection and is in the audit chain;
//   - squatting: a partner cannot create a record with another enrolled organization's id;
//   - one console token for all maintainers: each maintainer has their own password and token,
//     every decision names them, removing one ends their sessions, and sign-in throttling is
//     per account.
// Nothing sleeps to synchronize: every wait polls a condition with a deadline.
#include <gtest/gtest.h>

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgB = "22222222-2222-4222-8222-222222222222";
const std::string kOrgC = "33333333-3333-4333-8333-333333333333";

json Organization(const std::string& name) {
  return {{"kind", "organization"}, {"fields", {{"name", name}}}};
}

// The fingerprint ("12345 67890 ..." : six groups of five digits) in a command's output
// after `label`, or "".
std::string FingerprintAfter(const std::string& output, const std::string& label) {
  std::smatch m;
  std::regex re(label + R"(\s+((\d{5} ){5}\d{5}))");
  return std::regex_search(output, m, re) ? m[1].str() : "";
}

class TrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = BrokerProcess::Create(tmp_ / "broker");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    Status started = broker_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void TearDown() override {
    if (!HasFailure()) return;
    std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
    for (const auto& [name, a] : agents_) {
      std::cerr << "--- " << name << ".log ---\n" << Tail(tmp_ / (name + ".log"), 3000) << "\n";
    }
  }

  std::string Dir(const std::string& name) const { return tmp_ / name; }

  // `switchboard init` for `org` in Dir(name); returns what it printed.
  std::string Init(const std::string& name, const std::string& org) {
    auto r = RunSwitchboard({"init", "--data", Dir(name), "--org", org});
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->output : r.status().ToString());
    return r.ok() ? r->output : "";
  }

  CommandOutput Enroll(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"enroll"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data", broker_->data_dir()});
    auto r = RunSwitchboard(argv);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CommandOutput{};
  }

  void Join(const std::string& name, const std::string& org) {
    Init(name, org);
    CommandOutput added =
        Enroll({"add", "--role", "partner", "--key", Dir(name) + "/identity.pub"});
    ASSERT_EQ(added.exit_code, 0) << added.output;
    ASSERT_NO_FATAL_FAILURE(StartAgent(name));
  }

  void StartAgent(const std::string& name) {
    auto a = StartSyncingAgent(Dir(name), *broker_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agents_[name] = std::move(a).value();
  }

  AgentProcess& Agent(const std::string& name) { return *agents_.at(name); }

  void Put(const std::string& name, const std::string& id, const json& body) {
    Reply r = Agent(name).Put("/v1/records/" + id, body);
    ASSERT_EQ(r.status, 200) << name << " PUT " << id << ": " << r.Describe();
  }

  // The roster entry of `org` as `enroll list --json` shows it (null if absent).
  json Listed(const std::string& org) {
    CommandOutput list = Enroll({"list", "--json"});
    json j = json::parse(list.output, nullptr, false);
    if (!j.is_object()) return nullptr;
    for (const json& m : j["roster"]) {
      if (m["org"] == org) return m;
    }
    return nullptr;
  }

  // The broker's audit entries with `action` about `subject`.
  size_t Audited(const std::string& action, const std::string& subject) {
    Reply r = broker_->Get("/v1/audit?n=1000");
    EXPECT_EQ(r.status, 200) << r.Describe();
    EXPECT_EQ(r.body["verified"], true) << r.raw;
    size_t n = 0;
    for (const json& e : r.body["entries"]) {
      if (e["action"] == action && e["subject"] == subject) ++n;
    }
    return n;
  }

  TempDir tmp_;
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
};

// The bullet "enrollment takeover": a newcomer's identity.pub naming an enrolled organization.
TEST_F(TrustTest, EnrollAddCannotTakeOverAnEnrolledOrganization) {
  std::string printed = Init("a", kOrgA);
  std::string a_fingerprint = FingerprintAfter(printed, "fingerprint:");
  ASSERT_FALSE(a_fingerprint.empty()) << "init printed no fingerprint:\n" << printed;
  CommandOutput added = Enroll({"add", "--role", "partner", "--key", Dir("a") + "/identity.pub"});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  // The coordinator sees the fingerprint the organization read out from its `init`.
  EXPECT_EQ(FingerprintAfter(added.output, "fingerprint"), a_fingerprint) << added.output;
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB));
  ASSERT_TRUE(WaitUntilSyncReady(Agent("a")));
  ASSERT_TRUE(WaitUntilSyncReady(Agent("b")));
  // `status` shows the agent's own fingerprint too.
  auto status = RunSwitchboard({"status", "--data", Dir("a")});
  ASSERT_TRUE(status.ok() && status->exit_code == 0);
  EXPECT_EQ(FingerprintAfter(status->output, "fingerprint"), a_fingerprint) << status->output;

  // The newcomer: its own keys, organization A's id.
  std::string newcomer_fingerprint = FingerprintAfter(Init("newcomer", kOrgA), "fingerprint:");
  EXPECT_NE(newcomer_fingerprint, a_fingerprint);
  CommandOutput takeover =
      Enroll({"add", "--role", "partner", "--key", Dir("newcomer") + "/identity.pub"});
  EXPECT_NE(takeover.exit_code, 0) << takeover.output;
  EXPECT_NE(takeover.output.find("already enrolled"), std::string::npos) << takeover.output;
  EXPECT_NE(takeover.output.find("enroll rekey"), std::string::npos) << takeover.output;
  std::printf("enroll add of an enrolled organization's id: exit %d: %s", takeover.exit_code,
              takeover.output.c_str());
  // Nothing changed: A's keys are the roster's, the newcomer's key cannot connect, and A
  // still edits its listing.
  EXPECT_EQ(Listed(kOrgA)["fingerprint"], a_fingerprint);
  ASSERT_NO_FATAL_FAILURE(StartAgent("newcomer"));
  EXPECT_FALSE(WaitFor([&] { return SyncState(Agent("newcomer")) == "ready"; }, seconds(3)));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  EXPECT_TRUE(WaitForValue(Agent("b"), kOrgA, "name", "Harbor Light Shelter", seconds(15)));
  EXPECT_EQ(SyncState(Agent("a")), "ready");
  EXPECT_EQ(Audited("roster.enroll", kOrgA), 1u);

  // A revoked organization is not silently un-revoked by `enroll add` either.
  ASSERT_TRUE(broker_->Revoke(kOrgB).ok());
  CommandOutput again = Enroll({"add", "--role", "partner", "--key", Dir("b") + "/identity.pub"});
  EXPECT_NE(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("reinstate"), std::string::npos) << again.output;
  EXPECT_EQ(Listed(kOrgB)["revoked"], true);
  // Reinstating is explicit, and audited.
  CommandOutput reinstated = Enroll({"reinstate", kOrgB});
  ASSERT_EQ(reinstated.exit_code, 0) << reinstated.output;
  EXPECT_EQ(Listed(kOrgB)["revoked"], false);
  EXPECT_EQ(Audited("roster.revoke", kOrgB), 1u);
  EXPECT_EQ(Audited("roster.reinstate", kOrgB), 1u);
  ASSERT_TRUE(Agent("b").Stop().ok());  // a revocation is final for the running agent
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  EXPECT_TRUE(WaitUntilSyncReady(Agent("b")));
  // A role changes with its own command (it used to take re-enrolling), keys unchanged.
  std::string b_fingerprint = Listed(kOrgB)["fingerprint"];
  CommandOutput role = Enroll({"role", kOrgB, "--role", "maintainer"});
  ASSERT_EQ(role.exit_code, 0) << role.output;
  EXPECT_EQ(Listed(kOrgB)["role"], "maintainer");
  EXPECT_EQ(Listed(kOrgB)["fingerprint"], b_fingerprint);
  EXPECT_EQ(Audited("roster.role.maintainer", kOrgB), 1u);
  EXPECT_TRUE(
      WaitFor([&] { return AgentStatus(Agent("b"))["sync"]["role"] == "maintainer"; }, seconds(10)))
      << AgentStatus(Agent("b")).dump();
}

// Replacing keys is its own step: both fingerprints shown, the old key cut off.
TEST_F(TrustTest, RekeyShowsBothFingerprintsAndCutsTheOldKey) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB));
  ASSERT_TRUE(WaitUntilSyncReady(Agent("a")));
  ASSERT_TRUE(WaitUntilSyncReady(Agent("b")));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ASSERT_TRUE(WaitForValue(Agent("b"), kOrgA, "name", "Harbor Light Shelter", seconds(15)));
  std::string old_fingerprint = Listed(kOrgA)["fingerprint"];

  std::string new_fingerprint = FingerprintAfter(Init("a2", kOrgA), "fingerprint:");
  auto started = std::chrono::steady_clock::now();
  CommandOutput rekeyed = Enroll({"rekey", "--key", Dir("a2") + "/identity.pub"});
  ASSERT_EQ(rekeyed.exit_code, 0) << rekeyed.output;
  EXPECT_EQ(FingerprintAfter(rekeyed.output, "old fingerprint"), old_fingerprint) << rekeyed.output;
  EXPECT_EQ(FingerprintAfter(rekeyed.output, "new fingerprint"), new_fingerprint) << rekeyed.output;
  // The old key's open connection is cut (its agent is told it is no longer enrolled).
  ASSERT_TRUE(WaitFor([&] { return SyncState(Agent("a")) == "refused"; }, seconds(10)))
      << AgentStatus(Agent("a")).dump();
  double cut_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::printf("the old key's agent was cut off %.0f ms after `enroll rekey` started\n", cut_ms);
  // What the old key's agent edits now goes nowhere.
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Taken Over")));
  // The new key speaks for A.
  ASSERT_NO_FATAL_FAILURE(StartAgent("a2"));
  ASSERT_TRUE(WaitUntilSyncReady(Agent("a2")));
  ASSERT_TRUE(WaitForValue(Agent("a2"), kOrgA, "name", "Harbor Light Shelter", seconds(15)));
  ASSERT_NO_FATAL_FAILURE(Put("a2", kOrgA, Organization("Harbor Light Shelter (new keys)")));
  EXPECT_TRUE(
      WaitForValue(Agent("b"), kOrgA, "name", "Harbor Light Shelter (new keys)", seconds(15)));
  EXPECT_NE(FieldOf(Agent("b"), kOrgA, "name")["value"], "Taken Over");
  EXPECT_EQ(Listed(kOrgA)["fingerprint"], new_fingerprint);
  EXPECT_EQ(Audited("roster.rekey", kOrgA), 1u);
  // A restarted old agent cannot get back in.
  ASSERT_TRUE(Agent("a").Stop().ok());
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  EXPECT_FALSE(WaitFor([&] { return SyncState(Agent("a")) == "ready"; }, seconds(3)));
}

// The bullet "squatting": a record with another enrolled organization's id.
TEST_F(TrustTest, APartnerCannotSquatAnotherOrganizationsId) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB));
  ASSERT_NO_FATAL_FAILURE(Join("c", kOrgC));
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(WaitUntilSyncReady(Agent(n)));
  // A lists B's id before B lists itself.
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgB, Organization("Legal Aid North (squatted)")));
  json rejections;
  ASSERT_TRUE(WaitFor(
      [&] {
        rejections = Agent("a").Get("/v1/rejections").body;
        return rejections.is_object() && !rejections["rejections"].empty();
      },
      seconds(15)))
      << AgentStatus(Agent("a")).dump();
  std::string reason = rejections["rejections"][0]["reason"];
  EXPECT_NE(reason.find("enrolled id"), std::string::npos) << reason;
  std::printf("squatting refused: %s\n", reason.c_str());
  // B's own listing is accepted and reaches C.
  ASSERT_NO_FATAL_FAILURE(Put("b", kOrgB, Organization("Legal Aid North")));
  EXPECT_TRUE(WaitForValue(Agent("c"), kOrgB, "name", "Legal Aid North", seconds(15)));
  EXPECT_TRUE(WaitUntilOutboxEmpty(Agent("b")));
  EXPECT_EQ(Agent("b").Get("/v1/rejections").body["rejections"].size(), 0u);
  // Nor can A list itself under any other id.
  const std::string other = "99999999-0000-4000-8000-000000000001";
  ASSERT_NO_FATAL_FAILURE(Put("a", other, Organization("Harbor Light Shelter, second listing")));
  EXPECT_TRUE(
      WaitFor([&] { return Agent("a").Get("/v1/rejections").body["rejections"].size() >= 2; },
              seconds(15)));
  EXPECT_EQ(RecordOf(Agent("c"), other), nullptr);
}

// "A vetted partner can publish 'NEW 24/7 HOTLINE: call +1415…' in a free-text description
// with no review": now the change waits in the review queue until a maintainer applies it.
TEST_F(TrustTest, AHotlineNumberInADescriptionWaitsForAMaintainer) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB));
  for (const char* n : {"a", "b"}) ASSERT_TRUE(WaitUntilSyncReady(Agent(n)));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ASSERT_TRUE(WaitForValue(Agent("b"), kOrgA, "name", "Harbor Light Shelter", seconds(15)));
  const std::string forged = "NEW 24/7 HOTLINE: call +1415 555 0199";
  ASSERT_NO_FATAL_FAILURE(
      Put("a", kOrgA, {{"kind", "organization"}, {"fields", {{"description", forged}}}}));
  json rejections;
  ASSERT_TRUE(WaitFor(
      [&] {
        rejections = Agent("a").Get("/v1/rejections").body;
        return rejections.is_object() && !rejections["rejections"].empty();
      },
      seconds(15)));
  std::string reason = rejections["rejections"][0]["reason"];
  EXPECT_NE(reason.find("contains a phone number"), std::string::npos) << reason;
  // B never sees it unreviewed.
  EXPECT_FALSE(WaitFor([&] { return FieldOf(Agent("b"), kOrgA, "description")["value"] == forged; },
                       seconds(2)));
  // It is in the maintainers' queue; approved, it reaches B.
  json item;
  ASSERT_TRUE(WaitFor(
      [&] {
        Reply q = broker_->Get("/v1/review");
        if (q.status != 200) return false;
        for (const json& i : q.body["items"]) {
          if (i["kind"] == "refused_push") item = i;
        }
        return item.is_object();
      },
      seconds(10)));
  Reply approved = broker_->Post("/v1/review/approve", {{"ids", json::array({item["id"]})}});
  ASSERT_EQ(approved.status, 200) << approved.Describe();
  EXPECT_TRUE(WaitForValue(Agent("b"), kOrgA, "description", forged, seconds(15)));
  std::printf("a phone number in a description: refused at ingest (%s), applied after approval\n",
              reason.c_str());
}

// DNS rebinding: a web page whose name now resolves to 127.0.0.1 sends its own name as Host.
// The agent's API answers only requests for itself, even with the right token.
TEST_F(TrustTest, TheLocalApiRefusesRequestsForAnotherHost) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA));
  httplib::Client client("127.0.0.1", Agent("a").port());
  httplib::Headers auth = {{"Authorization", "Bearer " + Agent("a").token()}};
  auto ok = client.Get("/v1/status", auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  const std::string port = std::to_string(Agent("a").port());
  for (const std::string& host :
       std::vector<std::string>{"attacker.example", "attacker.example:" + port, "127.0.0.1:1"}) {
    httplib::Headers headers = auth;
    headers.emplace("Host", host);
    auto refused = client.Get("/v1/status", headers);
    ASSERT_TRUE(refused) << host;
    EXPECT_EQ(refused->status, 403) << host << ": " << refused->body;
    EXPECT_NE(refused->body.find("Host"), std::string::npos) << refused->body;
    auto write = client.Put("/v1/records/" + kOrgA, headers, Organization("Rebound").dump(),
                            "application/json");
    ASSERT_TRUE(write);
    EXPECT_EQ(write->status, 403);
  }
  EXPECT_EQ(RecordOf(Agent("a"), kOrgA), nullptr);
}

// The console, as a browser would use it (its cookie per port).
class ConsoleClient {
 public:
  explicit ConsoleClient(int port) : http_("127.0.0.1", port) {}
  // POST /api/session with `body`: the HTTP status; keeps the cookie when signed in.
  int SignIn(const json& body) {
    auto r = http_.Post("/api/session", body.dump(), "application/json");
    if (!r) return 0;
    std::string set = r->get_header_value("Set-Cookie");
    if (r->status == 200) cookie_ = set.substr(0, set.find(';'));
    return r->status;
  }
  Reply Get(const std::string& path) {
    auto r = http_.Get(path, {{"Cookie", cookie_}, {"Sec-Fetch-Site", "same-origin"}});
    Reply out;
    if (!r) return out;
    out.status = r->status;
    out.raw = r->body;
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }

 private:
  httplib::Client http_;
  std::string cookie_;
};

// The console's port from the running broker's broker.json.
int ConsolePort(const BrokerProcess& broker) {
  std::ifstream in(broker.data_dir() + "/broker.json");
  json j = json::parse(in, nullptr, false);
  std::smatch m;
  std::string url = j.is_object() ? j.value("console", "") : "";
  return std::regex_search(url, m, std::regex(R"(:(\d+)/)")) ? std::stoi(m[1]) : 0;
}

// The bullet "one console token for all maintainers; nobody can tell which maintainer approved
// a changed hotline number".
TEST_F(TrustTest, EachMaintainerAnswersForTheirOwnDecisions) {
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(broker_->Start({"--console", "0"}).ok());
  const int console_port = ConsolePort(*broker_);
  ASSERT_GT(console_port, 0);
  // The coordinator adds maintainers: alice with the CLI (password and token made for her),
  // bob and carol through the API with passwords of their own.
  auto added = RunSwitchboard({"maintainer", "add", "alice", "--json", "--data", Dir("broker")});
  ASSERT_TRUE(added.ok() && added->exit_code == 0) << (added.ok() ? added->output : "");
  json alice = json::parse(added->output, nullptr, false);
  ASSERT_TRUE(alice.is_object()) << added->output;
  const std::string alice_actor = alice["actor"], alice_token = alice["token"];
  EXPECT_EQ(alice_actor, "coordinator/alice");
  for (const char* who : {"bob", "carol"}) {
    Reply r = broker_->Post("/v1/maintainers",
                            {{"name", who}, {"password", std::string(who) + "-long-passphrase"}});
    ASSERT_EQ(r.status, 200) << r.Describe();
  }
  // Nobody else's token adds maintainers, and a name is taken once.
  {
    std::ifstream in(broker_->data_dir() + "/broker.json");
    std::string api_at = json::parse(in, nullptr, false).value("api", "");
    httplib::Client api("127.0.0.1", std::stoi(api_at.substr(api_at.rfind(':') + 1)));
    auto r = api.Post("/v1/maintainers", {{"Authorization", "Bearer " + alice_token}},
                      R"({"name": "mallory"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_EQ(broker_->Post("/v1/maintainers", {{"name", "bob"}}).status, 409);
  }
  // A forged hotline number waits for review; alice approves it with her own token.
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA));
  ASSERT_TRUE(WaitUntilSyncReady(Agent("a")));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ASSERT_NO_FATAL_FAILURE(
      Put("a", kOrgA,
          {{"kind", "organization"}, {"fields", {{"description", "Call +1415 555 0199 now"}}}}));
  std::string item;
  ASSERT_TRUE(WaitFor(
      [&] {
        Reply q = broker_->Get("/v1/review");
        for (const json& i : q.body["items"]) {
          if (i["kind"] == "refused_push") item = i["id"];
        }
        return !item.empty();
      },
      seconds(15)));
  const char* bin = std::getenv("SWITCHBOARD_BIN");
  ASSERT_NE(bin, nullptr);
  auto approved = RunCommand({"/usr/bin/env", "SWITCHBOARD_TOKEN=" + alice_token, bin, "review",
                              "approve", item, "--data", Dir("broker")});
  ASSERT_TRUE(approved.ok() && approved->exit_code == 0) << (approved.ok() ? approved->output : "");
  EXPECT_NE(approved->output.find("as coordinator/alice"), std::string::npos) << approved->output;
  // The audit chain names her, and so does the record's history.
  EXPECT_EQ(Audited("review.approve", kOrgA), 1u);
  {
    Reply audit = broker_->Get("/v1/audit?n=1000");
    size_t hers = 0;
    for (const json& e : audit.body["entries"]) {
      if (e["action"] == "review.approve" && e["actor"] == alice_actor) ++hers;
      if (e["action"] == "maintainer.add") {
        EXPECT_EQ(e["actor"], "coordinator") << e;
      }
    }
    EXPECT_EQ(hers, 1u) << audit.raw;
  }
  // The console: bob signs in with his name and password; his session says who he is, and the
  // record's history shows alice's decision.
  ConsoleClient bob(console_port);
  ASSERT_EQ(bob.SignIn({{"name", "bob"}, {"password", "bob-long-passphrase"}}), 200);
  Reply session = bob.Get("/api/session");
  EXPECT_EQ(session.body["who"], "coordinator/bob") << session.raw;
  Reply record = bob.Get("/api/records/" + kOrgA);
  ASSERT_EQ(record.status, 200) << record.raw;
  bool shown = false;
  for (const json& h : record.body["history"]) shown = shown || h["by"] == alice_actor;
  EXPECT_TRUE(shown) << record.raw;
  // Throttling is per account: carol's password guessed wrong 10 times is refused for a minute
  // even when right; alice (and the coordinator's token) sign in meanwhile.
  ConsoleClient guesser(console_port);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(guesser.SignIn({{"name", "carol"}, {"password", "wrong-guess-" + std::to_string(i)}}),
              401);
  }
  EXPECT_EQ(guesser.SignIn({{"name", "carol"}, {"password", "carol-long-passphrase"}}), 429);
  ConsoleClient alice_console(console_port);
  EXPECT_EQ(alice_console.SignIn({{"name", "alice"}, {"password", alice["password"]}}), 200);
  EXPECT_EQ(alice_console.Get("/api/session").body["who"], alice_actor);
  // Removing bob ends his session at once and refuses his credentials.
  auto removed = RunSwitchboard({"maintainer", "remove", "bob", "--data", Dir("broker")});
  ASSERT_TRUE(removed.ok() && removed->exit_code == 0) << (removed.ok() ? removed->output : "");
  EXPECT_EQ(bob.Get("/api/review").status, 401);
  EXPECT_EQ(bob.Get("/api/session").body["signed_in"], false);
  ConsoleClient bob_again(console_port);
  EXPECT_EQ(bob_again.SignIn({{"name", "bob"}, {"password", "bob-long-passphrase"}}), 401);
  EXPECT_EQ(Audited("maintainer.remove", "bob"), 1u);
  auto list = RunSwitchboard({"maintainer", "list", "--data", Dir("broker")});
  ASSERT_TRUE(list.ok() && list->exit_code == 0);
  EXPECT_NE(list->output.find("alice"), std::string::npos) << list->output;
  EXPECT_EQ(list->output.find("bob"), std::string::npos) << list->output;
  std::printf(
      "maintainers: decision attributed to %s; bob's session ended on removal; carol "
      "throttled alone\n",
      alice_actor.c_str());
}

}  // namespace
}  // namespace sb::testing

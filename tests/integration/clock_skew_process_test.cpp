// Real `switchboard agent` processes started under a skewed wall clock with faketime
// (libfaketime, LD_PRELOAD; the monotonic clock is left alone), syncing with a broker on the
// right time:
//   - an agent 3 h behind converges, its edits apply, and its edit made after seeing a
//     maintainer's supersedes it;
//   - an agent 3 h 2 min ahead is told so in its status and metrics, refuses local edits with
//     a message naming the skew, and holds its outbox; once its clock is right, what it stamped
//     in the future is refused by the broker with the skew named (never wins there), and its new
//     edits are taken.
// Skipped with the reason when libfaketime is not installed (Debian package `faketime`).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;
namespace fs = std::filesystem;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgF = "66666666-6666-4666-8666-666666666666";
const std::string kOrgM = "44444444-4444-4444-8444-444444444444";
constexpr char kFaketimeLib[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

json Organization(const std::string& name) {
  return {{"kind", "organization"}, {"fields", {{"name", name}}}};
}

std::string ErrorMessage(const Reply& r) {
  return r.body.is_object() && r.body["error"].is_object() ? r.body["error"].value("message", "")
                                                           : r.raw;
}

// The environment that starts a process with its wall clock `offset` off ("+10920", "-3h").
std::vector<std::string> Faketime(const std::string& offset) {
  return {std::string("LD_PRELOAD=") + kFaketimeLib, "FAKETIME=" + offset,
          "FAKETIME_DONT_FAKE_MONOTONIC=1"};
}

json Sync(const AgentProcess& a) {
  json s = AgentStatus(a);
  return s.is_object() ? s["sync"] : json(nullptr);
}

class ClockSkewProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kFaketimeLib)) {
      GTEST_SKIP() << kFaketimeLib << " is missing: install Debian's faketime (./dev.sh setup)";
    }
    auto b = BrokerProcess::Create(tmp_ / "broker");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    ASSERT_TRUE(broker_->Start().ok());
    ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer", {}));
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (broker_) std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
    for (const auto& [name, a] : agents_) {
      std::cerr << "--- " << name << ".log ---\n" << Tail(tmp_ / (name + ".log"), 3000) << "\n";
    }
  }

  std::string Dir(const std::string& name) const { return tmp_ / name; }

  void Join(const std::string& name, const std::string& org, const std::string& role,
            const std::vector<std::string>& env) {
    Status made = InitDataDir(Dir(name), org);
    ASSERT_TRUE(made.ok()) << made.ToString();
    Status enrolled = broker_->Enroll(Dir(name), role);
    ASSERT_TRUE(enrolled.ok()) << enrolled.ToString();
    ASSERT_NO_FATAL_FAILURE(Start(name, env));
  }

  void Start(const std::string& name, const std::vector<std::string>& env) {
    agents_.erase(name);
    auto a = StartSyncingAgent(Dir(name), *broker_, {}, env);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agents_[name] = std::move(a).value();
    ASSERT_TRUE(WaitUntilSyncReady(*agents_[name])) << Sync(*agents_[name]).dump();
  }

  AgentProcess& Agent(const std::string& name) { return *agents_.at(name); }

  TempDir tmp_;
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
};

TEST_F(ClockSkewProcess, AnAgentThreeHoursBehindConvergesAndItsEditsApply) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner", Faketime("-3h")));
  AgentProcess& a = Agent("a");
  AgentProcess& m = Agent("m");
  json sync = Sync(a);
  ASSERT_TRUE(sync["clock_skew_ms"].is_number()) << sync.dump();
  EXPECT_NEAR(sync["clock_skew_ms"].get<double>(), -3 * 3600e3, 60e3) << sync.dump();
  EXPECT_EQ(sync["clock_ahead"], "");

  Reply put = a.Put("/v1/records/" + kOrgA, Organization("Harbor Light"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  EXPECT_TRUE(WaitForValue(m, kOrgA, "name", "Harbor Light", seconds(15)));
  // The maintainer renames it; A, having seen that, renames it again: A's edit wins, without
  // a conflict, although A's clock is three hours behind.
  put = m.Put("/v1/records/" + kOrgA, Organization("Harbor Light (vetted)"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  ASSERT_TRUE(WaitForValue(a, kOrgA, "name", "Harbor Light (vetted)", seconds(15)));
  put = a.Put("/v1/records/" + kOrgA, Organization("Harbor Light Shelter"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  for (AgentProcess* x : {&a, &m}) {
    EXPECT_TRUE(WaitForValue(*x, kOrgA, "name", "Harbor Light Shelter", seconds(15)));
    json f = FieldOf(*x, kOrgA, "name");
    EXPECT_TRUE(f.is_object() && !f.value("conflict", false)) << f.dump();
  }
  EXPECT_TRUE(WaitUntilOutboxEmpty(a));
  Reply rejections = a.Get("/v1/rejections");
  ASSERT_EQ(rejections.status, 200);
  EXPECT_TRUE(rejections.body["rejections"].empty()) << rejections.raw;
}

TEST_F(ClockSkewProcess, AnAgentAheadIsRefusedNamingTheSkewAndNothingItStampedAheadWins) {
  const std::vector<std::string> ahead = Faketime("+10920");  // 3 h 2 min
  Status made = InitDataDir(Dir("f"), kOrgF);
  ASSERT_TRUE(made.ok()) << made.ToString();
  ASSERT_TRUE(broker_->Enroll(Dir("f"), "partner").ok());
  {
    // Offline first (no broker yet, no skew known): an edit stamped 3 h 2 min ahead.
    ProcessSpec spec;
    spec.log_name = "f.log";
    spec.env = ahead;
    auto offline = AgentProcess::Start(Dir("f"), {}, spec);
    ASSERT_TRUE(offline.ok()) << offline.status().ToString();
    Reply put = (*offline)->Put("/v1/records/" + kOrgF, Organization("Future House"));
    ASSERT_EQ(put.status, 200) << put.Describe();
    ASSERT_TRUE((*offline)->Stop().ok());
  }
  ASSERT_NO_FATAL_FAILURE(Start("f", ahead));
  AgentProcess& f = Agent("f");
  AgentProcess& m = Agent("m");
  json sync = Sync(f);
  EXPECT_NEAR(sync["clock_skew_ms"].get<double>(), 10920e3, 60e3) << sync.dump();
  std::string held = sync.value("clock_ahead", "");
  EXPECT_EQ(held.rfind("this agent's clock is 3 h 2 min ahead of the broker's; at most 60 s is "
                       "allowed: set the clock of ",
                       0),
            0u)
      << held;
  Reply metrics = f.Get("/metrics");
  EXPECT_NE(metrics.raw.find("switchboard_clock_skew_seconds 1092"), std::string::npos)
      << metrics.raw;
  Reply put = f.Put("/v1/records/" + kOrgF, Organization("Future House 2"));
  EXPECT_EQ(put.status, 409) << put.Describe();
  EXPECT_NE(ErrorMessage(put).find("this agent's clock is 3 h 2 min ahead of the broker's"),
            std::string::npos)
      << put.Describe();
  // Held: nothing was pushed, the outbox waits, the broker has nothing of it.
  EXPECT_TRUE(WaitFor([&] { return Sync(f).value("pushes_held", 0) > 0; }, seconds(10)));
  EXPECT_EQ(Sync(f)["pushed"], 0);
  EXPECT_EQ(AgentStatus(f)["outbox_depth"], 1);
  // Updates still arrive.
  put = m.Put("/v1/records/" + kOrgM, Organization("Coordinators"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  EXPECT_TRUE(WaitForValue(f, kOrgM, "name", "Coordinators", seconds(15)));

  // The clock is set right (restarted without faketime). The broker refuses the edit stamped
  // ahead, naming the skew; the new edit is taken and reaches the maintainer.
  ASSERT_NO_FATAL_FAILURE(Start("f", {}));
  AgentProcess& fixed = Agent("f");
  EXPECT_TRUE(WaitUntilOutboxEmpty(fixed));
  Reply rejections = fixed.Get("/v1/rejections");
  ASSERT_EQ(rejections.status, 200);
  ASSERT_EQ(rejections.body["rejections"].size(), 1u) << rejections.raw;
  std::string reason = rejections.body["rejections"][0].value("reason", "");
  EXPECT_NE(reason.find("this agent's clock is 3 h "), std::string::npos) << reason;
  EXPECT_NE(reason.find("ahead of the broker's; at most 60 s is allowed"), std::string::npos)
      << reason;
  EXPECT_TRUE(RecordOf(fixed, kOrgF).is_null()) << RecordOf(fixed, kOrgF).dump();
  EXPECT_EQ(Sync(fixed)["clock_ahead"], "");
  put = fixed.Put("/v1/records/" + kOrgF, Organization("Present House"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  EXPECT_TRUE(WaitUntilOutboxEmpty(fixed));
  EXPECT_TRUE(WaitForValue(m, kOrgF, "name", "Present House", seconds(15)))
      << RecordOf(m, kOrgF).dump();
  Reply again = fixed.Get("/v1/rejections");
  EXPECT_EQ(again.body["rejections"].size(), 1u) << again.raw;
}

}  // namespace
}  // namespace sb::testing

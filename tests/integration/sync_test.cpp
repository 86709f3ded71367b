// The sync network with real processes: a `switchboard broker` and agents started with
// --broker on loopback, killed and restarted, checked through their HTTP APIs and the CLI.
// Nothing sleeps to synchronize: every wait polls a condition with a deadline.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgB = "22222222-2222-4222-8222-222222222222";
const std::string kOrgC = "33333333-3333-4333-8333-333333333333";
const std::string kOrgM = "44444444-4444-4444-8444-444444444444";  // the maintainers
const std::string kOrgX = "55555555-5555-4555-8555-555555555555";  // never enrolled

// The id of the n-th record a test creates (a lowercase UUID).
std::string RecordId(unsigned tag, unsigned n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", tag, n);
  return buf;
}

json Organization(const std::string& name) {
  return {{"kind", "organization"}, {"fields", {{"name", name}}}};
}

json Service(const std::string& org, const std::string& name) {
  return {{"kind", "service"}, {"fields", {{"organization_id", org}, {"name", name}}}};
}

uint64_t U64(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>()
                                                                         : 0;
}

class SyncTest : public ::testing::Test {
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
    if (broker_) std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
    for (const auto& [name, a] : agents_) {
      std::cerr << "--- " << name << ".log ---\n" << Tail(tmp_ / (name + ".log"), 3000) << "\n";
    }
  }

  std::string Dir(const std::string& name) const { return tmp_ / name; }

  // Makes agent `name`'s data directory for `org`, enrols it as `role` and starts it.
  void Join(const std::string& name, const std::string& org, const std::string& role) {
    Status made = InitDataDir(Dir(name), org);
    ASSERT_TRUE(made.ok()) << made.ToString();
    Status enrolled = broker_->Enroll(Dir(name), role);
    ASSERT_TRUE(enrolled.ok()) << enrolled.ToString();
    ASSERT_NO_FATAL_FAILURE(StartAgent(name));
  }

  // Starts (or restarts) agent `name` on its existing data directory.
  void StartAgent(const std::string& name) {
    auto a = StartSyncingAgent(Dir(name), *broker_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agents_[name] = std::move(a).value();
  }

  AgentProcess& Agent(const std::string& name) { return *agents_.at(name); }

  void ExpectReady(const std::string& name) {
    EXPECT_TRUE(WaitUntilSyncReady(Agent(name))) << name << ": " << AgentStatus(Agent(name)).dump();
  }

  void Put(const std::string& name, const std::string& id, const json& body) {
    Reply r = Agent(name).Put("/v1/records/" + id, body);
    ASSERT_EQ(r.status, 200) << name << " PUT " << id << ": " << r.Describe();
  }

  void ExpectSees(const std::string& name, const std::string& id, const std::string& field,
                  const json& value, std::chrono::milliseconds deadline = seconds(15)) {
    EXPECT_TRUE(WaitForValue(Agent(name), id, field, value, deadline))
        << name << " never showed " << id << "." << field << " = " << value.dump() << "; it has "
        << RecordOf(Agent(name), id).dump();
  }

  // Until every agent the broker serves has confirmed its whole log.
  bool BrokerQuiet() {
    return WaitFor(
        [&] {
          json s = broker_->ApiStatus();
          if (!s.is_object()) return false;
          for (const auto& a : s["agents"]) {
            if (a["acked"] != s["log_head"]) return false;
          }
          return true;
        },
        seconds(20));
  }

  TempDir tmp_;
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
};

// ---------- 1. propagation ----------

TEST_F(SyncTest, AnEditByOnePartnerReachesTheOtherPartnerAndTheMaintainer) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer"));

  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));

  ExpectSees("b", kOrgA, "name", "Harbor Light Shelter");
  ExpectSees("m", kOrgA, "name", "Harbor Light Shelter");
  EXPECT_EQ(RecordOf(Agent("b"), kOrgA)["owner"], kOrgA);
}

// ---------- 2. catch-up cost ----------

TEST_F(SyncTest, OfflineCatchUpCostGrowsWithTheChangesMissedNotTheDirectorySize) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("c", kOrgC, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer"));

  // Seed the directory: a generated HSDS document imported by the maintainer.
  const char* generator = std::getenv("SAMPLE_GENERATOR");
  ASSERT_TRUE(generator && *generator) << "SAMPLE_GENERATOR is not set (run via meson test)";
  std::string doc_path = tmp_ / "directory.json";
  auto gen = RunCommand({"/usr/bin/env", "python3", generator, "--orgs", "46", "--seed", "7",
                         "--out", doc_path, "--quiet"},
                        seconds(60));
  ASSERT_TRUE(gen.ok() && gen->exit_code == 0)
      << (gen.ok() ? gen->output : gen.status().ToString());
  std::ifstream in(doc_path);
  json doc = json::parse(in, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  Reply imported = Agent("m").Post("/v1/import", doc);
  ASSERT_EQ(imported.status, 200) << imported.Describe();
  uint64_t seeded = imported.body["records"].get<uint64_t>();
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));

  for (const char* name : {"a", "m"}) {
    EXPECT_TRUE(WaitUntilOutboxEmpty(Agent(name), seconds(60)))
        << name << ": " << AgentStatus(Agent(name)).dump();
  }
  for (const char* name : {"a", "c", "m"}) {
    EXPECT_TRUE(WaitUntilCaughtUp(Agent(name), *broker_, seconds(60)))
        << name << ": " << AgentStatus(Agent(name)).dump();
  }
  ASSERT_EQ(U64(AgentStatus(Agent("c")), "records"), seeded + 1);
  uint64_t full_sync_bytes = U64(AgentStatus(Agent("c"))["sync"], "bytes_in");
  Reply exported = Agent("c").Get("/v1/export");
  ASSERT_EQ(exported.status, 200);
  const size_t export_bytes = exported.raw.size();

  // One round: C goes offline, A makes `k` edits, C comes back and catches up.
  int round = 0;
  auto catch_up_bytes = [&](int k, uint64_t* broker_bytes) -> uint64_t {
    ++round;
    std::string log = Agent("c").LogPath();
    Result<int> stopped = Agent("c").Stop();
    EXPECT_TRUE(stopped.ok() && *stopped == 0)
        << "C did not stop cleanly: "
        << (stopped.ok() ? "exit status " + std::to_string(*stopped) : stopped.status().ToString())
        << "; log:\n"
        << Tail(log);
    uint64_t head = U64(broker_->ApiStatus(), "log_head");
    std::string last;
    for (int i = 0; i < k; ++i) {
      last = "round " + std::to_string(round) + ", edit " + std::to_string(i);
      Reply r = Agent("a").Put("/v1/records/" + kOrgA, {{"fields", {{"description", last}}}});
      EXPECT_EQ(r.status, 200) << r.Describe();
    }
    EXPECT_TRUE(WaitUntilOutboxEmpty(Agent("a"))) << AgentStatus(Agent("a")).dump();
    EXPECT_GE(U64(broker_->ApiStatus(), "log_head"), head + k)
        << "the broker did not log A's edits: " << broker_->ApiStatus().dump();
    EXPECT_TRUE(BrokerQuiet()) << broker_->ApiStatus().dump();
    uint64_t before = U64(broker_->ApiStatus(), "bytes_out");
    StartAgent("c");
    EXPECT_TRUE(WaitUntilCaughtUp(Agent("c"), *broker_, seconds(30)))
        << AgentStatus(Agent("c")).dump();
    ExpectSees("c", kOrgA, "description", last);
    EXPECT_TRUE(BrokerQuiet());
    *broker_bytes = U64(broker_->ApiStatus(), "bytes_out") - before;
    return U64(AgentStatus(Agent("c"))["sync"], "bytes_in");
  };
  uint64_t broker20 = 0, broker80 = 0;
  uint64_t bytes20 = catch_up_bytes(20, &broker20);
  uint64_t bytes80 = catch_up_bytes(80, &broker80);

  std::printf(
      "directory: %llu records, export %zu bytes, first full sync %llu bytes\n"
      "catch-up after  20 missed edits: %llu bytes at the agent (%llu sent by the broker)"
      ", %.1f%% of the export\n"
      "catch-up after  80 missed edits: %llu bytes at the agent (%llu sent by the broker)"
      ", %.1f%% of the export; ratio 80/20 = %.2f\n",
      static_cast<unsigned long long>(seeded + 1), export_bytes,
      static_cast<unsigned long long>(full_sync_bytes), static_cast<unsigned long long>(bytes20),
      static_cast<unsigned long long>(broker20), 100.0 * bytes20 / export_bytes,
      static_cast<unsigned long long>(bytes80), static_cast<unsigned long long>(broker80),
      100.0 * bytes80 / export_bytes, bytes20 ? static_cast<double>(bytes80) / bytes20 : 0.0);
  EXPECT_GT(bytes20, 0u);
  EXPECT_LT(bytes20, export_bytes / 4) << "catching up on 20 edits cost a quarter of the directory";
  EXPECT_LT(bytes20, full_sync_bytes / 4);
  EXPECT_GT(bytes80, 2 * bytes20) << "four times the missed edits should cost clearly more";
  EXPECT_LT(bytes80, 8 * bytes20) << "cost should grow about in proportion to the edits missed";
}

// ---------- 3. broker crash ----------

TEST_F(SyncTest, EveryAcknowledgedEditSurvivesTheBrokerBeingKilledMidStream) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ExpectReady("a");

  // A writer streams new services at A; the ones A acknowledged are the promise to keep.
  std::mutex mu;
  std::vector<std::string> acked;  // guarded by mu
  std::string error;               // guarded by mu
  std::atomic<bool> stop{false};
  auto acked_count = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  std::thread writer([&] {
    for (unsigned n = 0; !stop; ++n) {
      std::string id = RecordId(0xa, n);
      Reply r = Agent("a").Put("/v1/records/" + id, Service(kOrgA, "Service " + std::to_string(n)));
      std::lock_guard lock(mu);
      if (r.status != 200) {
        error = "PUT " + id + ": " + r.Describe();
        return;
      }
      acked.push_back(id);
    }
  });

  bool streaming = WaitFor([&] { return acked_count() >= 30; }, seconds(20));
  broker_->Kill();
  bool while_down = WaitFor([&] { return acked_count() >= 60; }, seconds(20));
  Status restarted = broker_->Start();
  bool after = WaitFor([&] { return acked_count() >= 90; }, seconds(20));
  stop = true;
  writer.join();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_TRUE(streaming && while_down && after)
      << "only " << acked.size() << " writes acknowledged";

  // Every acknowledged write reaches the broker and B, with its value.
  EXPECT_TRUE(WaitUntilOutboxEmpty(Agent("a"), seconds(30)))
      << "A's outbox did not drain: " << AgentStatus(Agent("a")).dump();
  EXPECT_TRUE(WaitUntilCaughtUp(Agent("b"), *broker_, seconds(30)))
      << AgentStatus(Agent("b")).dump();
  EXPECT_GE(U64(broker_->ApiStatus(), "records"), acked.size());
  std::vector<std::string> missing;
  for (size_t n = 0; n < acked.size(); ++n) {
    json f = FieldOf(Agent("b"), acked[n], "name");
    if (!f.is_object() || f["value"] != "Service " + std::to_string(n)) missing.push_back(acked[n]);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << acked.size()
                               << " acknowledged edits never reached B, e.g. " << missing.front();
  Reply rejections = Agent("a").Get("/v1/rejections");
  EXPECT_EQ(rejections.body["rejections"].size(), 0u) << rejections.raw;
}

// ---------- 4. agent crash with a full outbox ----------

TEST_F(SyncTest, EditsInAKilledAgentsOutboxArriveAfterItRestarts) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ExpectReady("a");
  ExpectReady("b");

  Result<int> stopped = broker_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  const unsigned kEdits = 10;
  for (unsigned n = 0; n < kEdits; ++n) {
    ASSERT_NO_FATAL_FAILURE(
        Put("a", RecordId(0xb, n), Service(kOrgA, "Queued " + std::to_string(n))));
  }
  EXPECT_EQ(U64(AgentStatus(Agent("a")), "outbox_depth"), kEdits) << AgentStatus(Agent("a")).dump();
  Agent("a").Kill();

  Status restarted = broker_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));

  for (unsigned n = 0; n < kEdits; ++n) {
    ExpectSees("b", RecordId(0xb, n), "name", "Queued " + std::to_string(n), seconds(20));
  }
  EXPECT_TRUE(WaitUntilOutboxEmpty(Agent("a"))) << AgentStatus(Agent("a")).dump();
}

// ---------- 5. unenrolled keys ----------

TEST_F(SyncTest, AnUnenrolledKeyIsRefusedBeforeItSeesAnyData) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ASSERT_TRUE(WaitFor([&] { return U64(broker_->ApiStatus(), "records") >= 1; }, seconds(10)));

  Status made = InitDataDir(Dir("x"), kOrgX);
  ASSERT_TRUE(made.ok()) << made.ToString();
  ASSERT_NO_FATAL_FAILURE(StartAgent("x"));

  auto last_error = [&] {
    json s = AgentStatus(Agent("x"));
    return s.is_object() && s["sync"].is_object() ? s["sync"].value("last_error", "") : "";
  };
  EXPECT_TRUE(
      WaitFor([&] { return last_error().find("refused") != std::string::npos; }, seconds(10)))
      << "last_error: " << last_error();
  // However long it keeps trying, it gets nowhere.
  EXPECT_FALSE(WaitFor([&] { return SyncState(Agent("x")) == "ready"; }, seconds(3)));
  json status = AgentStatus(Agent("x"));
  EXPECT_EQ(U64(status, "records"), 0u) << status.dump();
  EXPECT_EQ(U64(status, "cursor"), 0u) << status.dump();
  EXPECT_EQ(Agent("x").Get("/v1/records/" + kOrgA).status, 404);
  json sessions = broker_->ApiStatus()["agents"];
  for (const auto& session : sessions) EXPECT_NE(session["org"], kOrgX);
}

// Regression (issue 16): every failed handshake was reported as a key mismatch ("is
// --broker-key the broker's identity.pub?"), also when nothing but a TCP relay whose broker was
// down answered. The agent now tells the two apart by whether a broker greeted at all.
TEST_F(SyncTest, AFailedHandshakeSaysWhetherABrokerAnsweredOrTheConnectionClosedFirst) {
  Status made = InitDataDir(Dir("a"), kOrgA);
  ASSERT_TRUE(made.ok()) << made.ToString();
  ASSERT_TRUE(broker_->Enroll(Dir("a"), "partner").ok());
  ASSERT_TRUE(InitDataDir(Dir("other-broker"), "coordinator", /*broker=*/true).ok());
  std::vector<std::string> args = broker_->AgentArgs();  // --broker E --broker-key K
  ASSERT_EQ(args.size(), 4u);
  auto last_error = [&] {
    json s = AgentStatus(Agent("a"));
    return s.is_object() && s["sync"].is_object() ? s["sync"].value("last_error", "") : "";
  };
  auto start = [&](const std::vector<std::string>& a) {
    auto p = AgentProcess::Start(Dir("a"), a);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    agents_["a"] = std::move(p).value();
  };

  // The real broker, pinned with another broker's key.
  ASSERT_NO_FATAL_FAILURE(
      start({args[0], args[1], args[2], Dir("other-broker") + "/identity.pub"}));
  EXPECT_TRUE(
      WaitFor([&] { return last_error().find("--broker-key") != std::string::npos; }, seconds(10)))
      << last_error();
  EXPECT_NE(last_error().find("answered"), std::string::npos) << last_error();
  ASSERT_TRUE(Agent("a").Stop().ok());

  // A relay whose broker is down: it accepts each connection and closes it at once.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  std::thread relay([&] {
    while (!stop) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) continue;
      ++accepted;
      ::close(c);
    }
  });
  std::string relay_endpoint = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  ASSERT_NO_FATAL_FAILURE(start({args[0], relay_endpoint, args[2], args[3]}));
  bool said = WaitFor(
      [&] { return last_error().find("closed before any broker answered") != std::string::npos; },
      seconds(10));
  std::string error = last_error();
  stop = true;
  relay.join();
  ::close(fd);
  EXPECT_TRUE(said) << error;
  EXPECT_EQ(error.find("--broker-key"), std::string::npos) << error;
  EXPECT_GT(accepted.load(), 0);
}

// ---------- 6. revocation ----------

TEST_F(SyncTest, ARevokedKeyIsCutOffWhileOthersCarryOn) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer"));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ExpectSees("b", kOrgA, "name", "Harbor Light Shelter");

  auto revoked = RunSwitchboard({"enroll", "revoke", "--data", broker_->data_dir(), kOrgA});
  ASSERT_TRUE(revoked.ok() && revoked->exit_code == 0)
      << (revoked.ok() ? revoked->output : revoked.status().ToString());

  EXPECT_TRUE(WaitFor([&] { return SyncState(Agent("a")) != "ready"; }, seconds(5)))
      << "A is still connected: " << AgentStatus(Agent("a")).dump();
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Taken Over")));
  // Others carry on: the maintainer's later edit reaches B ...
  ASSERT_NO_FATAL_FAILURE(Put("m", kOrgM, Organization("Network Coordination")));
  ExpectSees("b", kOrgM, "name", "Network Coordination");
  // ... but the revoked organization's does not, however long B waits.
  EXPECT_FALSE(WaitFor([&] { return FieldOf(Agent("b"), kOrgA, "name")["value"] == "Taken Over"; },
                       seconds(3)));
  EXPECT_NE(SyncState(Agent("a")), "ready");
  EXPECT_EQ(SyncState(Agent("b")), "ready");
  EXPECT_EQ(SyncState(Agent("m")), "ready");
  json sessions = broker_->ApiStatus()["agents"];
  for (const auto& session : sessions) EXPECT_NE(session["org"], kOrgA);
  std::printf("revoked agent: %s\n", AgentStatus(Agent("a"))["sync"].dump().c_str());
}

TEST_F(SyncTest, ARevocationOutlastsABrokerRestart) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ExpectReady("a");
  ASSERT_TRUE(broker_->Revoke(kOrgA).ok());
  EXPECT_TRUE(WaitFor([&] { return SyncState(Agent("a")) != "ready"; }, seconds(5)));

  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(Agent("a").Stop().ok());
  Status restarted = broker_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));  // a fresh session, not one that remembers
  EXPECT_FALSE(WaitFor([&] { return SyncState(Agent("a")) == "ready"; }, seconds(3)))
      << AgentStatus(Agent("a")).dump();
  EXPECT_EQ(broker_->ApiStatus()["agents"].size(), 0u) << broker_->ApiStatus().dump();
}

TEST_F(SyncTest, AnAgentStartedBeforeItsKeyWasEnrolledConnectsOnceItIs) {
  Status made = InitDataDir(Dir("x"), kOrgX);
  ASSERT_TRUE(made.ok()) << made.ToString();
  ASSERT_NO_FATAL_FAILURE(StartAgent("x"));
  ASSERT_TRUE(WaitFor([&] {
    return !AgentStatus(Agent("x"))["sync"]["last_error"].get<std::string>().empty();
  })) << AgentStatus(Agent("x")).dump();

  ASSERT_TRUE(broker_->Enroll(Dir("x"), "partner").ok());
  ExpectReady("x");
}

// ---------- 7. ownership ----------

TEST_F(SyncTest, AnEditOfAnotherOrganizationsRecordIsRefusedAndTakenBack) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ExpectSees("b", kOrgA, "name", "Harbor Light Shelter");

  // B's agent takes the edit locally; the broker refuses it.
  ASSERT_NO_FATAL_FAILURE(Put("b", kOrgA, {{"fields", {{"name", "Hijacked"}}}}));
  ExpectSees("b", kOrgA, "name", "Harbor Light Shelter");
  json listed;
  EXPECT_TRUE(WaitFor(
      [&] {
        listed = Agent("b").Get("/v1/rejections").body;
        return listed.is_object() && !listed["rejections"].empty();
      },
      seconds(10)));
  ASSERT_FALSE(listed["rejections"].empty());
  const json& rejection = listed["rejections"][0];
  EXPECT_NE(rejection["reason"].get<std::string>().find("owner"), std::string::npos) << rejection;
  EXPECT_EQ(rejection["records"], json::array({kOrgA})) << rejection;

  // B's next, legitimate edit went after the refused one: once A has it, A would have the
  // refused one too, had the broker let it through.
  ASSERT_NO_FATAL_FAILURE(Put("b", kOrgB, Organization("Tumaini Legal Aid")));
  ExpectSees("a", kOrgB, "name", "Tumaini Legal Aid");
  EXPECT_EQ(FieldOf(Agent("a"), kOrgA, "name")["value"], "Harbor Light Shelter");
  EXPECT_EQ(FieldOf(Agent("a"), kOrgA, "name")["siblings"], nullptr);
}

// ---------- 8. confidential addresses ----------

TEST_F(SyncTest, AConfidentialAddressNeverReachesOtherPartners) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer"));
  const std::string shelter = RecordId(0xc, 1);
  ASSERT_NO_FATAL_FAILURE(Put("a", shelter,
                              {{"kind", "location"},
                               {"fields",
                                {{"organization_id", kOrgA},
                                 {"name", "Safe House"},
                                 {"city", "Springfield"},
                                 {"address_confidential", true},
                                 {"address_1", "12 Hidden Lane"}}}}));
  // A later edit of the address alone (its own delta) is judged by the record's state.
  ASSERT_NO_FATAL_FAILURE(Put("a", shelter, {{"fields", {{"address_1", "14 Hidden Lane"}}}}));
  ASSERT_NO_FATAL_FAILURE(Put("a", shelter, {{"fields", {{"name", "Safe House North"}}}}));

  ExpectSees("m", shelter, "address_1", "14 Hidden Lane");
  ExpectSees("b", shelter, "name", "Safe House North");
  json seen = RecordOf(Agent("b"), shelter);
  EXPECT_FALSE(seen["fields"].contains("address_1")) << seen.dump(2);
  EXPECT_EQ(seen["fields"]["city"]["value"], "Springfield");
  Reply exported = Agent("b").Get("/v1/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.raw.find("Hidden Lane"), std::string::npos);

  // Nowhere on B's disk either; the maintainer's disk shows the scan would find it.
  ASSERT_TRUE(Agent("b").Stop().ok());
  ASSERT_TRUE(Agent("m").Stop().ok());
  EXPECT_EQ(FileContaining(Dir("b"), "Hidden Lane"), "");
  EXPECT_NE(FileContaining(Dir("m"), "Hidden Lane"), "");
}

TEST_F(SyncTest, ASnapshotForAnAgentBehindTheRetainedLogLeavesOutConfidentialAddresses) {
  ASSERT_TRUE(broker_->Stop().ok());
  Status restarted = broker_->Start({"--log-retention", "2"});
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  const std::string shelter = RecordId(0xc, 2);
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ASSERT_NO_FATAL_FAILURE(Put("a", shelter,
                              {{"kind", "location"},
                               {"fields",
                                {{"organization_id", kOrgA},
                                 {"name", "Safe House"},
                                 {"address_confidential", true},
                                 {"address_1", "12 Hidden Lane"}}}}));
  for (int i = 0; i < 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        Put("a", kOrgA, {{"fields", {{"description", "edit " + std::to_string(i)}}}}));
  }
  ASSERT_TRUE(WaitUntilOutboxEmpty(Agent("a")));
  ASSERT_GT(U64(broker_->ApiStatus(), "log_start"), 1u) << broker_->ApiStatus().dump();

  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ExpectSees("b", kOrgA, "description", "edit 4");
  ExpectSees("b", shelter, "name", "Safe House");
  // B started at cursor 0 with entries 1.. trimmed: only a snapshot can have brought these.
  EXPECT_GE(U64(broker_->ApiStatus(), "snapshots"), 1u) << broker_->ApiStatus().dump();
  EXPECT_EQ(U64(AgentStatus(Agent("b")), "records"), 2u) << AgentStatus(Agent("b")).dump();
  json seen = RecordOf(Agent("b"), shelter);
  EXPECT_FALSE(seen["fields"].contains("address_1")) << seen.dump(2);
  // And it carries on from the log after the snapshot.
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, {{"fields", {{"description", "after the snapshot"}}}}));
  ExpectSees("b", kOrgA, "description", "after the snapshot");
  ASSERT_TRUE(Agent("b").Stop().ok());
  EXPECT_EQ(FileContaining(Dir("b"), "Hidden Lane"), "");
}

// ---------- 9. concurrent edits ----------

TEST_F(SyncTest, ConcurrentEditsByOwnerAndMaintainerBecomeTheSameSiblingsEverywhere) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(Join("m", kOrgM, "maintainer"));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light")));
  ExpectSees("m", kOrgA, "name", "Harbor Light");
  ExpectSees("b", kOrgA, "name", "Harbor Light");

  // With the broker down neither writer can see the other's edit: they are concurrent.
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, {{"fields", {{"name", "Harbor Light Shelter"}}}}));
  ASSERT_NO_FATAL_FAILURE(Put("m", kOrgA, {{"fields", {{"name", "Harbor Light (vetted)"}}}}));
  Status restarted = broker_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();

  std::map<std::string, json> shown;
  for (const char* name : {"a", "b", "m"}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          json f = FieldOf(Agent(name), kOrgA, "name");
          return f.is_object() && f.value("conflict", false) && f["siblings"].size() == 2;
        },
        seconds(15)))
        << name << ": " << RecordOf(Agent(name), kOrgA).dump(2);
    shown[name] = FieldOf(Agent(name), kOrgA, "name");
  }
  std::set<json> values;
  for (const auto& s : shown["a"]["siblings"]) values.insert(s["value"]);
  EXPECT_EQ(values, (std::set<json>{"Harbor Light Shelter", "Harbor Light (vetted)"}));
  EXPECT_EQ(shown["a"]["value"], shown["b"]["value"]);
  EXPECT_EQ(shown["a"]["value"], shown["m"]["value"]);
  EXPECT_EQ(shown["a"]["siblings"], shown["b"]["siblings"]);
  EXPECT_EQ(shown["a"]["siblings"], shown["m"]["siblings"]);
}

// ---------- 10. the status command ----------

TEST_F(SyncTest, TheStatusCommandShowsConnectionCursorOutboxAndLastSync) {
  ASSERT_NO_FATAL_FAILURE(Join("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  ASSERT_TRUE(WaitUntilOutboxEmpty(Agent("a"))) << AgentStatus(Agent("a")).dump();
  ASSERT_TRUE(WaitUntilCaughtUp(Agent("a"), *broker_)) << AgentStatus(Agent("a")).dump();

  auto out = RunSwitchboard({"status", "--data", Dir("a")});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  const std::string& text = out->output;
  std::printf("%s", text.c_str());
  EXPECT_NE(text.find(broker_->endpoint() + "  ready as partner"), std::string::npos) << text;
  EXPECT_NE(text.find("cursor      1"), std::string::npos) << text;
  EXPECT_NE(text.find("log         1 of 1"), std::string::npos) << text;
  EXPECT_NE(text.find("outbox      0 edit(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("last sync   20"), std::string::npos) << text;  // an ISO time, not "never"
}

}  // namespace
}  // namespace sb::testing

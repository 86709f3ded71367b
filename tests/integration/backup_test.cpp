// Backup and restore with real processes (store/backup.h): `switchboard backup` of a running
// agent and a running broker while edits flow, `switchboard restore`, and the restored
// process rejoining: an agent restored from an old backup catches up; a broker restored from
// an older backup is brought forward by its agents, so that every acknowledged edit is held by
// the broker and every agent afterwards. Nothing sleeps to synchronize: waits poll with
// deadlines.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "base/files.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;
namespace fs = std::filesystem;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgB = "22222222-2222-4222-8222-222222222222";
const std::string kOrgM = "44444444-4444-4444-8444-444444444444";  // maintainers
const std::string kOrgN = "66666666-6666-4666-8666-666666666666";  // a second maintainer agent

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

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = BrokerProcess::Create(tmp_ / "broker");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    ASSERT_TRUE(broker_->Start().ok());
    ASSERT_TRUE(WriteSecretFile(Passphrase(), "a long backup passphrase\n").ok());
  }

  void TearDown() override {
    if (!HasFailure()) return;
    std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 4000) << "\n";
    for (const auto& [name, a] : agents_) {
      std::cerr << "--- " << name << ".log ---\n" << Tail(tmp_ / (name + ".log"), 3000) << "\n";
    }
  }

  std::string Dir(const std::string& name) const { return tmp_ / name; }
  std::string Passphrase() const { return tmp_ / "passphrase"; }

  void Init(const std::string& name, const std::string& org, const std::string& role) {
    ASSERT_TRUE(InitDataDir(Dir(name), org).ok());
    Status enrolled = broker_->Enroll(Dir(name), role);
    ASSERT_TRUE(enrolled.ok()) << enrolled.ToString();
  }
  void StartAgent(const std::string& name) {
    auto a = StartSyncingAgent(Dir(name), *broker_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agents_[name] = std::move(a).value();
    ASSERT_TRUE(WaitUntilSyncReady(*agents_[name], seconds(20))) << name;
  }
  AgentProcess& Agent(const std::string& name) { return *agents_.at(name); }

  // PUT, remembered as acknowledged when the agent answers 200.
  bool Put(const std::string& name, const std::string& id, const json& body) {
    Reply r = Agent(name).Put("/v1/records/" + id, body);
    if (r.status != 200) return false;
    std::lock_guard<std::mutex> lock(acked_mu_);
    acked_[id] = body["fields"]["name"].get<std::string>();
    return true;
  }

  // Writes `n` services of `org` through agent `name` on another thread.
  std::thread Writer(const std::string& name, const std::string& org, unsigned tag, unsigned n) {
    return std::thread([this, name, org, tag, n] {
      for (unsigned i = 0; i < n; ++i) {
        Put(name, RecordId(tag, i), Service(org, name + " service " + std::to_string(i)));
      }
    });
  }

  CommandOutput Run(const std::vector<std::string>& args) {
    auto out = RunSwitchboard(args, seconds(120));
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : CommandOutput{};
  }

  CommandOutput Backup(const std::string& dir, const std::string& file) {
    return Run({"backup", "--data", dir, "--out", file, "--with-keys", "--passphrase-file",
                Passphrase(), "--kdf-cost", "interactive", "--json"});
  }
  CommandOutput Restore(const std::string& file, const std::string& dir) {
    return Run({"restore", "--from", file, "--data", dir, "--passphrase-file", Passphrase()});
  }

  // Every acknowledged edit shows on `name`.
  void ExpectHoldsEveryAcknowledgedEdit(const std::string& name) {
    std::map<std::string, std::string> acked;
    {
      std::lock_guard<std::mutex> lock(acked_mu_);
      acked = acked_;
    }
    auto holds = [&](const std::string& id, const std::string& value) {
      json f = FieldOf(Agent(name), id, "name");
      return f.is_object() && f.value("value", json()) == value;
    };
    WaitFor(
        [&] {
          for (const auto& [id, value] : acked) {
            if (!holds(id, value)) return false;
          }
          return true;
        },
        seconds(30));
    size_t lost = 0;
    for (const auto& [id, value] : acked) {
      if (holds(id, value)) continue;
      if (++lost <= 5)
        ADD_FAILURE() << name << " lost " << id << " = " << value << "; it has "
                      << RecordOf(Agent(name), id);
    }
    EXPECT_EQ(lost, 0u) << name << " lost " << lost << " of " << acked.size()
                        << " acknowledged edits";
  }

  TempDir tmp_;
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
  std::mutex acked_mu_;
  std::map<std::string, std::string> acked_;  // record id -> acknowledged name
};

TEST_F(BackupTest, ABackupOfARunningAgentIsPrivateAndARestoredAgentCatchesUp) {
  ASSERT_NO_FATAL_FAILURE(Init("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Init("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  ASSERT_TRUE(Put("a", kOrgA, Organization("Harbor Light")));

  // Backed up while it takes edits.
  std::thread w = Writer("a", kOrgA, 0xa, 40);
  CommandOutput out = Backup(Dir("a"), tmp_ / "a.sbk");
  w.join();
  ASSERT_EQ(out.exit_code, 0) << out.output;
  json j = json::parse(out.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << out.output;
  EXPECT_EQ(j["source"], "the running agent");
  struct stat st {};
  ASSERT_EQ(::stat((tmp_ / "a.sbk").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second backup to the same file is refused.
  EXPECT_NE(Backup(Dir("a"), tmp_ / "a.sbk").exit_code, 0);

  // More edits after the backup, then the agent's disk is lost.
  std::thread w2 = Writer("a", kOrgA, 0xaa, 20);
  w2.join();
  ASSERT_TRUE(WaitUntilOutboxEmpty(Agent("a")));
  ASSERT_TRUE(Agent("a").Stop().ok());
  fs::rename(Dir("a"), Dir("a.lost"));

  // A restore into a non-empty directory changes nothing.
  fs::create_directory(Dir("busy"));
  std::ofstream(Dir("busy") + "/x") << "x";
  CommandOutput refused = Restore(tmp_ / "a.sbk", Dir("busy"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("not empty"), std::string::npos) << refused.output;

  CommandOutput restored = Restore(tmp_ / "a.sbk", Dir("a"));
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  ASSERT_TRUE(WaitUntilCaughtUp(Agent("a"), *broker_, seconds(30)));
  ExpectHoldsEveryAcknowledgedEdit("a");
  // Once caught up it takes edits again (refused with 503 only until then), and they flow.
  bool accepted =
      WaitFor([&] { return Put("a", RecordId(0xab, 1), Service(kOrgA, "after the restore")); },
              seconds(20));
  ASSERT_TRUE(accepted) << AgentStatus(Agent("a")).dump();
  EXPECT_TRUE(WaitForValue(Agent("b"), RecordId(0xab, 1), "name", "after the restore"));
  ExpectHoldsEveryAcknowledgedEdit("b");
}

TEST_F(BackupTest, ABrokerRestoredFromAnOlderBackupIsBroughtForwardByItsAgents) {
  ASSERT_NO_FATAL_FAILURE(Init("a", kOrgA, "partner"));
  ASSERT_NO_FATAL_FAILURE(Init("b", kOrgB, "partner"));
  ASSERT_NO_FATAL_FAILURE(Init("m", kOrgM, "maintainer"));
  // Enrolled before the backup, started only after the restore: it learns everything from
  // the restored broker, so it shows what the broker holds.
  ASSERT_NO_FATAL_FAILURE(Init("n", kOrgN, "maintainer"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("m"));
  ASSERT_TRUE(Put("a", kOrgA, Organization("Harbor Light")));
  ASSERT_TRUE(Put("b", kOrgB, Organization("Safe Passage")));

  // The broker is backed up while edits flow from both partners.
  std::thread wa = Writer("a", kOrgA, 0xa, 30);
  std::thread wb = Writer("b", kOrgB, 0xb, 30);
  CommandOutput out = Backup(broker_->data_dir(), tmp_ / "broker.sbk");
  wa.join();
  wb.join();
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(json::parse(out.output, nullptr, false)["source"], "the running broker");

  // After the backup: a partner renames its listing (a record the backup holds), more
  // partner edits, and a maintainer's new services.
  ASSERT_TRUE(Put("a", kOrgA, Organization("Harbor Light Shelter")));
  std::thread wa2 = Writer("a", kOrgA, 0xa2, 20);
  std::thread wb2 = Writer("b", kOrgB, 0xb2, 20);
  std::thread wm = std::thread([&] {
    for (unsigned i = 0; i < 10; ++i) {
      Put("m", RecordId(0xc, i), Service(kOrgB, "maintainer's service " + std::to_string(i)));
    }
  });
  wa2.join();
  wb2.join();
  wm.join();
  for (const char* n : {"a", "b", "m"}) ASSERT_TRUE(WaitUntilOutboxEmpty(Agent(n))) << n;
  size_t acked_total = acked_.size();
  ASSERT_GE(acked_total, 100u);

  // The broker's disk is lost; it comes back from the older backup.
  ASSERT_TRUE(broker_->Stop().ok());
  fs::rename(broker_->data_dir(), Dir("broker.lost"));
  CommandOutput restored = Restore(tmp_ / "broker.sbk", broker_->data_dir());
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  ASSERT_TRUE(broker_->Start().ok());

  // The agents see another log, re-send what they wrote, and read it again from its start.
  for (const char* n : {"a", "b", "m"}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          json s = AgentStatus(Agent(n));
          return s.is_object() && s["sync"].is_object() && s["sync"]["state"] == "ready" &&
                 s.value("outbox_depth", json(1)) == 0;
        },
        seconds(30)))
        << n << ": " << AgentStatus(Agent(n)).dump();
  }
  ASSERT_NO_FATAL_FAILURE(StartAgent("n"));
  for (const char* n : {"n", "a", "b", "m"}) {
    ASSERT_TRUE(WaitUntilCaughtUp(Agent(n), *broker_, seconds(30))) << n;
    ExpectHoldsEveryAcknowledgedEdit(n);
  }
  json rejected = Agent("a").Get("/v1/rejections").body;
  EXPECT_TRUE(rejected.is_object() && rejected["rejections"].empty()) << rejected.dump();

  // And the network goes on: a new edit reaches everyone.
  ASSERT_TRUE(Put("b", RecordId(0xbb, 1), Service(kOrgB, "after the restore")));
  for (const char* n : {"a", "m", "n"}) {
    EXPECT_TRUE(WaitForValue(Agent(n), RecordId(0xbb, 1), "name", "after the restore")) << n;
  }
}

}  // namespace
}  // namespace sb::testing

// A real `switchboard agent` whose data directory is a small tmpfs, filled up by a file: edits
// are refused with HTTP 507 and a message that says what to do, reads go on, the process stays
// up; once the file is removed, edits are taken again — without a restart — and reach the
// broker and a maintainer's agent. Needs root (mount); skipped with the reason otherwise.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;
namespace fs = std::filesystem;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgM = "44444444-4444-4444-8444-444444444444";

json Organization(const std::string& name) {
  return {{"kind", "organization"}, {"fields", {{"name", name}}}};
}

std::string ErrorMessage(const Reply& r) {
  return r.body.is_object() && r.body.contains("error") && r.body["error"].is_object()
             ? r.body["error"].value("message", "")
             : r.raw;
}

// Writes `path` until the file system is full; the errno that stopped it (ENOSPC expected).
int FillUp(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return errno;
  std::string chunk(64 << 10, 'x');
  int err = 0;
  for (;;) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size() || std::fflush(f) != 0) {
      err = errno;
      break;
    }
  }
  std::fclose(f);
  return err;
}

class DiskFull : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      if (broker_) std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
      std::cerr << "--- a.log ---\n" << Tail(tmp_ / "a.log", 4000) << "\n";
    }
    agents_.clear();
    broker_.reset();
    if (!mounted_.empty()) ::umount2(mounted_.c_str(), MNT_DETACH);
  }

  TempDir tmp_;
  std::string mounted_;
  std::unique_ptr<BrokerProcess> broker_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

TEST_F(DiskFull, AnAgentOnAFullDiskRefusesEditsWith507ReadsGoOnAndItSyncsOnceThereIsRoom) {
  std::string dir = tmp_ / "a";
  fs::create_directories(dir);
  // 12 MiB: smaller than the write-ahead log RocksDB would preallocate (17.6 MiB for a 16 MiB
  // memtable), so the log grows with what is written and feels the full disk at once.
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=12m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs for the agent's data directory ("
                 << std::strerror(errno) << "): this test needs root (CAP_SYS_ADMIN)";
  }
  mounted_ = dir;
  auto b = BrokerProcess::Create(tmp_ / "broker");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  broker_ = std::move(b).value();
  ASSERT_TRUE(broker_->Start().ok());
  for (auto [name, org, role] : {std::tuple{"a", kOrgA, "partner"}, {"m", kOrgM, "maintainer"}}) {
    std::string d = tmp_ / name;
    Status made = InitDataDir(d, org);
    ASSERT_TRUE(made.ok()) << made.ToString();
    ASSERT_TRUE(broker_->Enroll(d, role).ok());
    auto agent = StartSyncingAgent(d, *broker_);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agents_.push_back(std::move(agent).value());
  }
  AgentProcess& a = *agents_[0];
  AgentProcess& m = *agents_[1];
  ASSERT_TRUE(WaitUntilSyncReady(a));
  Reply put = a.Put("/v1/records/" + kOrgA, Organization("Harbor Light"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  ASSERT_TRUE(WaitForValue(m, kOrgA, "name", "Harbor Light", seconds(15)));

  std::string filler = dir + "/filler";
  ASSERT_EQ(FillUp(filler), ENOSPC);
  // What is left is the unused tail of the pages the store's files already hold: an edit or
  // two may still fit there (and is taken, durably). Each edit is taken (200) or refused
  // (507); a few dozen 4 kB descriptions cannot all fit.
  int taken = 0;
  for (; taken < 64; ++taken) {
    json edit = Organization("Harbor Light");
    edit["fields"]["description"] = std::string(3900, 'a' + taken % 26);
    put = a.Put("/v1/records/" + kOrgA, edit);
    if (put.status != 200) break;
  }
  EXPECT_EQ(put.status, 507) << "after " << taken << " edits taken: " << put.Describe();
  std::string why = ErrorMessage(put);
  EXPECT_NE(why.find("is full"), std::string::npos) << why;
  EXPECT_NE(why.find("free space"), std::string::npos) << why;
  EXPECT_NE(why.find("resumes by itself"), std::string::npos) << why;
  // Still refused while full; reads go on; the process is up.
  put = a.Put("/v1/records/" + kOrgA, Organization("Harbor Light Shelter"));
  EXPECT_EQ(put.status, 507) << put.Describe();
  json shown = FieldOf(a, kOrgA, "name");
  ASSERT_TRUE(shown.is_object()) << RecordOf(a, kOrgA).dump();
  EXPECT_EQ(shown.value("value", ""), "Harbor Light");
  EXPECT_EQ(a.Get("/v1/status").status, 200);
  EXPECT_EQ(a.Get("/healthz").status, 200);

  fs::remove(filler);  // the space returns: no restart
  put = a.Put("/v1/records/" + kOrgA, Organization("Harbor Light Shelter"));
  EXPECT_EQ(put.status, 200) << put.Describe();
  EXPECT_TRUE(WaitUntilOutboxEmpty(a));
  EXPECT_TRUE(WaitForValue(m, kOrgA, "name", "Harbor Light Shelter", seconds(15)))
      << RecordOf(m, kOrgA).dump();
  EXPECT_EQ(FieldOf(a, kOrgA, "name").value("value", ""), "Harbor Light Shelter");
  std::cerr << taken << " edit(s) still fitted in the full file system before the first 507\n";
}

}  // namespace
}  // namespace sb::testing

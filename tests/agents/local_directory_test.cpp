#include "agents/local_directory.h"

#include <gtest/gtest.h>

#include <thread>

#include "agents/hsds_json.h"
#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using testing::TempDir;

constexpr ReplicaId kReplica = 0x5b;
constexpr uint64_t kStart = 1'790'000'000'000;

std::string Id(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-000000000000", static_cast<unsigned>(n));
  return buf;
}

RecordEdit Org(const std::string& id, const std::string& name) {
  RecordEdit e;
  e.id = id;
  e.kind = "organization";
  e.values["name"] = name;
  e.values["owner"] = id;
  return e;
}

// A store and a LocalDirectory over it, reopenable in place.
class LocalDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    dir_.reset();
    store_.reset();
    StoreOptions o;
    o.create_if_missing = true;
    auto s = Store::Open(tmp_ / "db", o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto d = LocalDirectory::Open(store_.get(), &clock_, {kReplica, 60'000});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dir_ = std::move(d).value();
  }

  std::optional<Value> Displayed(const std::string& id, const std::string& field) {
    return dir_->Read([&](const Directory& d) -> std::optional<Value> {
      const Record* r = d.Find(id);
      return r ? r->Displayed(field) : std::nullopt;
    });
  }
  size_t Size() {
    return dir_->Read([](const Directory& d) { return d.size(); });
  }

  TempDir tmp_;
  ManualClock clock_{kStart};
  std::unique_ptr<Store> store_;
  std::unique_ptr<LocalDirectory> dir_;
};

TEST_F(LocalDirectoryTest, OpenRefusesReplicaZero) {
  auto d = LocalDirectory::Open(store_.get(), &clock_, {0, 60'000});
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
}

TEST_F(LocalDirectoryTest, AppliedEditIsVisibleAndSurvivesReopen) {
  auto out = dir_->Apply({Org(Id(1), "Casa Segura")}, "api");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].op, "create");
  EXPECT_EQ((*out)[0].changed, (std::vector<std::string>{"name", "owner"}));
  EXPECT_EQ(Displayed(Id(1), "name"), Value(std::string("Casa Segura")));
  Open();
  EXPECT_EQ(Displayed(Id(1), "name"), Value(std::string("Casa Segura")));
}

TEST_F(LocalDirectoryTest, RequestWithOneBadEditWritesNothing) {
  RecordEdit bad = Org(Id(3), "Bad phone owner");
  bad.kind = "phone";
  bad.values.clear();
  bad.values["number"] = std::string("no number at all");
  std::vector<RecordEdit> edits = {Org(Id(1), "First"), Org(Id(2), "Second"), bad};
  auto out = dir_->Apply(edits, "import");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_NE(out.status().message().find("record " + Id(3)), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("phone.number"), std::string::npos)
      << out.status().message();
  EXPECT_EQ(Size(), 0u);
  EXPECT_EQ(dir_->outbox_depth(), 0u);
  EXPECT_TRUE(dir_->History(Id(1))->empty());
  Open();
  EXPECT_EQ(Size(), 0u);
  EXPECT_FALSE(store_->GetRecord(Id(1))->has_value());
}

TEST_F(LocalDirectoryTest, LaterEditsInOneRequestSeeTheEarlierOnes) {
  RecordEdit rename = Org(Id(1), "Renamed");
  auto out = dir_->Apply({Org(Id(1), "Created"), rename}, "import");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].op, "create");
  EXPECT_EQ((*out)[1].op, "update");
  EXPECT_EQ(Displayed(Id(1), "name"), Value(std::string("Renamed")));
}

TEST_F(LocalDirectoryTest, ConcurrentRequestsFromEightThreadsAreAllDurable) {
  constexpr int kThreads = 8, kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        auto out = dir_->Apply({Org(Id(n), "org " + std::to_string(n))}, "api");
        if (!out.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(dir_->outbox_depth(), uint64_t{kThreads * kPerThread});
  Open();
  EXPECT_EQ(Size(), size_t{kThreads * kPerThread});
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    EXPECT_EQ(Displayed(Id(n), "name"), Value("org " + std::to_string(n))) << n;
  }
  EXPECT_EQ(dir_->outbox_depth(), uint64_t{kThreads * kPerThread});
}

TEST_F(LocalDirectoryTest, ABadRequestInAGroupDoesNotSinkTheOthers) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RecordEdit e = Org(Id(t), "org");
      if (t % 2) e.values["year_incorporated"] = int64_t{1066};  // below the 1800 minimum
      results[t] = dir_->Apply({e}, "api").status();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    if (t % 2) {
      EXPECT_EQ(results[t].code(), Code::kInvalidArgument) << t;
      EXPECT_FALSE(Displayed(Id(t), "name")) << t;
    } else {
      EXPECT_TRUE(results[t].ok()) << t << ": " << results[t].ToString();
      EXPECT_TRUE(Displayed(Id(t), "name")) << t;
    }
  }
}

TEST_F(LocalDirectoryTest, HistoryRecordsWhoWhenAndWhichFields) {
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "First")}, "api").ok());
  clock_.Advance(5000);
  RecordEdit update = Org(Id(1), "Second");
  update.values["year_incorporated"] = int64_t{2001};
  ASSERT_TRUE(dir_->Apply({update}, "import").ok());
  clock_.Advance(5000);
  RecordEdit del{Id(1), "organization", {}, {}, true, false};
  ASSERT_TRUE(dir_->Apply({del}, "api").ok());
  RecordEdit restore{Id(1), "organization", {}, {}, false, true};
  ASSERT_TRUE(dir_->Apply({restore}, "api").ok());

  auto h = dir_->History(Id(1));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->size(), 4u);
  EXPECT_EQ((*h)[0].op, "create");
  EXPECT_EQ((*h)[0].actor, "api");
  EXPECT_EQ((*h)[0].at_ms, kStart);
  EXPECT_EQ((*h)[0].replica, ReplicaHex(kReplica));
  EXPECT_EQ((*h)[0].fields, (std::vector<std::string>{"name", "owner"}));
  EXPECT_EQ((*h)[1].op, "update");
  EXPECT_EQ((*h)[1].actor, "import");
  EXPECT_EQ((*h)[1].at_ms, kStart + 5000);
  EXPECT_EQ((*h)[1].fields, (std::vector<std::string>{"name", "year_incorporated"}));
  EXPECT_EQ((*h)[2].op, "delete");
  EXPECT_EQ((*h)[3].op, "restore");
  for (size_t i = 1; i < h->size(); ++i) EXPECT_LT((*h)[i - 1].seq, (*h)[i].seq);
  EXPECT_TRUE(dir_->History(Id(2))->empty());
}

TEST_F(LocalDirectoryTest, OutboxGrowsPerChangingRequestOnly) {
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "a"), Org(Id(2), "b")}, "import").ok());
  EXPECT_EQ(dir_->outbox_depth(), 1u);
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "a2")}, "api").ok());
  EXPECT_EQ(dir_->outbox_depth(), 2u);
  auto same = dir_->Apply({Org(Id(1), "a2")}, "api");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)[0].op, "unchanged");
  EXPECT_EQ(dir_->outbox_depth(), 2u);
  Open();
  EXPECT_EQ(dir_->outbox_depth(), 2u);
}

// An acknowledgement of an entry already settled (a replayed push answered again, or one
// entry answered twice in one ack) removes nothing and must not lower the outbox depth.
TEST_F(LocalDirectoryTest, AnAnswerForAnEntryAlreadySettledLeavesTheDepthAlone) {
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "a")}, "api").ok());
  ASSERT_TRUE(dir_->Apply({Org(Id(2), "b")}, "api").ok());
  auto entries = dir_->Outbox(0, 10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  uint64_t first = (*entries)[0].seq;
  PushOutcome ok{first, true, "", {}, 0};
  ASSERT_TRUE(dir_->SettleOutbox({ok, ok}).ok());
  EXPECT_EQ(dir_->outbox_depth(), 1u);
  ASSERT_TRUE(dir_->SettleOutbox({ok}).ok());
  EXPECT_EQ(dir_->outbox_depth(), 1u);
  Open();
  EXPECT_EQ(dir_->outbox_depth(), 1u);
}

TEST_F(LocalDirectoryTest, EditOfADeletedRecordIsRefusedUntilRestored) {
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "a")}, "api").ok());
  ASSERT_TRUE(dir_->Apply({RecordEdit{Id(1), "organization", {}, {}, true, false}}, "api").ok());
  auto edit = dir_->Apply({Org(Id(1), "b")}, "api");
  EXPECT_EQ(edit.status().code(), Code::kFailedPrecondition);
  auto again = dir_->Apply({RecordEdit{Id(1), "organization", {}, {}, true, false}}, "api");
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  RecordEdit restore = Org(Id(1), "b");
  restore.restore = true;
  ASSERT_TRUE(dir_->Apply({restore}, "api").ok());
  EXPECT_EQ(Displayed(Id(1), "name"), Value(std::string("b")));
}

TEST_F(LocalDirectoryTest, ClockGoingBackAfterRestartStillOrdersNewWritesLast) {
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "before restart")}, "api").ok());
  clock_.Set(kStart - 30'000);
  Open();
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "after restart")}, "api").ok());
  EXPECT_EQ(Displayed(Id(1), "name"), Value(std::string("after restart")));
  auto h = dir_->History(Id(1));
  ASSERT_EQ(h->size(), 2u);
  EXPECT_GE((*h)[1].at_ms, (*h)[0].at_ms);
  EXPECT_NE((*h)[1].hlc, (*h)[0].hlc);
}

TEST_F(LocalDirectoryTest, KindChangeIsRefused) {
  ASSERT_TRUE(dir_->Apply({Org(Id(1), "a")}, "api").ok());
  RecordEdit e;
  e.id = Id(1);
  e.kind = "service";
  e.values["name"] = std::string("x");
  auto out = dir_->Apply({e}, "api");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
}

TEST_F(LocalDirectoryTest, EmptyRequestSucceedsAndWritesNothing) {
  auto out = dir_->Apply({}, "api");
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_EQ(dir_->outbox_depth(), 0u);
}

}  // namespace
}  // namespace sb

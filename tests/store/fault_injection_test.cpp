// The fault-injecting store (store/fault_injection.h) does what it promises: a failed commit
// writes nothing, and a power loss keeps exactly what was synced.
#include "store/fault_injection.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using testing::TempDir;

class FaultInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(bool sync = true) {
    store_.reset();
    StoreOptions o;
    o.create_if_missing = true;
    o.sync = sync;
    o.fault = &fault_;
    auto s = Store::Open(tmp_ / "db", o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  // The power goes: what was not synced is lost; then the store is opened again.
  void PowerLoss(bool sync = true) {
    fault_.Crash();
    store_.reset();
    Status dropped = fault_.DropUnsyncedData();
    ASSERT_TRUE(dropped.ok()) << dropped.ToString();
    Open(sync);
  }

  // Writes key and key+"/twin" in one batch.
  Status Write(const std::string& key) {
    WriteBatch b;
    b.Put(Cf::kMeta, key, "v-" + key);
    b.Put(Cf::kMeta, key + "/twin", "v-" + key);
    return store_->Commit(std::move(b));
  }

  // 1: both keys of the batch, 0: neither; anything else fails the test.
  int Has(const std::string& key) {
    auto a = store_->Get(Cf::kMeta, key);
    auto b = store_->Get(Cf::kMeta, key + "/twin");
    EXPECT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->has_value(), b->has_value()) << key << ": half a batch";
    return a->has_value() ? 1 : 0;
  }

  TempDir tmp_;
  FaultInjector fault_;
  std::unique_ptr<Store> store_;
};

TEST_F(FaultInjectionTest, TheNthCommitFailsWritesNothingAndTheStoreGoesOn) {
  fault_.FailCommit(2);
  ASSERT_TRUE(Write("a").ok());
  Status s = Write("b");
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_NE(s.message().find("injected"), std::string::npos) << s.ToString();
  EXPECT_EQ(Has("b"), 0);
  ASSERT_TRUE(Write("c").ok());
  EXPECT_EQ(fault_.injected(), 1u);
  Open();
  EXPECT_EQ(Has("a") + Has("b") + Has("c"), 2);
  EXPECT_EQ(Has("b"), 0);
}

TEST_F(FaultInjectionTest, AFailedWalSyncIsAnErrorAndThenTheStoreRefusesWritesUntilReopened) {
  ASSERT_TRUE(Write("a").ok());
  fault_.FailWalSync(1);
  Status s = Write("b");
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  EXPECT_EQ(fault_.injected(), 1u);
  // RocksDB makes a failed WAL write a fatal background error: reads go on, writes stop.
  EXPECT_EQ(Has("a"), 1);
  EXPECT_FALSE(Write("c").ok());
  Open();
  EXPECT_EQ(Has("a"), 1);
  Has("b");  // reached the OS, never synced: whole or absent after a plain restart
  EXPECT_EQ(Has("c"), 0);
  EXPECT_TRUE(Write("d").ok());
  EXPECT_EQ(Has("d"), 1);
}

TEST_F(FaultInjectionTest, APowerLossAfterAFailedWalSyncLosesThatBatchOnly) {
  ASSERT_TRUE(Write("a").ok());
  fault_.FailWalSync(1);
  EXPECT_FALSE(Write("b").ok());
  PowerLoss();
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b"), 0);
  EXPECT_TRUE(Write("c").ok());
}

TEST_F(FaultInjectionTest, AFailedWalAppendWritesNothing) {
  ASSERT_TRUE(Write("a").ok());
  fault_.FailWalAppend(1);
  EXPECT_EQ(Write("b").code(), Code::kIoError);
  Open();
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b"), 0);
}

TEST_F(FaultInjectionTest, APowerLossKeepsSyncedCommitsAndLosesUnsyncedOnes) {
  ASSERT_TRUE(Write("synced").ok());
  Open(/*sync=*/false);
  ASSERT_TRUE(Write("unsynced-1").ok());
  ASSERT_TRUE(Write("unsynced-2").ok());
  EXPECT_EQ(Has("unsynced-2"), 1);
  PowerLoss();
  EXPECT_EQ(Has("synced"), 1);
  EXPECT_EQ(Has("unsynced-1"), 0);
  EXPECT_EQ(Has("unsynced-2"), 0);
}

TEST_F(FaultInjectionTest, APowerLossWithNothingUnsyncedLosesNothing) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Write("k" + std::to_string(i)).ok());
  ASSERT_TRUE(store_->CompactAll().ok());  // table files and a new MANIFEST too
  ASSERT_TRUE(Write("after-compaction").ok());
  PowerLoss();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Has("k" + std::to_string(i)), 1) << i;
  EXPECT_EQ(Has("after-compaction"), 1);
}

TEST_F(FaultInjectionTest, AfterThePowerGoesEveryWriteFails) {
  fault_.Crash();
  EXPECT_FALSE(Write("a").ok());
  store_.reset();
  ASSERT_TRUE(fault_.DropUnsyncedData().ok());
  Open();
  EXPECT_EQ(Has("a"), 0);
  EXPECT_TRUE(Write("b").ok());
}

// Batch N of K fails its WAL sync, then the power goes: batches before it survive whole, it
// and the ones never attempted are absent — for every N.
TEST_F(FaultInjectionTest, FailingEachWalSyncInTurnKeepsExactlyTheBatchesBeforeIt) {
  constexpr int kBatches = 8;
  for (int n = 1; n <= kBatches; ++n) {
    std::string round = "r" + std::to_string(n) + "/";
    fault_.FailWalSync(n);
    int failed_at = 0;
    for (int i = 1; i <= kBatches && failed_at == 0; ++i) {
      if (!Write(round + std::to_string(i)).ok()) failed_at = i;
    }
    EXPECT_EQ(failed_at, n);
    PowerLoss();
    for (int i = 1; i <= kBatches; ++i) {
      EXPECT_EQ(Has(round + std::to_string(i)), i < n ? 1 : 0) << "round " << n << " batch " << i;
    }
  }
}

// ENOSPC: a clear refusal, reads go on, and writing resumes by itself once there is room;
// nothing refused ever shows up, nothing acknowledged is lost (also across a power loss).
TEST_F(FaultInjectionTest, ADiskFullRefusesWritesKeepsReadsAndWritingResumesWhenSpaceReturns) {
  ASSERT_TRUE(Write("a").ok());
  fault_.SetDiskFull(true);
  Status s = Write("b");
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("is full"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("free space"), std::string::npos) << s.ToString();
  EXPECT_EQ(store_->write_stopped().code(), Code::kNoSpace);
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b"), 0);
  EXPECT_EQ(Write("c").code(), Code::kNoSpace);  // still full: still refused
  EXPECT_EQ(Has("a"), 1);
  fault_.SetDiskFull(false);
  Status d = Write("d");
  EXPECT_TRUE(d.ok()) << d.ToString();
  EXPECT_TRUE(store_->write_stopped().ok());
  EXPECT_EQ(Has("b") + Has("c"), 0);
  EXPECT_EQ(Has("d"), 1);
  ASSERT_TRUE(Write("e").ok());
  PowerLoss();
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b") + Has("c"), 0);
  EXPECT_EQ(Has("d"), 1);
  EXPECT_EQ(Has("e"), 1);
}

// A disk that fills up while RocksDB flushes in the background (not during a commit): the
// next commit reports it, and writing resumes once there is room.
TEST_F(FaultInjectionTest, ADiskFullDuringAFlushIsReportedByTheNextCommitAndResumes) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Write("k" + std::to_string(i)).ok());
  fault_.SetDiskFull(true);
  EXPECT_FALSE(store_->CompactAll().ok());  // flushes first: the table file cannot be written
  Status s = Write("x");
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  fault_.SetDiskFull(false);
  Status y = Write("y");
  EXPECT_TRUE(y.ok()) << y.ToString();
  PowerLoss();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Has("k" + std::to_string(i)), 1) << i;
  EXPECT_EQ(Has("x"), 0);
  EXPECT_EQ(Has("y"), 1);
}

// EIO: refused as an I/O error (not as a full disk), reads go on; RocksDB deems a failed
// write-ahead log write fatal, so writes come back with a restart (whole or absent, never half).
TEST_F(FaultInjectionTest, AnIoErrorRefusesWritesAsAnIoErrorAndReadsGoOn) {
  ASSERT_TRUE(Write("a").ok());
  fault_.SetIoErrors(true);
  Status s = Write("b");
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("could not write to its disk"), std::string::npos) << s.ToString();
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b"), 0);
  fault_.SetIoErrors(false);
  Status again = Write("c");  // the disk is sound again, but RocksDB stopped for good
  EXPECT_EQ(again.code(), Code::kIoError) << again.ToString();
  EXPECT_EQ(Has("a"), 1);
  Open();
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b"), 0);
  ASSERT_TRUE(Write("d").ok());
  PowerLoss();
  EXPECT_EQ(Has("a"), 1);
  EXPECT_EQ(Has("b"), 0);
  EXPECT_EQ(Has("d"), 1);
}

TEST(FaultInjector, CountsWhatItSeesAndCancels) {
  TempDir tmp;
  FaultInjector fault;
  StoreOptions o;
  o.create_if_missing = true;
  o.fault = &fault;
  auto store = Store::Open(tmp / "db", o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  uint64_t commits = fault.commits(), syncs = fault.wal_syncs();
  fault.FailCommit(1);
  fault.FailCommit(0);  // cancelled
  WriteBatch b;
  b.Put(Cf::kMeta, "k", "v");
  EXPECT_TRUE((*store)->Commit(std::move(b)).ok());
  EXPECT_EQ(fault.commits(), commits + 1);
  EXPECT_EQ(fault.wal_syncs(), syncs + 1);
  EXPECT_GE(fault.wal_appends(), 1u);
  EXPECT_EQ(fault.injected(), 0u);
}

}  // namespace
}  // namespace sb

// The quarantine (store/quarantine.h): what a process could not use, kept with its reason,
// bounded, not kept twice, and the same after a restart.
#include "store/quarantine.h"

#include <gtest/gtest.h>

#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using testing::TempDir;

std::unique_ptr<Store> OpenStore(const std::string& path) {
  StoreOptions o;
  o.create_if_missing = true;
  auto s = Store::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

QuarantineEntry Entry(const std::string& ref, const std::string& reason) {
  QuarantineEntry e;
  e.at_ms = 1000;
  e.source = "log";
  e.ref = ref;
  e.from = "org-h";
  e.reason = reason;
  return e;
}

TEST(Quarantine, KeepsEntriesWithReasonAndSampleAcrossARestart) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    Quarantine q(store.get());
    ASSERT_TRUE(q.Load().ok());
    Result<bool> added = q.Add(Entry("17", "the signature does not verify"), "\x01\x02\xFF");
    ASSERT_TRUE(added.ok() && *added);
    EXPECT_EQ(q.added(), 1u);
  }
  auto store = OpenStore(tmp / "db");
  Quarantine q(store.get());
  ASSERT_TRUE(q.Load().ok());
  EXPECT_EQ(q.kept(), 1u);
  auto list = q.List(10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().ref, "17");
  EXPECT_EQ(list->front().reason, "the signature does not verify");
  EXPECT_EQ(list->front().sample, "0102ff");
  EXPECT_EQ(list->front().bytes, 3u);
  // The same item again (after the restart too) is not kept twice.
  Result<bool> again = q.Add(Entry("17", "again"), "x");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(q.kept(), 1u);
}

TEST(Quarantine, KeepsOnlyTheNewestEntries) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  Quarantine q(store.get());
  ASSERT_TRUE(q.Load().ok());
  for (size_t i = 0; i < Quarantine::kMaxKept + 5; ++i) {
    ASSERT_TRUE(q.Add(Entry(std::to_string(i), "bad")).ok());
  }
  EXPECT_EQ(q.kept(), Quarantine::kMaxKept);
  auto newest = q.List(1);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->front().ref, std::to_string(Quarantine::kMaxKept + 4));
  Quarantine reloaded(store.get());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.kept(), Quarantine::kMaxKept);
  // The oldest went, so it may be kept again.
  Result<bool> oldest = reloaded.Add(Entry("0", "bad"));
  ASSERT_TRUE(oldest.ok());
  EXPECT_TRUE(*oldest);
}

TEST(Quarantine, TextThatIsNotUtf8IsStoredPrintably) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  Quarantine q(store.get());
  ASSERT_TRUE(q.Load().ok());
  ASSERT_TRUE(q.Add(Entry("x", "reason with \xFF byte")).ok());
  auto list = q.List(1);
  ASSERT_TRUE(list.ok() && list->size() == 1);
  EXPECT_NO_THROW((void)QuarantineJson(list->front()).dump());
}

}  // namespace
}  // namespace sb

// The agent after a failed store commit (store/fault_injection.h): every operation that
// commits — local edits, remote updates and checkpoints, push acknowledgements, the roster,
// referral sends, steps, acks, updates and purges — reports the failure, keeps in memory only
// what is durable, and recovers: in the same process when the store stays usable, by a restart
// after a power loss. The broker and a second agent run on ordinary stores.
#include <gtest/gtest.h>

#include "tests/broker/store_faults_harness.h"

namespace sb::faults {
namespace {

TEST(AgentStoreFaults, FailingEachCommitInTurnEndsWhereTheSequenceWithoutFaultsEnds) {
  FailEachCommitInTurn(Node::kAgentA, Mode::kCommit);
}

TEST(AgentStoreFaults, APowerLossAfterEachFailedWalSyncInTurnLosesOnlyThatCommit) {
  FailEachCommitInTurn(Node::kAgentA, Mode::kPowerLoss);
}

TEST(AgentStoreFaults, AFailedEditIsReportedLeavesNothingBehindAndTheNextEditSucceeds) {
  StoreFaults h;
  h.Init(Node::kAgentA, Mode::kCommit);
  Agent& a = *h.a_;
  h.fault_.FailCommit(1);
  auto failed = a.dir->Apply(
      {Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})}, "test");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kIoError);
  EXPECT_NE(failed.status().message().find("not saved"), std::string::npos)
      << failed.status().ToString();
  EXPECT_EQ(a.Displayed(kOrgA, "name"), std::nullopt);
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  auto history = a.dir->History(kOrgA);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
  auto again = a.dir->Apply(
      {Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})}, "test");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(a.Displayed(kOrgA, "name"), T("Harbor Light"));
  EXPECT_EQ(a.dir->outbox_depth(), 1u);
}

// Without a power loss the batch whose sync failed may still be in the log file: after the
// restart it is there whole (and goes to the broker) or not at all.
TEST(AgentStoreFaults, AnEditWhoseWalSyncFailedIsWholeOrAbsentAfterAPlainRestart) {
  StoreFaults h;
  h.Init(Node::kAgentA, Mode::kPowerLoss);
  Agent& a = *h.a_;
  h.Connect(a);
  h.Connect(*h.b_);
  h.Run();
  h.fault_.FailWalSync(1);
  auto failed =
      a.dir->Apply({Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}}),
                    Edit(kPhoneA, "phone", {{"owner", T(kOrgA)}, {"number", T("+14155550123")}})},
                   "test");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kIoError);
  EXPECT_EQ(a.Displayed(kOrgA, "name"), std::nullopt);
  h.RestartAgent(a, /*power_loss=*/false);
  bool org = a.Displayed(kOrgA, "name").has_value();
  bool phone = a.Displayed(kPhoneA, "number").has_value();
  EXPECT_EQ(org, phone) << "half a batch survived";
  EXPECT_EQ(a.dir->outbox_depth(), org ? 1u : 0u);
  auto next = a.dir->Apply(
      {Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})}, "test");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  h.Settle();
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(h.core_->state().Find(kOrgA) != nullptr, true);
  EXPECT_EQ(h.core_->state().Find(kPhoneA) != nullptr, phone);
}

// Regression: the referral book took a roster into memory before saving it, and a failed save
// was only logged. Memory was then ahead of the store (the faulty agent knew organizations its
// store did not), and since later rosters matched memory the roster was never saved.
TEST(AgentStoreFaults, ARosterThatCouldNotBeSavedIsNotKeptInMemoryAndIsAskedForAgain) {
  StoreFaults h;
  h.Init(Node::kAgentA, Mode::kCommit);
  // The first thing the agent saves after its Welcome, its role once kept: the roster.
  ASSERT_TRUE(h.a_->dir->SaveWelcomedRole("partner").ok());
  h.fault_.FailCommit(1);
  h.Connect(*h.a_);
  h.Run();
  ASSERT_EQ(h.faults_seen_, 1);
  EXPECT_EQ(h.fault_where_[0], "A on a broker message");
  EXPECT_GE(h.a_->sync->status().hello_repeats, 1u);
  std::vector<std::string> orgs = h.a_->book->KnownOrganizations();
  EXPECT_EQ(orgs, (std::vector<std::string>{kOrgA, kOrgB}));
  h.RestartAgent(*h.a_, /*power_loss=*/false);  // and the store has it too
  EXPECT_EQ(h.a_->book->KnownOrganizations(), orgs);
}

}  // namespace
}  // namespace sb::faults

// The broker after a failed store commit (store/fault_injection.h): group commits of pushes,
// log trims, agents' cursors, maintainer writes and review decisions, roster changes and
// referral handoffs report the failure, keep in memory only what is durable, and recover — in
// the same process when the store stays usable, by a restart after a power loss. The agents
// run on ordinary stores.
#include <gtest/gtest.h>

#include <tuple>

#include "tests/broker/store_faults_harness.h"

namespace sb::faults {
namespace {

TEST(BrokerStoreFaults, FailingEachCommitInTurnEndsWhereTheSequenceWithoutFaultsEnds) {
  FailEachCommitInTurn(Node::kBroker, Mode::kCommit);
}

TEST(BrokerStoreFaults, APowerLossAfterEachFailedWalSyncInTurnLosesOnlyThatCommit) {
  FailEachCommitInTurn(Node::kBroker, Mode::kPowerLoss);
}

TEST(BrokerStoreFaults, AFailedRevocationChangesNothingAndCanBeRepeated) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  h.Connect(*h.a_);
  h.Connect(*h.b_);
  h.Run();
  uint64_t version = h.roster_->version();
  h.fault_.FailCommit(1);
  Status s = h.roster_->Revoke(kOrgB);
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  h.OnFault("revoke");
  EXPECT_FALSE(h.roster_->Find(kOrgB)->revoked);
  EXPECT_EQ(h.roster_->version(), version);
  EXPECT_TRUE(h.roster_->AuthorizeCurve(h.b_->id.pub.curve_public).has_value());
  ASSERT_TRUE(h.roster_->Revoke(kOrgB).ok());
  h.Run();
  EXPECT_TRUE(h.roster_->Find(kOrgB)->revoked);
  EXPECT_EQ(h.b_->sync->status().state, "refused");
}

TEST(BrokerStoreFaults, AFailedLogTrimKeepsTheWholeLog) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  h.Connect(*h.a_);
  h.Run();
  for (const char* name : {"One", "Two", "Three"}) {
    ASSERT_TRUE(
        h.a_->dir
            ->Apply({Edit(kOrgA, "organization", {{"name", T(name)}, {"owner", T(kOrgA)}})}, "test")
            .ok());
    h.Run();
  }
  uint64_t head = h.core_->stats().log_head;
  ASSERT_GE(head, 3u);
  h.fault_.FailCommit(1);
  Status s = h.core_->TrimLog(1);
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  h.OnFault("trim");
  EXPECT_EQ(h.core_->stats().log_start, 1u);
  ASSERT_TRUE(h.core_->TrimLog(1).ok());
  EXPECT_EQ(h.core_->stats().log_start, head);
  h.OnFault("after the trim");  // memory and store agree again
}

// Approving a refused push writes the change and settles the refusal in one commit (issue 16;
// it was two): when it fails, neither is written, and the decision may be made again; it then
// writes the change once.
TEST(BrokerStoreFaults, ApprovingARefusedPushWritesTheChangeAndTheSettlementOrNeither) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  h.Connect(*h.a_);
  h.Connect(*h.b_);
  h.Run();
  for (auto [a, org, name] :
       {std::tuple{h.a_, kOrgA, "Harbor Light"}, std::tuple{h.b_, kOrgB, "Tumaini"}}) {
    ASSERT_TRUE(
        a->dir->Apply({Edit(org, "organization", {{"name", T(name)}, {"owner", T(org)}})}, "test")
            .ok());
    h.Run();
  }
  ASSERT_TRUE(
      h.a_->dir->Apply({Edit(kOrgB, "organization", {{"name", T("Renamed")}})}, "test").ok());
  h.Run();
  uint64_t head = h.core_->stats().log_head;
  h.fault_.FailCommit(1);
  auto failed = h.Decide(ReviewKind::kRefusedPush, ReviewAction::kApprove, "");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kIoError);
  h.OnFault("approving the refused push");
  EXPECT_EQ(h.core_->stats().log_head, head) << "the change was written without its settlement";
  auto pending = h.core_->journal().Refusals();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_FALSE((*pending)[0].settled);
  auto again = h.Decide(ReviewKind::kRefusedPush, ReviewAction::kApprove, "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(h.core_->stats().log_head, head + 1) << "the change was written twice";
  auto refusals = h.core_->journal().Refusals();
  ASSERT_TRUE(refusals.ok());
  ASSERT_EQ(refusals->size(), 1u);
  EXPECT_EQ((*refusals)[0].decision, "applied");
  h.Settle();
  EXPECT_EQ(h.b_->Displayed(kOrgB, "name"), T("Renamed"));
}

// Regression: a Hello whose replica binding could not be saved was refused with code
// "replica", which the agent takes as final: it stopped syncing until restarted.
TEST(BrokerStoreFaults, AHelloWhoseReplicaBindingCouldNotBeSavedIsRepeatedNotRefusedForGood) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  h.fault_.FailCommit(1);
  h.Connect(*h.a_);
  h.Run();
  ASSERT_EQ(h.faults_seen_, 1);
  EXPECT_EQ(h.a_->sync->status().state, "ready");
  EXPECT_EQ(h.roster_->OrgOfReplica(h.a_->replica), kOrgA);
}

// Regression: a referral post the broker could not save was acknowledged as refused, and the
// agent settled it as refused for good (the referral never left).
TEST(BrokerStoreFaults, AReferralTheBrokerCouldNotSaveIsPostedAgainNotRefused) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  h.Connect(*h.a_);
  h.Connect(*h.b_);
  h.Run();
  h.fault_.FailCommit(1);
  Result<ReferralInfo> sent = h.a_->book->Send(h.Request(kOrgB));
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  h.RunOnce();  // no time passes: the post is not saved and waits
  ASSERT_EQ(h.faults_seen_, 1);
  Result<ReferralInfo> waiting = h.a_->book->Get(sent->id);
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->refused, "");
  EXPECT_EQ(h.a_->book->queue_depth(), 1u);
  h.Run();  // time passes: it goes again
  EXPECT_EQ(h.a_->ReferralStatus(sent->id), "delivered");
  EXPECT_EQ(h.b_->ReferralStatus(sent->id), "delivered");
}

// Regression: steps posted together (start, complete) where the broker could not save the
// first: the second was judged without it and refused for good ("state").
TEST(BrokerStoreFaults, AStepAfterOneTheBrokerCouldNotSaveWaitsForIt) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  h.Connect(*h.a_);
  h.Connect(*h.b_);
  h.Run();
  Result<ReferralInfo> sent = h.a_->book->Send(h.Request(kOrgB));
  ASSERT_TRUE(sent.ok());
  h.Run();
  ASSERT_TRUE(h.b_->book->Act(sent->id, "accept", "").ok());
  h.Run();
  h.fault_.FailCommit(1);
  ASSERT_TRUE(h.b_->book->Act(sent->id, "start", "").ok());
  ASSERT_TRUE(h.b_->book->Act(sent->id, "complete", "").ok());
  h.Run();
  ASSERT_EQ(h.faults_seen_, 1);
  EXPECT_EQ(h.b_->ReferralStatus(sent->id), "completed");
  EXPECT_EQ(h.a_->ReferralStatus(sent->id), "completed");
  Result<ReferralInfo> b = h.b_->book->Get(sent->id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->refused, "");
}

// Regression (issue 16): the broker committed a maintainer's accepted push, then its
// publication (`number@published`) in a second commit. When it failed or the power went between
// the two, the agent's re-push was acknowledged as already known and the edit was never
// published: the maintainer believed the corrected number live; every partner showed the old
// one. Now the push and its publication are one batch: whichever commit fails, the edit ends
// published, at the broker and at the partner.
TEST(BrokerStoreFaults, AMaintainersEditEndsPublishedWhicheverCommitFails) {
  auto run = [](Mode mode, uint64_t n, uint64_t* counted) {
    StoreFaults h;
    h.Init(Node::kBroker, mode, Role::kMaintainer);
    h.Connect(*h.a_);
    h.Connect(*h.b_);
    h.Run();
    EXPECT_TRUE(h.a_->dir
                    ->Apply({Edit(kOrgA, "organization",
                                  {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})},
                            "test")
                    .ok());
    h.Run();
    uint64_t before = h.Counted();
    if (n > 0) h.Arm(n);
    EXPECT_TRUE(
        h.b_->dir
            ->Apply({Edit(kPhoneA, "phone", {{"owner", T(kOrgA)}, {"number", T("+14155550199")}})},
                    "maintainer")
            .ok());
    h.Settle();
    *counted = h.Counted() - before;
    EXPECT_EQ(h.faults_seen_, n > 0 ? 1 : 0);
    const Record* phone = h.core_->state().Find(kPhoneA);
    ASSERT_NE(phone, nullptr);
    EXPECT_EQ(phone->Displayed("number@published"), T("+14155550199"));
    EXPECT_EQ(h.a_->Displayed(kPhoneA, "number@published"), T("+14155550199"));
    EXPECT_EQ(h.b_->Displayed(kPhoneA, "number@published"), T("+14155550199"));
    EXPECT_EQ(h.b_->dir->outbox_depth(), 0u);
  };
  for (Mode mode : {Mode::kCommit, Mode::kPowerLoss}) {
    uint64_t total = 0;
    run(mode, 0, &total);
    ASSERT_GE(total, 1u);
    for (uint64_t n = 1; n <= total; ++n) {
      SCOPED_TRACE(std::string(ModeName(mode)) + " fault at " + std::to_string(n) + " of " +
                   std::to_string(total));
      uint64_t ignored = 0;
      run(mode, n, &ignored);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace sb::faults

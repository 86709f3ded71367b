// The broker on a full disk (FaultInjector::SetDiskFull): pushes and referral posts are refused
// on the wire with `unavailable` and a reason that names the full disk; the agents keep them
// and send them again; reads (review, state) go on; once there is room, everything goes
// through without a restart. The agents run on ordinary stores.
#include <gtest/gtest.h>

#include "tests/broker/store_faults_harness.h"

namespace sb::faults {
namespace {

TEST(BrokerDiskFaults, ADiskFullRefusesPushesAndPostsNamingItAndTheyGoThroughOnceThereIsRoom) {
  StoreFaults h;
  h.Init(Node::kBroker, Mode::kCommit);
  Agent& a = *h.a_;
  Agent& b = *h.b_;
  h.Connect(a);
  h.Connect(b);
  h.Run();
  ASSERT_TRUE(
      b.dir
          ->Apply({Edit(kOrgB, "organization", {{"name", T("Tumaini")}, {"owner", T(kOrgB)}})},
                  "test")
          .ok());
  h.Run();

  h.fault_.SetDiskFull(true);
  ASSERT_TRUE(
      a.dir
          ->Apply({Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})},
                  "test")
          .ok());
  Result<ReferralInfo> sent = a.book->Send(h.Request(kOrgB));
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  h.RunOnce();  // no time passes
  EXPECT_GE(h.faults_seen_, 1);
  std::string why = a.sync->status().last_error;
  EXPECT_NE(why.find("the broker's disk is full"), std::string::npos) << why;
  EXPECT_NE(why.find("(unavailable)"), std::string::npos) << why;
  EXPECT_EQ(a.dir->outbox_depth(), 1u);  // kept, to push again
  EXPECT_EQ(a.book->queue_depth(), 1u);
  Result<ReferralInfo> waiting = a.book->Get(sent->id);
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->refused, "");
  EXPECT_EQ(h.core_->state().Find(kOrgA), nullptr);
  // Reads go on: the state, the review queue, B's view of what was there before.
  ASSERT_NE(h.core_->state().Find(kOrgB), nullptr);
  ReviewFilter all;
  EXPECT_TRUE(h.service_->List(all, 10).ok());
  h.Run();  // time passes: still full, still refused, still kept
  EXPECT_EQ(a.dir->outbox_depth(), 1u);
  EXPECT_EQ(h.core_->state().Find(kOrgA), nullptr);

  h.fault_.SetDiskFull(false);  // the space has returned: nothing restarts
  h.Settle();
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(a.book->queue_depth(), 0u);
  ASSERT_NE(h.core_->state().Find(kOrgA), nullptr);
  EXPECT_EQ(h.core_->state().Find(kOrgA)->Displayed("name"), T("Harbor Light"));
  EXPECT_EQ(b.Displayed(kOrgA, "name"), T("Harbor Light"));
  EXPECT_EQ(a.ReferralStatus(sent->id), "delivered");
  EXPECT_EQ(b.ReferralStatus(sent->id), "delivered");
  for (Agent* x : {&a, &b}) {
    EXPECT_EQ(Views(x->State()), Views(h.BrokerStateFor(x->id.pub.org))) << x->name;
  }
  // What the broker showed is what its store holds.
  BrokerView before = h.BrokerMemory();
  h.RestartBroker(/*power_loss=*/true);
  EXPECT_TRUE(before == h.BrokerMemory());
}

}  // namespace
}  // namespace sb::faults

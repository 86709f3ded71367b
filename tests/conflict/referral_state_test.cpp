#include "conflict/referral_state.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace sb {
namespace {

using S = ReferralStatus;

TEST(ReferralState, TheHappyPathEndsCompleted) {
  S s = S::kSent;
  for (auto [action, party, want] : std::vector<std::tuple<std::string, Party, S>>{
           {"deliver", Party::kRecipient, S::kDelivered},
           {"accept", Party::kRecipient, S::kAccepted},
           {"start", Party::kRecipient, S::kInProgress},
           {"complete", Party::kRecipient, S::kCompleted}}) {
    Result<S> next = NextStatus(s, action, party);
    ASSERT_TRUE(next.ok()) << action << ": " << next.status().ToString();
    EXPECT_EQ(*next, want);
    s = *next;
  }
  EXPECT_TRUE(IsFinal(s));
}

TEST(ReferralState, OnlyTheRightPartyMayTakeEachStep) {
  EXPECT_EQ(NextStatus(S::kDelivered, "accept", Party::kSender).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(NextStatus(S::kDelivered, "cancel", Party::kRecipient).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(NextStatus(S::kSent, "expire", Party::kSender).status().code(),
            Code::kPermissionDenied);
  EXPECT_TRUE(NextStatus(S::kSent, "expire", Party::kBroker).ok());
  EXPECT_TRUE(NextStatus(S::kInProgress, "cancel", Party::kSender).ok());
}

TEST(ReferralState, StepsThatDoNotFollowAreRefusedWithTheReason) {
  Result<S> r = NextStatus(S::kCompleted, "cancel", Party::kSender);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("completed"), std::string::npos);
  EXPECT_FALSE(NextStatus(S::kDeclined, "accept", Party::kRecipient).ok());
  EXPECT_FALSE(NextStatus(S::kAccepted, "expire", Party::kBroker).ok());  // answered in time
  EXPECT_FALSE(NextStatus(S::kDelivered, "complete", Party::kRecipient).ok());
  EXPECT_EQ(NextStatus(S::kSent, "approve", Party::kRecipient).status().code(),
            Code::kInvalidArgument);
}

TEST(ReferralState, StatusNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(S::kCancelled); ++i) {
    auto s = static_cast<S>(i);
    EXPECT_EQ(ParseStatus(StatusName(s)), s);
  }
  EXPECT_FALSE(ParseStatus("pending"));
}

TEST(ReferralState, ReplaySkipsStepsThatDoNotFollow) {
  EXPECT_EQ(Replay({"deliver", "accept", "decline", "start"}), S::kInProgress);
  EXPECT_EQ(Replay({"cancel", "accept"}), S::kCancelled);
  EXPECT_EQ(Replay({}), S::kSent);
}

// Replay is what every party computes from the broker's order: it agrees with taking the
// steps one by one, whoever may take each.
RC_GTEST_PROP(ReferralStateProps, ReplayAgreesWithNextStatus, ()) {
  auto actions =
      *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(ReferralActions()));
  S s = S::kSent;
  for (const std::string& a : actions) {
    Result<S> next = NextStatus(s, a, *ActionParty(a));
    if (next.ok()) s = *next;
  }
  RC_ASSERT(Replay(actions) == s);
  // Nothing leaves a final status.
  bool was_final = false;
  S t = S::kSent;
  for (const std::string& a : actions) {
    Result<S> next = NextStatus(t, a, *ActionParty(a));
    if (was_final) RC_ASSERT(!next.ok());
    if (next.ok()) t = *next;
    was_final = IsFinal(t);
  }
}

}  // namespace
}  // namespace sb

#include "conflict/hlc.h"

#include <gtest/gtest.h>

namespace sb {
namespace {

TEST(Hlc, PacksMillisAndCounterInOrder) {
  Hlc a = Hlc::Make(1000, 5), b = Hlc::Make(1001, 0);
  EXPECT_EQ(a.millis(), 1000u);
  EXPECT_EQ(a.counter(), 5);
  EXPECT_LT(a, b);
}

TEST(HlcClock, NowFollowsPhysicalTime) {
  HlcClock c;
  EXPECT_EQ(c.Now(500), Hlc::Make(500, 0));
  EXPECT_EQ(c.Now(700), Hlc::Make(700, 0));
}

TEST(HlcClock, NowIsStrictlyMonotonicWhenPhysicalTimeStallsOrGoesBack) {
  HlcClock c;
  Hlc a = c.Now(1000), b = c.Now(1000), d = c.Now(900);
  EXPECT_LT(a, b);
  EXPECT_LT(b, d);
  EXPECT_EQ(d.millis(), 1000u);
}

TEST(HlcClock, CounterOverflowSpillsIntoNextMillisecond) {
  HlcClock c;
  Hlc last;
  for (int i = 0; i <= 0xffff + 1; ++i) last = c.Now(42);
  EXPECT_EQ(last, Hlc::Make(43, 0));
}

TEST(HlcClock, ObserveMovesPastRemoteTimestamp) {
  HlcClock c(60'000);
  ASSERT_TRUE(c.Observe(Hlc::Make(5000, 3), 4000).ok());
  Hlc next = c.Now(4000);
  EXPECT_GT(next, Hlc::Make(5000, 3));
}

TEST(HlcClock, RejectsRemoteTimestampBeyondSkewAndChangesNothing) {
  HlcClock c(1000);
  Hlc before = c.Now(10'000);
  Status s = c.Observe(Hlc::Make(11'001, 0), 10'000);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("clock skew"), std::string::npos);
  EXPECT_EQ(c.last(), before);
  EXPECT_TRUE(c.Observe(Hlc::Make(11'000, 0), 10'000).ok());
}

// An agent whose clock is hours behind observes what its broker accepted: its next edit is
// stamped after what it has seen, not hours before it.
TEST(HlcClock, ObservingACheckedTimestampHoursAheadMovesPastIt) {
  HlcClock behind(60'000);
  constexpr uint64_t kThreeHours = 3 * 3600'000;
  Hlc seen = Hlc::Make(1'790'000'000'000 + kThreeHours, 7);
  behind.ObserveChecked(seen, 1'790'000'000'000);
  EXPECT_GT(behind.Now(1'790'000'000'000), seen);
  EXPECT_GT(behind.Now(1'790'000'000'001), seen);
}

TEST(HlcClock, ResetMovesTheClockBackForAClockThatWasSetRight) {
  HlcClock c(60'000);
  c.Now(1'790'000'000'000 + 3 * 3600'000);
  c.Reset(Hlc::Make(1'790'000'000'000, 0));
  EXPECT_EQ(c.Now(1'790'000'000'500), Hlc::Make(1'790'000'000'500, 0));
}

TEST(HumanDuration, SaysDurationsAsPeopleDo) {
  EXPECT_EQ(HumanDuration(850), "850 ms");
  EXPECT_EQ(HumanDuration(45'000), "45 s");
  EXPECT_EQ(HumanDuration(60'000), "60 s");
  EXPECT_EQ(HumanDuration(250'000), "4 min 10 s");
  EXPECT_EQ(HumanDuration((3 * 60 + 2) * 60'000 + 5'000), "3 h 2 min");
  EXPECT_EQ(HumanDuration(3 * 3600'000), "3 h");
  EXPECT_EQ(HumanDuration(50 * 3600'000ull), "2 d 2 h");
}

TEST(ClockAheadMessage, NamesTheSkewTheLimitAndWhatToDo) {
  std::string m = ClockAheadMessage((3 * 60 + 2) * 60'000, 60'000);
  EXPECT_EQ(m.rfind("this agent's clock is 3 h 2 min ahead of the broker's; at most 60 s is "
                    "allowed: set the clock of ",
                    0),
            0u)
      << m;
}

}  // namespace
}  // namespace sb

#include "conflict/mv_register.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sb {
namespace {

// A register with its own causal context, as a record would hold it.
struct State {
  MvRegister reg;
  CausalContext ctx;

  // Writes `value` as `replica` and returns the delta (already joined into this state).
  State Write(ReplicaId replica, Value value, Hlc stamp) {
    State delta;
    delta.reg = reg.WriteDelta(ctx.Next(replica), std::move(value), stamp, &delta.ctx);
    Join(delta);
    return delta;
  }
  void Join(const State& other) {
    reg.Join(ctx, other.reg, other.ctx);
    ctx.Join(other.ctx);
  }
  friend bool operator==(const State&, const State&) = default;
};

std::vector<Value> Values(const MvRegister& r) {
  std::vector<Value> out;
  for (const auto& [dot, e] : r.Siblings()) out.push_back(e.value);
  return out;
}

TEST(MvRegister, EmptyRegisterDisplaysNothing) {
  MvRegister r;
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.Displayed().has_value());
  EXPECT_TRUE(r.Siblings().empty());
}

TEST(MvRegister, WriteDeltaHoldsTheNewEntryAndItsDot) {
  State s;
  State d = s.Write(1, Value(std::string("a")), Hlc::Make(10, 0));
  ASSERT_EQ(d.reg.size(), 1u);
  EXPECT_EQ(d.reg.entries().begin()->first, (Dot{1, 1}));
  EXPECT_TRUE(d.ctx.Contains(Dot{1, 1}));
  EXPECT_EQ(s.reg.Displayed()->second.value, Value(std::string("a")));
}

TEST(MvRegister, WriteDeltaDoesNotChangeTheRegisterItIsComputedFrom) {
  State s;
  s.Write(1, Value(int64_t{1}), Hlc::Make(10, 0));
  MvRegister before = s.reg;
  CausalContext scratch;
  (void)s.reg.WriteDelta(s.ctx.Next(1), Value(int64_t{2}), Hlc::Make(11, 0), &scratch);
  EXPECT_EQ(s.reg, before);
}

TEST(MvRegister, WriteSupersedesTheEntriesItsWriterHadSeen) {
  State s;
  s.Write(1, Value(std::string("old")), Hlc::Make(10, 0));
  State d = s.Write(2, Value(std::string("new")), Hlc::Make(5, 0));  // older clock, still wins
  EXPECT_TRUE(d.ctx.Contains(Dot{1, 1}));
  EXPECT_EQ(Values(s.reg), (std::vector<Value>{std::string("new")}));
}

TEST(MvRegister, SupersedingDeltaRemovesTheOldValueWhereverItIsJoined) {
  State a;
  State first = a.Write(1, Value(std::string("old")), Hlc::Make(10, 0));
  State second = a.Write(1, Value(std::string("new")), Hlc::Make(11, 0));
  State b;  // receives the deltas in the opposite order
  b.Join(second);
  b.Join(first);
  EXPECT_EQ(Values(b.reg), (std::vector<Value>{std::string("new")}));
  EXPECT_EQ(a, b);
}

TEST(MvRegister, ConcurrentWritesStayAsSiblings) {
  State base;
  base.Write(1, Value(std::string("x")), Hlc::Make(10, 0));
  State a = base, b = base;
  State da = a.Write(1, Value(std::string("from-a")), Hlc::Make(20, 0));
  State db = b.Write(2, Value(std::string("from-b")), Hlc::Make(21, 0));
  a.Join(db);
  b.Join(da);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.reg.size(), 2u);
  EXPECT_EQ(Values(a.reg), (std::vector<Value>{std::string("from-b"), std::string("from-a")}));
}

TEST(MvRegister, AWriteThatSawBothSiblingsResolvesTheConflict) {
  State a, b;
  State da = a.Write(1, Value(int64_t{1}), Hlc::Make(10, 0));
  State db = b.Write(2, Value(int64_t{2}), Hlc::Make(10, 0));
  a.Join(db);
  ASSERT_EQ(a.reg.size(), 2u);
  State resolve = a.Write(3, Value(int64_t{3}), Hlc::Make(11, 0));
  b.Join(da);
  b.Join(resolve);
  EXPECT_EQ(Values(b.reg), (std::vector<Value>{int64_t{3}}));
}

TEST(MvRegister, DisplayedIsGreatestStampThenGreatestReplica) {
  State a, b, c;
  State da = a.Write(3, Value(std::string("three")), Hlc::Make(50, 0));
  State db = b.Write(9, Value(std::string("nine")), Hlc::Make(50, 0));  // same stamp, greater id
  State dc = c.Write(1, Value(std::string("one")), Hlc::Make(49, 7));   // older
  for (State* s : {&a, &b, &c}) {
    for (const State* d : {&da, &db, &dc}) s->Join(*d);
  }
  for (const State* s : {&a, &b, &c}) {
    auto shown = s->reg.Displayed();
    ASSERT_TRUE(shown.has_value());
    EXPECT_EQ(shown->first, (Dot{9, 1}));
    EXPECT_EQ(shown->second.value, Value(std::string("nine")));
    EXPECT_EQ(Values(s->reg),
              (std::vector<Value>{std::string("nine"), std::string("three"), std::string("one")}));
  }
}

TEST(MvRegister, LaterStampBeatsGreaterReplica) {
  State a, b;
  a.Write(1, Value(true), Hlc::Make(50, 1));
  a.Join(b.Write(9, Value(false), Hlc::Make(50, 0)));
  EXPECT_EQ(a.reg.Displayed()->second.value, Value(true));
}

TEST(MvRegister, JoinKeepsEntriesTheOtherHasNotSeen) {
  State a;
  a.Write(1, Value(int64_t{1}), Hlc::Make(1, 0));
  State before = a;
  a.Join(State{});  // the other side has seen nothing
  EXPECT_EQ(a, before);
  State b;
  b.Join(before);
  EXPECT_EQ(b, before);
}

TEST(MvRegister, JoinDropsEntriesTheOtherHasSeenAndNoLongerHolds) {
  State a;
  State d = a.Write(1, Value(int64_t{1}), Hlc::Make(1, 0));
  State cleared;  // saw the dot, holds nothing (as after a record delete)
  d.reg.CollectDots(&cleared.ctx);
  State b = d;
  b.Join(cleared);
  EXPECT_TRUE(b.reg.empty());
  EXPECT_TRUE(b.ctx.Contains(Dot{1, 1}));
}

TEST(MvRegister, CollectDotsAddsEveryEntryDot) {
  State a, b;
  a.Write(1, Value(int64_t{1}), Hlc::Make(1, 0));
  a.Join(b.Write(2, Value(int64_t{2}), Hlc::Make(1, 0)));
  CausalContext ctx;
  a.reg.CollectDots(&ctx);
  EXPECT_EQ(ctx, CausalContext::FromParts({{1, 1}, {2, 1}}, {}));
}

TEST(MvRegister, JoiningADeltaTwiceChangesNothing) {
  State a;
  State d = a.Write(4, Value(std::string("v")), Hlc::Make(3, 0));
  State once = a;
  a.Join(d);
  a.Join(d);
  EXPECT_EQ(a, once);
}

}  // namespace
}  // namespace sb

#include "conflict/aw_set.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sb {
namespace {

using Elements = std::vector<std::string>;

// A set with its own causal context, as a record would hold it.
struct State {
  AwSet set;
  CausalContext ctx;

  State Add(const std::string& e, ReplicaId replica) {
    State delta;
    delta.set = set.AddDelta(e, ctx.Next(replica), &delta.ctx);
    Join(delta);
    return delta;
  }
  State Remove(const std::string& e) {
    State delta;
    delta.set = set.RemoveDelta(e, &delta.ctx);
    Join(delta);
    return delta;
  }
  void Join(const State& other) {
    set.Join(ctx, other.set, other.ctx);
    ctx.Join(other.ctx);
  }
  friend bool operator==(const State&, const State&) = default;
};

TEST(AwSet, AddMakesTheElementPresent) {
  State s;
  State d = s.Add("legal", 1);
  EXPECT_TRUE(s.set.Contains("legal"));
  EXPECT_FALSE(s.set.Contains("medical"));
  EXPECT_EQ(d.set.Elements(), (Elements{"legal"}));
  EXPECT_TRUE(d.ctx.Contains(Dot{1, 1}));
}

TEST(AwSet, ElementsAreSorted) {
  State s;
  s.Add("medical", 1);
  s.Add("hotline", 1);
  s.Add("legal", 2);
  EXPECT_EQ(s.set.Elements(), (Elements{"hotline", "legal", "medical"}));
}

TEST(AwSet, RemoveOfAnObservedAddRemovesIt) {
  State s;
  s.Add("legal", 1);
  State d = s.Remove("legal");
  EXPECT_TRUE(d.set.empty());
  EXPECT_TRUE(d.ctx.Contains(Dot{1, 1}));
  EXPECT_FALSE(s.set.Contains("legal"));
  EXPECT_TRUE(s.set.empty());
}

TEST(AwSet, RemoveOfAnAbsentElementIsAnEmptyDelta) {
  State s;
  s.Add("legal", 1);
  State d = s.Remove("medical");
  EXPECT_TRUE(d.set.empty());
  EXPECT_TRUE(d.ctx.empty());
  EXPECT_TRUE(s.set.Contains("legal"));
}

TEST(AwSet, AddDeltaReplacesTheElementsEarlierDots) {
  State a, b;
  State da = a.Add("es", 1);
  b.Join(da);
  State db = b.Add("es", 2);  // re-add: supersedes (1,1)
  EXPECT_TRUE(db.ctx.Contains(Dot{1, 1}));
  EXPECT_EQ(b.set.raw().at("es"), (FlatSet<Dot>{{2, 1}}));
  a.Join(db);
  EXPECT_EQ(a, b);
}

TEST(AwSet, AddWinsOverConcurrentRemove) {
  State a, b;
  State seed = a.Add("legal", 1);
  b.Join(seed);
  State removal = a.Remove("legal");
  State readd = b.Add("legal", 2);
  a.Join(readd);
  b.Join(removal);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.set.Contains("legal"));
  EXPECT_EQ(a.set.raw().at("legal"), (FlatSet<Dot>{{2, 1}}));
}

TEST(AwSet, ConcurrentAddsOfTheSameElementAreAllRemovedByARemoveThatSawThem) {
  State a, b, c;
  State da = a.Add("fr", 1);
  State db = b.Add("fr", 2);
  c.Join(da);
  c.Join(db);
  EXPECT_EQ(c.set.raw().at("fr").size(), 2u);
  State removal = c.Remove("fr");
  a.Join(removal);
  a.Join(db);  // late delivery of an add the remove had seen: it stays removed
  EXPECT_FALSE(a.set.Contains("fr"));
  EXPECT_TRUE(a.set.empty());
}

TEST(AwSet, RemoveThatSawOnlyOneOfTwoConcurrentAddsKeepsTheElement) {
  State a, b;
  State da = a.Add("fr", 1);
  State db = b.Add("fr", 2);
  State removal = a.Remove("fr");  // a never saw b's add
  b.Join(da);
  b.Join(removal);
  EXPECT_TRUE(b.set.Contains("fr"));
  EXPECT_EQ(b.set.raw().at("fr"), (FlatSet<Dot>{{2, 1}}));
}

TEST(AwSet, ReAddAfterRemoveIsPresentEverywhere) {
  State a, b;
  b.Join(a.Add("en", 1));
  b.Join(a.Remove("en"));
  b.Join(a.Add("en", 1));
  EXPECT_TRUE(b.set.Contains("en"));
  EXPECT_EQ(a, b);
}

TEST(AwSet, JoinIsCommutativeAndIdempotent) {
  State a, b;
  a.Add("x", 1);
  a.Add("y", 1);
  b.Add("y", 2);
  b.Add("z", 2);
  b.Remove("z");
  State ab = a, ba = b;
  ab.Join(b);
  ba.Join(a);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.set.Elements(), (Elements{"x", "y"}));
  State again = ab;
  again.Join(ab);
  EXPECT_EQ(again, ab);
}

TEST(AwSet, CollectDotsAddsEveryLiveDot) {
  State a, b;
  a.Add("x", 1);
  a.Join(b.Add("x", 2));
  a.Add("y", 1);
  CausalContext ctx;
  a.set.CollectDots(&ctx);
  EXPECT_TRUE(ctx.Contains(Dot{1, 1}));
  EXPECT_TRUE(ctx.Contains(Dot{1, 2}));
  EXPECT_TRUE(ctx.Contains(Dot{2, 1}));
}

}  // namespace
}  // namespace sb

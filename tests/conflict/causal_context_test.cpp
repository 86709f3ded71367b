#include "conflict/causal_context.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <vector>

namespace sb {
namespace {

CausalContext Of(std::initializer_list<Dot> dots) {
  CausalContext c;
  for (const Dot& d : dots) c.Add(d);
  return c;
}

TEST(CausalContext, RemovedDotsAreForgottenAndTheRestKept) {
  CausalContext c;
  for (uint64_t i = 1; i <= 5; ++i) c.Add(Dot{7, i});
  c.Add(Dot{9, 3});
  c.Remove(Dot{7, 3});
  EXPECT_FALSE(c.Contains(Dot{7, 3}));
  for (uint64_t i : {1, 2, 4, 5}) EXPECT_TRUE(c.Contains(Dot{7, i})) << i;
  EXPECT_EQ(c.Next(7), (Dot{7, 6}));  // never reissues a later dot
  c.Remove(Dot{9, 3});
  EXPECT_FALSE(c.Contains(Dot{9, 3}));
  c.Remove(Dot{7, 1});
  EXPECT_FALSE(c.Contains(Dot{7, 1}));
  EXPECT_TRUE(c.Contains(Dot{7, 2}));
  c.Remove(Dot{7, 42});  // never seen: nothing happens
  EXPECT_TRUE(c.Contains(Dot{7, 5}));
  c.Add(Dot{7, 1});
  c.Add(Dot{7, 3});
  CausalContext whole;
  for (uint64_t i = 1; i <= 5; ++i) whole.Add(Dot{7, i});
  EXPECT_EQ(c, whole);  // adding them back compacts to the same context
}

TEST(CausalContext, SubtractForgetsTheOthersDotsAndMovesTheRestOfARangeToTheCloud) {
  CausalContext c;
  for (uint64_t i = 1; i <= 6; ++i) c.Add(Dot{7, i});
  c.Add(Dot{9, 4});
  c.Subtract(Of({{7, 3}, {7, 5}, {9, 4}, {8, 1}}));
  for (uint64_t i : {1, 2, 4, 6}) EXPECT_TRUE(c.Contains(Dot{7, i})) << i;
  EXPECT_FALSE(c.Contains(Dot{7, 3}));
  EXPECT_FALSE(c.Contains(Dot{7, 5}));
  EXPECT_FALSE(c.Contains(Dot{9, 4}));
  EXPECT_EQ(c.ToString(), "{7:1..2 7:4 7:6}");
  EXPECT_EQ(c.Next(7), (Dot{7, 7}));  // never reissues a dot it still holds
}

TEST(CausalContext, SubtractOfALongerRangeForgetsTheWholeRange) {
  CausalContext c, other;
  for (uint64_t i = 1; i <= 4; ++i) c.Add(Dot{7, i});
  c.Add(Dot{7, 9});
  for (uint64_t i = 1; i <= 6; ++i) other.Add(Dot{7, i});
  c.Subtract(other);
  EXPECT_EQ(c.ToString(), "{7:9}");
}

TEST(CausalContext, SubtractOfAPrefixKeepsTheTopOfTheRange) {
  CausalContext c, other;
  for (uint64_t i = 1; i <= 1000; ++i) c.Add(Dot{7, i});
  for (uint64_t i = 1; i <= 998; ++i) other.Add(Dot{7, i});
  c.Subtract(other);
  EXPECT_EQ(c.ToString(), "{7:999 7:1000}");
  c.Subtract(c);
  EXPECT_TRUE(c.empty());
}

TEST(CausalContext, EmptyContainsNothing) {
  CausalContext c;
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.Contains(Dot{1, 1}));
  EXPECT_EQ(c.Next(7), (Dot{7, 1}));
}

TEST(CausalContext, AddedDotIsContainedAndOthersAreNot) {
  CausalContext c = Of({{1, 1}});
  EXPECT_TRUE(c.Contains(Dot{1, 1}));
  EXPECT_FALSE(c.Contains(Dot{1, 2}));
  EXPECT_FALSE(c.Contains(Dot{2, 1}));
  EXPECT_FALSE(c.empty());
}

TEST(CausalContext, ConsecutiveDotsExtendTheVector) {
  CausalContext c = Of({{1, 1}, {1, 2}, {1, 3}});
  EXPECT_EQ(c.vector(), (FlatMap<ReplicaId, uint64_t>{{1, 3}}));
  EXPECT_TRUE(c.cloud().empty());
}

TEST(CausalContext, DotBeyondAGapWaitsInTheCloudUntilTheGapFills) {
  CausalContext c = Of({{1, 1}, {1, 3}, {1, 4}});
  EXPECT_EQ(c.vector(), (FlatMap<ReplicaId, uint64_t>{{1, 1}}));
  EXPECT_EQ(c.cloud(), (FlatSet<Dot>{{1, 3}, {1, 4}}));
  EXPECT_FALSE(c.Contains(Dot{1, 2}));
  EXPECT_TRUE(c.Contains(Dot{1, 4}));

  c.Add(Dot{1, 2});
  EXPECT_EQ(c.vector(), (FlatMap<ReplicaId, uint64_t>{{1, 4}}));
  EXPECT_TRUE(c.cloud().empty());
}

TEST(CausalContext, DotOfAnUnseenReplicaBeyondOneLeavesNoZeroVectorEntry) {
  CausalContext c = Of({{2, 5}});
  EXPECT_TRUE(c.vector().empty());
  EXPECT_EQ(c.cloud(), (FlatSet<Dot>{{2, 5}}));
}

TEST(CausalContext, AddingASeenDotChangesNothing) {
  CausalContext c = Of({{1, 1}, {1, 2}, {3, 7}});
  CausalContext before = c;
  c.Add(Dot{1, 1});
  c.Add(Dot{3, 7});
  EXPECT_EQ(c, before);
}

TEST(CausalContext, NextIsOnePastTheHighestSeenIncludingTheCloud) {
  CausalContext c = Of({{1, 1}, {1, 5}, {2, 9}});
  EXPECT_EQ(c.Next(1), (Dot{1, 6}));
  EXPECT_EQ(c.Next(2), (Dot{2, 10}));
  EXPECT_EQ(c.Next(3), (Dot{3, 1}));
  EXPECT_FALSE(c.Contains(c.Next(1)));
}

TEST(CausalContext, NextOfAReplicaIgnoresItsNeighboursInTheCloud) {
  CausalContext c = Of({{1, 2}, {3, 4}});  // both in the cloud
  EXPECT_EQ(c.Next(2), (Dot{2, 1}));
  EXPECT_EQ(c.Next(1), (Dot{1, 3}));
  EXPECT_EQ(c.Next(3), (Dot{3, 5}));
}

TEST(CausalContext, JoinIsTheUnionAndCompacts) {
  CausalContext a = Of({{1, 1}, {1, 2}});
  CausalContext b = Of({{1, 3}, {2, 2}});  // (1,3) sits in b's cloud
  CausalContext ab = a, ba = b;
  ab.Join(b);
  ba.Join(a);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.vector(), (FlatMap<ReplicaId, uint64_t>{{1, 3}}));
  EXPECT_EQ(ab.cloud(), (FlatSet<Dot>{{2, 2}}));
}

TEST(CausalContext, JoinWithItselfChangesNothing) {
  CausalContext a = Of({{1, 1}, {2, 3}});
  CausalContext b = a;
  b.Join(a);
  EXPECT_EQ(a, b);
}

TEST(CausalContext, IncludesChecksEveryDotOfTheOther) {
  CausalContext big = Of({{1, 1}, {1, 2}, {1, 3}, {2, 4}});
  EXPECT_TRUE(big.Includes(Of({{1, 2}, {2, 4}})));
  EXPECT_TRUE(big.Includes(CausalContext()));
  EXPECT_FALSE(big.Includes(Of({{2, 3}})));
  EXPECT_FALSE(big.Includes(Of({{1, 4}})));
  EXPECT_FALSE(CausalContext().Includes(big));
}

TEST(CausalContext, IncludesAcceptsAVectorRangeCoveredByTheCloud) {
  CausalContext a = CausalContext::FromParts({{1, 1}}, {{1, 3}});
  EXPECT_FALSE(a.Includes(CausalContext::FromParts({{1, 3}}, {})));  // lacks (1,2)
  a.Add(Dot{1, 2});
  EXPECT_TRUE(a.Includes(CausalContext::FromParts({{1, 3}}, {})));
  CausalContext cloud_only = CausalContext::FromParts({}, {{4, 2}, {4, 3}});
  EXPECT_FALSE(cloud_only.Includes(CausalContext::FromParts({{4, 3}}, {})));  // lacks (4,1)
  EXPECT_TRUE(cloud_only.Includes(CausalContext::FromParts({}, {{4, 3}})));
}

TEST(CausalContext, FromPartsCanonicalizes) {
  CausalContext c = CausalContext::FromParts(
      {{1, 0}, {2, 3}}, {{1, 1}, {2, 2}, {2, 4}, {2, 5}, {3, 1}, {3, 3}, {5, 9}});
  EXPECT_EQ(c.vector(), (FlatMap<ReplicaId, uint64_t>{{1, 1}, {2, 5}, {3, 1}}));
  EXPECT_EQ(c.cloud(), (FlatSet<Dot>{{3, 3}, {5, 9}}));
  EXPECT_EQ(c, Of({{1, 1}, {2, 1}, {2, 2}, {2, 3}, {2, 4}, {2, 5}, {3, 1}, {3, 3}, {5, 9}}));
}

TEST(CausalContext, FromPartsDropsZeroVectorEntries) {
  CausalContext c = CausalContext::FromParts({{1, 0}, {2, 0}}, {});
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c, CausalContext());
}

TEST(CausalContext, ToStringShowsRangesAndCloud) {
  EXPECT_EQ(Of({{1, 1}, {1, 2}, {2, 5}}).ToString(), "{1:1..2 2:5}");
  EXPECT_EQ(CausalContext().ToString(), "{}");
}

// --- Properties: a context behaves exactly like the set of dots it was built from. ---

std::vector<Dot> SmallDots(const std::vector<std::pair<uint8_t, uint8_t>>& raw) {
  std::vector<Dot> out;
  for (auto [r, c] : raw) out.push_back(Dot{ReplicaId{1} + r % 4, uint64_t{1} + c % 12});
  return out;
}

CausalContext Build(const std::vector<Dot>& dots) {
  CausalContext c;
  for (const Dot& d : dots) c.Add(d);
  return c;
}

void ExpectCanonical(const CausalContext& c) {
  for (const auto& [r, n] : c.vector()) RC_ASSERT(n > 0u);
  for (const Dot& d : c.cloud()) {
    auto it = c.vector().find(d.replica);
    uint64_t top = it == c.vector().end() ? 0 : it->second;
    RC_ASSERT(d.counter > top + 1);  // neither covered by the vector nor continuing it
  }
}

RC_GTEST_PROP(CausalContext, BehavesLikeTheSetOfItsDots,
              (const std::vector<std::pair<uint8_t, uint8_t>>& raw)) {
  std::vector<Dot> dots = SmallDots(raw);
  std::set<Dot> model(dots.begin(), dots.end());
  CausalContext c = Build(dots);
  ExpectCanonical(c);
  for (ReplicaId r = 1; r <= 5; ++r) {
    uint64_t highest = 0;
    for (uint64_t n = 1; n <= 13; ++n) {
      RC_ASSERT(c.Contains(Dot{r, n}) == (model.count(Dot{r, n}) > 0));
      if (model.count(Dot{r, n})) highest = n;
    }
    RC_ASSERT(c.Next(r) == (Dot{r, highest + 1}));
  }
  // Insertion order does not matter: equal dot sets give equal (canonical) contexts.
  std::vector<Dot> reversed(dots.rbegin(), dots.rend());
  RC_ASSERT(Build(reversed) == c);
  FlatMap<ReplicaId, uint64_t> no_vector;
  RC_ASSERT(CausalContext::FromParts(no_vector, FlatSet<Dot>(model.begin(), model.end())) == c);
}

RC_GTEST_PROP(CausalContext, JoinIsUnionAndIncludesIsSubset,
              (const std::vector<std::pair<uint8_t, uint8_t>>& raw_a,
               const std::vector<std::pair<uint8_t, uint8_t>>& raw_b)) {
  std::vector<Dot> da = SmallDots(raw_a), db = SmallDots(raw_b);
  std::set<Dot> sa(da.begin(), da.end()), sb(db.begin(), db.end());
  CausalContext a = Build(da), b = Build(db);
  CausalContext ab = a, ba = b;
  ab.Join(b);
  ba.Join(a);
  ExpectCanonical(ab);
  RC_ASSERT(ab == ba);
  std::vector<Dot> both = da;
  both.insert(both.end(), db.begin(), db.end());
  RC_ASSERT(ab == Build(both));
  bool subset = std::includes(sa.begin(), sa.end(), sb.begin(), sb.end());
  RC_ASSERT(a.Includes(b) == subset);
  RC_ASSERT(ab.Includes(a));
  RC_ASSERT(ab.Includes(b));
}

// Contexts with long version-vector ranges (up to 300 dots of one replica) and a cloud: what
// Subtract must handle without a dot-by-dot walk of the ranges.
rc::Gen<CausalContext> GenRangedContext() {
  return rc::gen::exec([] {
    FlatMap<ReplicaId, uint64_t> vector;
    for (ReplicaId r = 1; r <= 4; ++r) {
      if (*rc::gen::arbitrary<bool>()) {
        vector.emplace(ReplicaId{r}, *rc::gen::inRange<uint64_t>(0, 300));
      }
    }
    std::vector<std::pair<uint8_t, uint16_t>> raw =
        *rc::gen::container<std::vector<std::pair<uint8_t, uint16_t>>>(
            rc::gen::pair(rc::gen::arbitrary<uint8_t>(), rc::gen::inRange<uint16_t>(1, 320)));
    FlatSet<Dot> cloud;
    for (auto [r, c] : raw) cloud.insert(Dot{ReplicaId{1} + r % 4, c});
    return CausalContext::FromParts(std::move(vector), std::move(cloud));
  });
}

// The model: every dot a context holds (counters up to 320).
std::set<Dot> DotsOf(const CausalContext& c) {
  std::set<Dot> out;
  for (ReplicaId r = 1; r <= 5; ++r) {
    for (uint64_t n = 1; n <= 321; ++n) {
      if (c.Contains(Dot{r, n})) out.insert(Dot{r, n});
    }
  }
  return out;
}

CausalContext Minus(CausalContext a, const CausalContext& b) {
  a.Subtract(b);
  return a;
}

CausalContext Joined(CausalContext a, const CausalContext& b) {
  a.Join(b);
  return a;
}

RC_GTEST_PROP(CausalContext, SubtractIsSetDifferenceAndEqualsRemovingEachDot, ()) {
  CausalContext a = *GenRangedContext(), b = *GenRangedContext();
  CausalContext d = Minus(a, b);
  ExpectCanonical(d);
  std::set<Dot> sa = DotsOf(a), sb = DotsOf(b), want;
  std::set_difference(sa.begin(), sa.end(), sb.begin(), sb.end(), std::inserter(want, want.end()));
  RC_ASSERT(DotsOf(d) == want);
  // The same representation as forgetting b's dots one by one (what broker/ingest.cpp did).
  CausalContext one_by_one = a;
  for (const Dot& dot : sb) one_by_one.Remove(dot);
  RC_ASSERT(d == one_by_one);
}

RC_GTEST_PROP(CausalContext, SubtractLaws, ()) {
  CausalContext a = *GenRangedContext(), b = *GenRangedContext(), c = *GenRangedContext();
  RC_ASSERT(Minus(a, a).empty());                    // c - c = {}
  RC_ASSERT(Minus(a, CausalContext()) == a);         // c - {} = c
  RC_ASSERT(Minus(CausalContext(), a).empty());      // {} - c = {}
  RC_ASSERT(a.Includes(Minus(a, b)));                // a - b is in a
  RC_ASSERT(Minus(Joined(a, b), b) == Minus(a, b));  // (a ∪ b) - b = a - b, within a
  RC_ASSERT(a.Includes(Minus(Joined(a, b), b)));
  for (const Dot& dot : DotsOf(b)) RC_ASSERT(!Minus(a, b).Contains(dot));  // disjoint from b
  RC_ASSERT(Joined(Minus(a, b), b) == Joined(a, b));           // (a - b) ∪ b = a ∪ b
  RC_ASSERT(Minus(Minus(a, b), c) == Minus(a, Joined(b, c)));  // a - b - c = a - (b ∪ c)
  RC_ASSERT(Minus(Minus(a, b), b) == Minus(a, b));             // idempotent
  CausalContext self = a;
  self.Subtract(self);
  RC_ASSERT(self.empty());
}

}  // namespace
}  // namespace sb

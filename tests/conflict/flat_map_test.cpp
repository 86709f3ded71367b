#include "conflict/flat_map.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "conflict/causal_context.h"

namespace sb {
namespace {

TEST(FlatMap, IteratesInKeyOrderWhateverTheInsertionOrder) {
  FlatMap<std::string, int> m;
  m.emplace("b", 2);
  m.emplace("c", 3);
  m.emplace("a", 1);
  std::vector<std::string> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(FlatMap, InsertionNeverOverwrites) {
  FlatMap<int, std::string> m;
  EXPECT_TRUE(m.emplace(1, "one").second);
  auto [it, inserted] = m.emplace(1, "uno");
  EXPECT_FALSE(inserted);
  EXPECT_EQ(it->second, "one");
  EXPECT_FALSE(m.try_emplace(1, "eins").second);
  EXPECT_FALSE(m.insert({1, "un"}).second);
  EXPECT_EQ(m.at(1), "one");
}

TEST(FlatMap, LooksUpStringKeysWithoutBuildingAString) {
  FlatMap<std::string, int> m{{"owner", 1}, {"deleted", 2}};
  EXPECT_EQ(m.find(std::string_view("owner"))->second, 1);
  EXPECT_TRUE(m.contains("deleted"));
  EXPECT_EQ(m.count("name"), 0u);
  EXPECT_THROW(m.at("name"), std::out_of_range);
}

TEST(FlatMap, EraseIfSeesItemsInOrderOnce) {
  FlatMap<int, int> m{{3, 30}, {1, 10}, {2, 20}, {4, 40}};
  std::vector<int> seen;
  size_t erased = erase_if(m, [&](const auto& item) {
    seen.push_back(item.first);
    return item.first % 2 == 0;
  });
  EXPECT_EQ(erased, 2u);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(m, (FlatMap<int, int>{{1, 10}, {3, 30}}));
}

TEST(FlatMap, RangeConstructorKeepsTheFirstOfEqualKeys) {
  std::vector<std::pair<int, char>> items = {{2, 'a'}, {1, 'b'}, {2, 'c'}};
  FlatMap<int, char> m(items.begin(), items.end());
  EXPECT_EQ(m, (FlatMap<int, char>{{1, 'b'}, {2, 'a'}}));
}

TEST(FlatMap, EmplaceHintAppendsInOrderAndFallsBackOtherwise) {
  FlatMap<int, int> m;
  m.emplace_hint(m.end(), 1, 1);
  m.emplace_hint(m.end(), 3, 3);
  m.emplace_hint(m.end(), 2, 2);  // a wrong hint still lands in order
  m.emplace_hint(m.end(), 3, 4);  // and never overwrites
  EXPECT_EQ(m, (FlatMap<int, int>{{1, 1}, {2, 2}, {3, 3}}));
}

TEST(FlatSet, InsertKeepsItemsSortedAndDistinct) {
  FlatSet<Dot> s;
  s.insert(Dot{2, 1});
  s.insert(Dot{1, 5});
  EXPECT_FALSE(s.insert(Dot{2, 1}).second);
  std::vector<Dot> more = {{1, 2}, {2, 1}, {3, 3}};
  s.insert(more.begin(), more.end());
  EXPECT_EQ(std::vector<Dot>(s.begin(), s.end()),
            (std::vector<Dot>{{1, 2}, {1, 5}, {2, 1}, {3, 3}}));
  EXPECT_EQ(s.erase(Dot{1, 5}), 1u);
  EXPECT_EQ(s.erase(Dot{1, 5}), 0u);
  EXPECT_EQ(s, (FlatSet<Dot>{{3, 3}, {1, 2}, {2, 1}}));
}

// Against std::map and std::set as models: any sequence of inserts and erases leaves the same
// items in the same order.
RC_GTEST_PROP(FlatMap, BehavesLikeStdMap, (const std::vector<std::pair<uint8_t, int>>& ops)) {
  FlatMap<uint8_t, int> flat;
  std::map<uint8_t, int> model;
  for (const auto& [key, value] : ops) {
    if (value % 3 == 0) {
      RC_ASSERT(flat.erase(key) == model.erase(key));
    } else if (value % 3 == 1) {
      RC_ASSERT(flat.emplace(key, value).second == model.emplace(key, value).second);
    } else {
      flat[key] = value;
      model[key] = value;
    }
    RC_ASSERT(flat.size() == model.size());
  }
  using Items = std::vector<std::pair<uint8_t, int>>;
  RC_ASSERT(Items(flat.begin(), flat.end()) == Items(model.begin(), model.end()));
  for (int k = 0; k < 256; ++k) {
    auto key = static_cast<uint8_t>(k);
    RC_ASSERT(flat.contains(key) == (model.count(key) > 0));
  }
}

RC_GTEST_PROP(FlatSet, BehavesLikeStdSet,
              (const std::vector<uint8_t>& adds, const std::vector<uint8_t>& batch,
               const std::vector<uint8_t>& erases)) {
  FlatSet<uint8_t> flat;
  std::set<uint8_t> model;
  for (uint8_t x : adds) RC_ASSERT(flat.insert(x).second == model.insert(x).second);
  flat.insert(batch.begin(), batch.end());
  model.insert(batch.begin(), batch.end());
  for (uint8_t x : erases) RC_ASSERT(flat.erase(x) == model.erase(x));
  RC_ASSERT(std::vector<uint8_t>(flat.begin(), flat.end()) ==
            std::vector<uint8_t>(model.begin(), model.end()));
}

TEST(SmallFlatMap, HoldsItsFirstItemsInlineAndSpillsPastThem) {
  SmallFlatMap<int, std::string, 2> m;
  m.emplace(2, "two");
  m.emplace(1, "one");
  EXPECT_EQ(m.size(), 2u);
  m.emplace(3, "a value too long for any small-string buffer");
  m.emplace(0, "zero");
  std::vector<int> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(m.at(3), "a value too long for any small-string buffer");
  erase_if(m, [](const auto& item) { return item.first != 1; });
  EXPECT_EQ(m, (SmallFlatMap<int, std::string, 2>{{1, "one"}}));
}

TEST(SmallFlatMap, CopiesAndMovesKeepTheItemsInlineOrNot) {
  for (int n : {1, 2, 5}) {
    SmallFlatMap<int, std::string, 2> m;
    for (int i = 0; i < n; ++i) m.emplace(i, std::string(20, static_cast<char>('a' + i)));
    SmallFlatMap<int, std::string, 2> copy = m;
    EXPECT_EQ(copy, m);
    SmallFlatMap<int, std::string, 2> moved = std::move(copy);
    EXPECT_EQ(moved, m);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    SmallFlatMap<int, std::string, 2> assigned{{9, "nine"}, {8, "eight"}, {7, "seven"}};
    assigned = m;
    EXPECT_EQ(assigned, m);
    assigned = std::move(moved);
    EXPECT_EQ(assigned, m);
    copy = assigned;  // a moved-from map is usable again
    EXPECT_EQ(copy, m);
  }
}

TEST(SmallFlatMap, ConvertsToAndComparesWithAPlainFlatMap) {
  FlatMap<int, int> plain{{1, 10}, {2, 20}};
  SmallFlatMap<int, int, 4> small = plain;
  EXPECT_EQ(small, plain);
  EXPECT_EQ(plain, small);
  small.emplace(3, 30);
  EXPECT_FALSE(small == plain);
  FlatMap<int, int> back = std::move(small);
  EXPECT_EQ(back, (FlatMap<int, int>{{1, 10}, {2, 20}, {3, 30}}));
}

TEST(SmallVector, InsertingAnItemOfItselfWhileGrowingCopiesItFirst) {
  SmallVector<std::string, 1> v;
  v.push_back(std::string(40, 'x'));
  v.push_back(v[0]);  // grows: the argument must be read before the items move
  v.insert(v.begin(), v[1]);
  EXPECT_EQ(v.size(), 3u);
  for (const std::string& s : v) EXPECT_EQ(s, std::string(40, 'x'));
}

// As FlatMap above, with items inline and spilled, and values that own memory.
RC_GTEST_PROP(SmallFlatMap, BehavesLikeStdMap, (const std::vector<std::pair<uint8_t, int>>& ops)) {
  SmallFlatMap<uint8_t, std::string, 2> flat;
  std::map<uint8_t, std::string> model;
  for (const auto& [key, value] : ops) {
    std::string text(static_cast<size_t>(value & 31), 'v');
    if (value % 3 == 0) {
      RC_ASSERT(flat.erase(key) == model.erase(key));
    } else if (value % 3 == 1) {
      RC_ASSERT(flat.emplace(key, text).second == model.emplace(key, text).second);
    } else {
      flat[key] = text;
      model[key] = text;
    }
    RC_ASSERT(flat.size() == model.size());
  }
  using Items = std::vector<std::pair<uint8_t, std::string>>;
  RC_ASSERT(Items(flat.begin(), flat.end()) == Items(model.begin(), model.end()));
  SmallFlatMap<uint8_t, std::string, 2> copy = flat;
  RC_ASSERT(copy == flat);
}

}  // namespace
}  // namespace sb

#include "conflict/record_index.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conflict/directory.h"

namespace sb {
namespace {

TEST(RecordIndex, FindsWhatWasInsertedAndNothingElse) {
  Record a("5f0c1d2e-0000-4000-8000-000000000001", "phone");
  Record b("b", "phone");
  Record long_id(std::string(200, 'x'), "phone");  // longer than a slot holds inline
  RecordIndex index;
  EXPECT_EQ(index.Find("b"), nullptr);
  index.Insert(&a);
  index.Insert(&b);
  index.Insert(&long_id);
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.Find(a.id()), &a);
  EXPECT_EQ(index.Find("b"), &b);
  EXPECT_EQ(index.Find(std::string(200, 'x')), &long_id);
  EXPECT_EQ(index.Find(std::string(199, 'x')), nullptr);
  EXPECT_EQ(index.Find(""), nullptr);
}

TEST(RecordIndex, EraseKeepsTheOtherRecordsReachable) {
  std::vector<std::unique_ptr<Record>> records;
  RecordIndex index;
  for (int i = 0; i < 1000; ++i) {
    records.push_back(std::make_unique<Record>("r" + std::to_string(i), "phone"));
    index.Insert(records.back().get());
  }
  for (int i = 0; i < 1000; i += 3) index.Erase("r" + std::to_string(i));
  index.Erase("never indexed");
  for (int i = 0; i < 1000; ++i) {
    Record* found = index.Find("r" + std::to_string(i));
    EXPECT_EQ(found, i % 3 == 0 ? nullptr : records[i].get()) << i;
  }
  index.Clear();
  EXPECT_EQ(index.Find("r1"), nullptr);
  EXPECT_EQ(index.size(), 0u);
}

// Against std::map as a model, over a small id space so that erases hit and probe runs
// collide and wrap around the table.
RC_GTEST_PROP(RecordIndex, BehavesLikeAMapOfIds,
              (const std::vector<std::pair<bool, uint8_t>>& ops)) {
  std::map<std::string, std::unique_ptr<Record>> model;
  RecordIndex index;
  for (const auto& [insert, n] : ops) {
    std::string id = "id-" + std::to_string(n % 64);
    if (insert && !model.count(id)) {
      auto r = std::make_unique<Record>(id, "phone");
      index.Insert(r.get());
      model.emplace(id, std::move(r));
    } else if (!insert) {
      index.Erase(id);
      model.erase(id);
    }
    RC_ASSERT(index.size() == model.size());
  }
  for (int n = 0; n < 64; ++n) {
    std::string id = "id-" + std::to_string(n);
    auto it = model.find(id);
    RC_ASSERT(index.Find(id) == (it == model.end() ? nullptr : it->second.get()));
  }
}

TEST(Directory, CopiesAndMovesKeepTheirIndex) {
  Directory d;
  d.Join(Record("a", "phone").WriteDelta("number", Value(std::string("1")), 1, Hlc{1}));
  d.Join(Record("b", "phone").WriteDelta("number", Value(std::string("2")), 1, Hlc{2}));
  Directory copy = d;
  ASSERT_NE(copy.Find("a"), nullptr);
  EXPECT_NE(copy.Find("a"), d.Find("a"));  // its own records
  Directory moved = std::move(copy);
  ASSERT_NE(moved.Find("b"), nullptr);
  EXPECT_EQ(moved.Find("b")->Displayed("number"), Value(std::string("2")));
  moved.Erase("a");
  EXPECT_EQ(moved.Find("a"), nullptr);
  EXPECT_EQ(moved.size(), 1u);
  Record replacement("b", "phone");
  moved.Replace(replacement);
  EXPECT_EQ(*moved.Find("b"), replacement);
}

}  // namespace
}  // namespace sb

#include "conflict/record.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace sb {
namespace {

const char kId[] = "00000000-0000-4000-8000-000000000001";

Value Text(const char* s) {
  return Value(std::string(s));
}

// Computes a delta from `r`, joins it into `r` and returns it.
template <typename Fn>
Record Do(Record& r, Fn make_delta) {
  Record delta = make_delta(static_cast<const Record&>(r));
  r.Join(delta);
  return delta;
}

Record Write(Record& r, const std::string& field, Value v, ReplicaId replica, uint64_t ms) {
  return Do(r, [&](const Record& s) { return s.WriteDelta(field, v, replica, Hlc::Make(ms, 0)); });
}
Record Add(Record& r, const std::string& field, const std::string& e, ReplicaId replica) {
  return Do(r, [&](const Record& s) { return s.AddDelta(field, e, replica); });
}
Record Remove(Record& r, const std::string& field, const std::string& e) {
  return Do(r, [&](const Record& s) { return s.RemoveDelta(field, e); });
}
Record Delete(Record& r, ReplicaId replica, uint64_t ms) {
  return Do(r, [&](const Record& s) { return s.DeleteDelta(replica, Hlc::Make(ms, 0)); });
}

TEST(Record, WriteDeltaCarriesOnlyTheWrittenFieldAndChangesNothingUntilJoined) {
  Record r(kId, "service");
  Write(r, "name", Text("Casa"), 1, 10);
  Record before = r;
  Record delta = r.WriteDelta("status", Text("active"), 1, Hlc::Make(11, 0));
  EXPECT_EQ(r, before);
  EXPECT_EQ(delta.id(), kId);
  EXPECT_EQ(delta.kind(), "service");
  ASSERT_EQ(delta.fields().size(), 1u);
  EXPECT_TRUE(delta.fields().count("status"));
  EXPECT_TRUE(delta.context().Contains(Dot{1, 2}));   // a fresh dot: (1,1) went to "name"
  EXPECT_FALSE(delta.context().Contains(Dot{1, 1}));  // "name" is not superseded
  r.Join(delta);
  EXPECT_EQ(r.Displayed("name"), Text("Casa"));
  EXPECT_EQ(r.Displayed("status"), Text("active"));
}

TEST(Record, RewritingAFieldSupersedesItsValue) {
  Record r(kId, "service");
  Write(r, "name", Text("old"), 1, 10);
  Record delta = Write(r, "name", Text("new"), 2, 11);
  EXPECT_TRUE(delta.context().Contains(Dot{1, 1}));
  EXPECT_EQ(r.Register("name")->size(), 1u);
  EXPECT_EQ(r.Displayed("name"), Text("new"));
}

TEST(Record, AddDeltaAndRemoveDeltaChangeOneSetField) {
  Record r(kId, "service");
  Record add = Add(r, "categories", "legal", 1);
  EXPECT_EQ(add.fields().size(), 1u);
  ASSERT_NE(r.Set("categories"), nullptr);
  EXPECT_TRUE(r.Set("categories")->Contains("legal"));
  EXPECT_EQ(r.Register("categories"), nullptr);

  Record removal = Remove(r, "categories", "legal");
  EXPECT_TRUE(removal.fields().empty());
  EXPECT_TRUE(removal.context().Contains(Dot{1, 1}));
  EXPECT_EQ(r.Set("categories"), nullptr);  // empty fields are not kept
  EXPECT_TRUE(r.fields().empty());
}

TEST(Record, RemoveDeltaOfAnAbsentElementIsEmpty) {
  Record r(kId, "service");
  Add(r, "categories", "legal", 1);
  Record removal = r.RemoveDelta("categories", "medical");
  EXPECT_TRUE(removal.fields().empty());
  EXPECT_TRUE(removal.context().empty());
  EXPECT_TRUE(r.RemoveDelta("populations_served", "men").context().empty());
}

TEST(Record, DeleteDeltaSupersedesEveryValueButTheOwner) {
  Record r(kId, "service");
  Write(r, kOwnerField, Text("00000000-0000-4000-8000-0000000000aa"), 1, 1);
  Write(r, "name", Text("Casa"), 1, 2);
  Add(r, "categories", "legal", 2);
  EXPECT_FALSE(r.IsDeleted());
  Delete(r, 3, 5);
  EXPECT_TRUE(r.IsDeleted());
  EXPECT_EQ(r.Owner(), "00000000-0000-4000-8000-0000000000aa");
  EXPECT_EQ(r.Register("name"), nullptr);
  EXPECT_EQ(r.Set("categories"), nullptr);
  EXPECT_EQ(r.fields().size(), 2u);  // owner and deleted
}

TEST(Record, DeleteAgainstConcurrentEditKeepsTheEdit) {
  Record base(kId, "service");
  Write(base, "name", Text("Casa"), 1, 1);
  Write(base, "status", Text("active"), 1, 2);
  Record a = base, b = base;
  Record deletion = Delete(a, 1, 10);
  Record edit = Write(b, "name", Text("Casa Luz"), 2, 11);
  Record added = Add(b, "categories", "medical", 2);
  a.Join(edit);
  a.Join(added);
  b.Join(deletion);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.IsDeleted());
  EXPECT_EQ(a.Displayed("name"), Text("Casa Luz"));  // the edit survives
  EXPECT_EQ(a.Register("name")->size(), 1u);         // and the old value is gone
  EXPECT_TRUE(a.Set("categories")->Contains("medical"));
  EXPECT_EQ(a.Register("status"), nullptr);  // unedited values stay deleted
}

TEST(Record, JoinOfConcurrentEditsIsCommutativeAssociativeAndIdempotent) {
  Record a(kId, "phone"), b(kId, "phone"), c(kId, "phone");
  Write(a, "number", Text("+14155550123"), 1, 1);
  Add(a, "languages", "es", 1);
  Write(b, "number", Text("+14155550124"), 2, 1);
  Add(b, "languages", "en", 2);
  Delete(c, 3, 2);
  Record ab = a, ba = b;
  ab.Join(b);
  ba.Join(a);
  EXPECT_EQ(ab, ba);
  Record ab_c = ab, bc = b, a_bc = a;
  ab_c.Join(c);
  bc.Join(c);
  a_bc.Join(bc);
  EXPECT_EQ(ab_c, a_bc);
  Record twice = ab_c;
  twice.Join(ab_c);
  EXPECT_EQ(twice, ab_c);
  EXPECT_EQ(ab.Register("number")->size(), 2u);
  EXPECT_EQ(ab.Set("languages")->Elements(), (std::vector<std::string>{"en", "es"}));
}

TEST(Record, KindClashKeepsTheGreaterKindWhicheverSideJoins) {
  Record loc(kId, "location"), svc(kId, "service");
  Write(loc, "name", Text("a"), 1, 1);
  Write(svc, "name", Text("b"), 2, 1);
  Record x = loc, y = svc;
  x.Join(svc);
  y.Join(loc);
  EXPECT_EQ(x, y);
  EXPECT_EQ(x.kind(), "service");
}

TEST(Record, FieldTypeClashKeepsTheRegisterWhicheverSideJoins) {
  Record reg(kId, "service"), set(kId, "service");
  Write(reg, "categories", Text("legal"), 1, 1);  // bad input: a register where a set belongs
  Add(set, "categories", "medical", 2);
  Record x = reg, y = set;
  x.Join(set);
  y.Join(reg);
  EXPECT_EQ(x, y);
  ASSERT_NE(x.Register("categories"), nullptr);
  EXPECT_EQ(x.Displayed("categories"), Text("legal"));
}

TEST(Record, WritingOverASetFieldSupersedesTheWholeSet) {
  Record r(kId, "service");
  Add(r, "categories", "medical", 1);
  Record delta = Write(r, "categories", Text("x"), 1, 2);
  EXPECT_TRUE(delta.context().Contains(Dot{1, 1}));
  EXPECT_EQ(r.Set("categories"), nullptr);
  EXPECT_EQ(r.Displayed("categories"), Text("x"));
}

TEST(Record, JoinIntoADefaultRecordAdoptsIdAndKind) {
  Record src(kId, "phone");
  Write(src, "number", Text("+14155550123"), 1, 1);
  Record empty;
  empty.Join(src);
  EXPECT_EQ(empty, src);
}

TEST(Record, DisplayedOwnerAndDeletedReadTheRegisters) {
  Record r(kId, "organization");
  EXPECT_FALSE(r.Displayed("name").has_value());
  EXPECT_EQ(r.Owner(), "");
  EXPECT_FALSE(r.IsDeleted());
  Write(r, kDeletedField, Value(false), 1, 1);
  EXPECT_FALSE(r.IsDeleted());
  Write(r, kOwnerField, Value(int64_t{5}), 1, 2);  // not text: no owner
  EXPECT_EQ(r.Owner(), "");
}

TEST(Retract, ARefusedWriteGivesWayToTheBaseAndItsDotIsNeverIssuedAgain) {
  // Replica 2's name is accepted; replica 1 overwrites it and the broker refuses that.
  Record broker(kId, "organization");
  Write(broker, "name", Text("Casa Luz"), 2, 1);
  Record mine = broker;
  Record refused = Write(mine, "name", Text("Casa Sombra"), 1, 2);
  const Dot refused_dot = refused.Register("name")->entries().begin()->first;
  Record back = Retract(broker, refused, 1, &mine);
  EXPECT_EQ(back.Displayed("name"), std::optional<Value>(Text("Casa Luz")));
  EXPECT_EQ(back.fields(), broker.fields());
  EXPECT_TRUE(back.context().Contains(refused_dot));
  EXPECT_EQ(back.context().Next(1), (Dot{1, refused_dot.counter + 1}));
  // The next write of replica 1 takes a fresh dot and supersedes replica 2's name; a later
  // write of replica 2, concurrent with it, stays as a sibling as usual.
  Record next = Write(back, "name", Text("Casa Luz 2"), 1, 3);
  EXPECT_NE(next.Register("name")->entries().begin()->first, refused_dot);
  Record theirs = broker;
  Write(theirs, "name", Text("Casa Luz 3"), 2, 4);
  back.Join(theirs);
  EXPECT_EQ(back.Register("name")->size(), 2u);
}

TEST(Retract, KeepsOnlyTheRefusingReplicasDots) {
  Record broker(kId, "phone");
  Write(broker, "type", Text("voice"), 2, 1);
  Record mine = broker;
  Record refused = Write(mine, "type", Text("text"), 1, 2);  // supersedes replica 2's dot
  Record empty_base(kId, "phone");
  Record back = Retract(empty_base, refused, 1);
  EXPECT_TRUE(back.fields().empty());
  EXPECT_EQ(back.context().ToString(), "{1:1..1}");
}

TEST(Delta, EqualityComparesAuthorStampAndRecords) {
  Record r(kId, "phone");
  Delta a{1, Hlc::Make(1, 0), {r}}, b = a;
  EXPECT_EQ(a, b);
  b.author = 2;
  EXPECT_NE(a, b);
}

// ---------- AuthoredPart: what a replica re-sends to a broker restored from a backup ----------

TEST(Record, AuthoredPartBringsBackTheReplicasWritesToAReplicaThatLostThem) {
  // The broker's older state: replica 2 wrote name; replica 1 then wrote status (both seen).
  Record old(kId, "organization");
  Write(old, "name", Text("Harbor"), 2, 10);
  Write(old, "status", Text("draft"), 1, 11);
  // What the agent of replica 1 holds later: its own newer writes.
  Record later = old;
  Write(later, "status", Text("active"), 1, 20);
  Add(later, "languages", "fr", 1);
  Record part = AuthoredPart(later, 1);
  ASSERT_FALSE(part.fields().empty());
  EXPECT_EQ(part.Register("name"), nullptr);  // not replica 1's
  Record restored = old;
  restored.Join(part);
  EXPECT_EQ(restored.Displayed("status"), Text("active"));
  ASSERT_NE(restored.Set("languages"), nullptr);
  EXPECT_TRUE(restored.Set("languages")->Contains("fr"));
  // Replica 2's value, live in both, is left alone: the states are equal again.
  EXPECT_EQ(restored.Displayed("name"), Text("Harbor"));
  EXPECT_EQ(restored, later);
}

TEST(Record, AuthoredPartsOfEveryWriterTogetherRebuildTheLaterState) {
  Record old(kId, "organization");
  Write(old, "name", Text("Harbor"), 2, 10);
  Write(old, "status", Text("draft"), 1, 11);
  Record later = old;
  Write(later, "status", Text("active"), 1, 20);
  Write(later, "name", Text("Harbor Light"), 2, 21);  // replica 2 wrote after the backup too
  Write(later, "status", Text("open"), 3, 22);        // and a replica the broker never saw
  // In either order of arrival, the parts rebuild the later state.
  for (bool one_first : {true, false}) {
    Record restored = old;
    std::vector<ReplicaId> order =
        one_first ? std::vector<ReplicaId>{1, 2, 3} : std::vector<ReplicaId>{3, 2, 1};
    for (ReplicaId r : order) restored.Join(AuthoredPart(later, r));
    EXPECT_EQ(restored, later) << (one_first ? "1, 2, 3" : "3, 2, 1");
  }
}

TEST(Record, AuthoredPartIsEmptyForAReplicaWithNoLiveWrite) {
  Record r(kId, "organization");
  Write(r, "name", Text("a"), 1, 10);
  Write(r, "name", Text("b"), 2, 11);  // supersedes replica 1's only write
  EXPECT_TRUE(AuthoredPart(r, 1).fields().empty());
  EXPECT_FALSE(AuthoredPart(r, 2).fields().empty());
}

}  // namespace
}  // namespace sb

#include "conflict/replica.h"

#include <gtest/gtest.h>

#include <string>

#include "conflict/codec.h"
#include "conflict/views.h"

namespace sb {
namespace {

const char kOrg[] = "00000000-0000-4000-8000-000000000001";
const char kSvc[] = "00000000-0000-4000-8000-000000000002";
constexpr uint64_t kT0 = 1'700'000'000'000;

Value Text(const char* s) {
  return Value(std::string(s));
}

void ExpectError(const Status& s, Code code, const std::string& needle) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

class ReplicaTest : public ::testing::Test {
 protected:
  const FieldSchema& schema_ = FieldSchema::Hsds();
  Replica a_{1, schema_, 1000};
  Replica b_{2, schema_, 1000};

  Delta MustSet(Replica& r, const std::string& id, const std::string& kind,
                const std::map<std::string, Value>& fields, uint64_t now) {
    Result<Delta> d = r.Set(id, kind, fields, now);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : Delta{};
  }
  // Checks that `apply` fails and leaves b_'s state and clock as they were.
  template <typename Fn>
  Status ExpectApplyChangesNothing(Fn apply) {
    std::string before = EncodeDirectory(b_.state());
    Hlc clock = b_.clock().last();
    Status s = apply();
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(EncodeDirectory(b_.state()), before);
    EXPECT_EQ(b_.clock().last(), clock);
    return s;
  }
};

TEST_F(ReplicaTest, SetCreatesTheRecordAndItsDeltaBringsOthersToTheSameState) {
  Delta d = MustSet(a_, kOrg, "organization",
                    {{"name", Text("Casa Luz")}, {"year_incorporated", Value(int64_t{1999})}}, kT0);
  EXPECT_EQ(d.author, 1u);
  EXPECT_EQ(d.stamp, Hlc::Make(kT0, 0));
  ASSERT_EQ(d.records.size(), 1u);
  const Record* r = a_.state().Find(kOrg);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind(), "organization");
  EXPECT_EQ(r->Displayed("name"), Text("Casa Luz"));
  EXPECT_EQ(r->Displayed("year_incorporated"), Value(int64_t{1999}));
  ASSERT_TRUE(b_.Apply(d, kT0).ok());
  EXPECT_EQ(a_.state(), b_.state());
}

TEST_F(ReplicaTest, SetValidatesEveryFieldFirstAndChangesNothingOnError) {
  MustSet(a_, kOrg, "organization", {{"name", Text("Casa")}}, kT0);
  Directory before = a_.state();
  Hlc clock = a_.clock().last();
  Result<Delta> d = a_.Set(kOrg, "organization",
                           {{"alternate_name", Text("CL")},  // valid, sorted before the bad one
                            {"name", Text("Casa Luz")},
                            {"year_incorporated", Value(int64_t{1700})}},
                           kT0 + 1);
  ASSERT_FALSE(d.ok());
  ExpectError(d.status(), Code::kInvalidArgument, "organization.year_incorporated");
  EXPECT_EQ(a_.state(), before);
  EXPECT_EQ(a_.clock().last(), clock);
}

TEST_F(ReplicaTest, SetRefusesBadIdsUnknownKindsUnknownFieldsAndNoFields) {
  ExpectError(a_.Set("not-a-uuid", "organization", {{"name", Text("x")}}, kT0).status(),
              Code::kInvalidArgument, "record id 'not-a-uuid'");
  ExpectError(a_.Set(kOrg, "shelter", {{"name", Text("x")}}, kT0).status(), Code::kInvalidArgument,
              "unknown kind 'shelter'");
  ExpectError(a_.Set(kOrg, "organization", {{"nickname", Text("x")}}, kT0).status(),
              Code::kInvalidArgument, "organization.nickname: unknown field");
  ExpectError(a_.Set(kOrg, "organization", {}, kT0).status(), Code::kInvalidArgument, "no fields");
  EXPECT_EQ(a_.state().size(), 0u);
}

TEST_F(ReplicaTest, SetRefusesAnotherKindForAnExistingRecord) {
  MustSet(a_, kOrg, "organization", {{"name", Text("Casa")}}, kT0);
  ExpectError(a_.Set(kOrg, "service", {{"name", Text("x")}}, kT0 + 1).status(),
              Code::kInvalidArgument, "is a organization, not a service");
}

TEST_F(ReplicaTest, EditingADeletedRecordIsRefusedUntilItIsRestored) {
  MustSet(a_, kSvc, "service", {{"name", Text("Shelter")}, {kOwnerField, Text(kOrg)}}, kT0);
  ASSERT_TRUE(a_.Delete(kSvc, kT0 + 1).ok());
  EXPECT_TRUE(a_.state().Find(kSvc)->IsDeleted());
  EXPECT_EQ(a_.state().Find(kSvc)->Owner(), kOrg);
  ExpectError(a_.Set(kSvc, "service", {{"name", Text("x")}}, kT0 + 2).status(),
              Code::kFailedPrecondition, "restore it first");
  ExpectError(a_.AddElement(kSvc, "categories", "legal", kT0 + 2).status(),
              Code::kFailedPrecondition, "deleted");
  ExpectError(a_.Delete(kSvc, kT0 + 2).status(), Code::kFailedPrecondition, "already deleted");

  ASSERT_TRUE(a_.Restore(kSvc, kT0 + 3).ok());
  EXPECT_FALSE(a_.state().Find(kSvc)->IsDeleted());
  EXPECT_FALSE(a_.state().Find(kSvc)->Displayed("name").has_value());  // the delete took it
  EXPECT_TRUE(a_.Set(kSvc, "service", {{"name", Text("Back")}}, kT0 + 4).ok());
  ExpectError(a_.Restore(kSvc, kT0 + 5).status(), Code::kFailedPrecondition, "is not deleted");
}

TEST_F(ReplicaTest, RestoreKeepsAConcurrentEditThatSurvivedTheDelete) {
  Delta base = MustSet(a_, kSvc, "service", {{"name", Text("Shelter")}}, kT0);
  ASSERT_TRUE(b_.Apply(base, kT0).ok());
  Result<Delta> del = a_.Delete(kSvc, kT0 + 1);
  Delta edit = MustSet(b_, kSvc, "service", {{"description", Text("edited")}}, kT0 + 1);
  ASSERT_TRUE(del.ok());
  ASSERT_TRUE(a_.Apply(edit, kT0 + 2).ok());
  ASSERT_TRUE(a_.Restore(kSvc, kT0 + 3).ok());
  const Record* r = a_.state().Find(kSvc);
  EXPECT_FALSE(r->IsDeleted());
  EXPECT_EQ(r->Displayed("description"), Text("edited"));
  EXPECT_FALSE(r->Displayed("name").has_value());
}

// BUG (conflict/replica.cpp, Replica::Set): Set accepts the `deleted` field, so
// Set(id, kind, {{"deleted", true}}) marks a record deleted without superseding its values (as
// Delete does). Views then report every remaining field as edited_while_deleted although nobody
// edited concurrently, on every replica that receives the delta. Either Set should refuse
// `deleted` (Delete and Restore exist for that) or route deleted=true through DeleteDelta.
TEST_F(ReplicaTest, SetDeletedTrueDoesNotReportUneditedFieldsAsEditedWhileDeleted) {
  MustSet(a_, kSvc, "service", {{"name", Text("Shelter")}, {"status", Text("active")}}, kT0);
  Result<Delta> d = a_.Set(kSvc, "service", {{kDeletedField, Value(true)}}, kT0 + 1);
  if (!d.ok()) {  // refusing it (use Delete) is a correct outcome too
    EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << d.status().ToString();
    return;
  }
  const Record& r = *a_.state().Find(kSvc);
  EXPECT_TRUE(r.IsDeleted());
  std::vector<Conflict> conflicts = Conflicts(r, schema_);
  for (const Conflict& c : conflicts) {
    ADD_FAILURE() << "spurious " << ConflictKindName(c.kind) << " on " << c.field;
  }
}

TEST_F(ReplicaTest, OperationsOnAMissingRecordAreNotFound) {
  EXPECT_EQ(a_.AddElement(kSvc, "categories", "legal", kT0).status().code(), Code::kNotFound);
  EXPECT_EQ(a_.RemoveElement(kSvc, "categories", "legal", kT0).status().code(), Code::kNotFound);
  EXPECT_EQ(a_.Delete(kSvc, kT0).status().code(), Code::kNotFound);
  EXPECT_EQ(a_.Restore(kSvc, kT0).status().code(), Code::kNotFound);
}

TEST_F(ReplicaTest, AddAndRemoveElementsAreValidated) {
  MustSet(a_, kSvc, "service", {{"name", Text("Shelter")}}, kT0);
  ASSERT_TRUE(a_.AddElement(kSvc, "categories", "legal", kT0 + 1).ok());
  EXPECT_TRUE(a_.state().Find(kSvc)->Set("categories")->Contains("legal"));
  ExpectError(a_.AddElement(kSvc, "categories", "spa", kT0 + 1).status(), Code::kInvalidArgument,
              "service.categories");
  ExpectError(a_.AddElement(kSvc, "name", "x", kT0 + 1).status(), Code::kInvalidArgument,
              "not a set");
  ExpectError(a_.RemoveElement(kSvc, "categories", "medical", kT0 + 1).status(), Code::kNotFound,
              "no element 'medical'");
  ASSERT_TRUE(a_.RemoveElement(kSvc, "categories", "legal", kT0 + 2).ok());
  EXPECT_EQ(a_.state().Find(kSvc)->Set("categories"), nullptr);
}

TEST_F(ReplicaTest, SetFieldsHoldAtMostTheirElementLimit) {
  MustSet(a_, kOrg, "organization", {{"name", Text("Casa")}}, kT0);
  size_t added = 0;
  for (char x = 'A'; x <= 'Z' && added < 64; ++x) {
    for (char y = 'A'; y <= 'Z' && added < 64; ++y, ++added) {
      ASSERT_TRUE(a_.AddElement(kOrg, "countries_served", std::string{x, y}, kT0 + 1).ok());
    }
  }
  ExpectError(a_.AddElement(kOrg, "countries_served", "ZZ", kT0 + 2).status(),
              Code::kInvalidArgument, "more than 64 elements");
  EXPECT_TRUE(a_.AddElement(kOrg, "countries_served", "AA", kT0 + 2).ok());  // re-add is fine
}

TEST_F(ReplicaTest, ApplyingTheSameDeltaTwiceIsIdempotent) {
  Delta d = MustSet(a_, kSvc, "service", {{"name", Text("Shelter")}}, kT0);
  Result<Delta> add = a_.AddElement(kSvc, "categories", "legal", kT0 + 1);
  ASSERT_TRUE(add.ok());
  ASSERT_TRUE(b_.Apply(d, kT0 + 1).ok());
  ASSERT_TRUE(b_.Apply(*add, kT0 + 1).ok());
  Directory once = b_.state();
  ASSERT_TRUE(b_.Apply(*add, kT0 + 2).ok());
  ASSERT_TRUE(b_.Apply(d, kT0 + 2).ok());
  EXPECT_EQ(b_.state(), once);
  EXPECT_EQ(b_.state(), a_.state());
}

TEST_F(ReplicaTest, ApplyRefusesADeltaStampedBeyondTheSkewLimit) {
  Replica fast(3, schema_, 1000);
  Delta d = MustSet(fast, kSvc, "service", {{"name", Text("x")}}, kT0 + 1001);
  Status s = ExpectApplyChangesNothing([&] { return b_.Apply(d, kT0); });
  ExpectError(s, Code::kInvalidArgument, "clock skew");
  EXPECT_NE(s.message().find("replica 3"), std::string::npos) << s.message();
  EXPECT_TRUE(b_.Apply(d, kT0 + 1).ok());  // exactly at the limit is accepted
}

TEST_F(ReplicaTest, ApplyRefusesInvalidDeltasAndChangesNothing) {
  MustSet(b_, kSvc, "service", {{"name", Text("Shelter")}}, kT0);
  Delta good = MustSet(a_, kOrg, "organization", {{"name", Text("Casa")}}, kT0);
  auto refuse = [&](Delta bad, const std::string& needle) {
    Status s = ExpectApplyChangesNothing([&] { return b_.Apply(bad, kT0); });
    ExpectError(s, Code::kInvalidArgument, needle);
  };
  Delta d = good;
  d.records[0] = Record(kOrg, "shelter");
  refuse(d, "unknown kind");
  d = good;
  d.records[0] = Record("../etc", "organization");
  refuse(d, "record id");
  // A delta may not change a record's kind.
  refuse(MustSet(a_, kSvc, "location", {{"name", Text("x")}}, kT0), "a delta may not make it a");
  // Values are checked against the schema as the author's Set would have.
  d = good;
  d.records[0] = Record(kOrg, "organization").WriteDelta("name", Text(""), 1, good.stamp);
  refuse(d, "organization.name");
  d.records[0] = Record(kOrg, "organization").WriteDelta("nickname", Text("x"), 1, good.stamp);
  refuse(d, "unknown field");
  d.records[0] =
      Record(kOrg, "organization").WriteDelta("countries_served", Text("NG"), 1, good.stamp);
  refuse(d, "must be set of text");
  d.records[0] = Record(kOrg, "organization").AddDelta("name", "x", 1);
  refuse(d, "organization.name: must be text");
  d.records[0] = Record(kOrg, "organization").AddDelta("countries_served", "Nigeria", 1);
  refuse(d, "organization.countries_served");
  d.records[0] =
      Record(kOrg, "organization").WriteDelta("name", Text("x"), 1, Hlc::Make(kT0 + 1, 0));
  refuse(d, "stamped after its delta");
  // All or nothing: a valid record before an invalid one is not applied either.
  d = good;
  d.records.push_back(Record(kSvc, "organization"));
  refuse(d, "a delta may not make it a");
  EXPECT_EQ(b_.state().Find(kOrg), nullptr);
  EXPECT_TRUE(b_.Apply(good, kT0).ok());
}

TEST_F(ReplicaTest, ApplyMovesTheClockPastTheRemoteStamp) {
  Delta d = MustSet(a_, kSvc, "service", {{"name", Text("x")}}, kT0 + 500);
  ASSERT_TRUE(b_.Apply(d, kT0).ok());
  Delta mine = MustSet(b_, kSvc, "service", {{"name", Text("y")}}, kT0);
  EXPECT_GT(mine.stamp, d.stamp);
  EXPECT_EQ(b_.state().Find(kSvc)->Displayed("name"), Text("y"));
  EXPECT_EQ(b_.state().Find(kSvc)->Register("name")->size(), 1u);  // it had seen "x"
}

}  // namespace
}  // namespace sb

// The nemesis checker's self-test: a small history and the views it should leave pass; then
// each corruption of those views (an acknowledged write dropped, a value changed on one agent,
// a referral delivered twice, ...) must be reported, under the right heading. The nemesis test
// itself also corrupts the views of its real run the same way (CorruptionsOfARealRun there).
#include <gtest/gtest.h>

#include "tests/nemesis/checker.h"

namespace sb::nemesis {
namespace {

constexpr char kOrg[] = "11111111-1111-4111-8111-111111111111";
constexpr char kOrgB[] = "22222222-2222-4222-8222-222222222222";
constexpr char kSvc[] = "11111111-0000-4000-8000-000000000001";

WriteOp Op(OpKind kind, const std::string& agent, const std::string& record, uint64_t begin,
           uint64_t end, bool acked = true) {
  WriteOp w;
  w.kind = kind;
  w.agent = agent;
  w.record = record;
  w.begin_us = begin;
  w.end_us = end;
  w.acked = acked;
  return w;
}

WriteOp Scalar(const std::string& agent, const std::string& record, const std::string& field,
               json value, uint64_t begin, uint64_t end, bool acked = true) {
  WriteOp w = Op(OpKind::kScalar, agent, record, begin, end, acked);
  w.field = field;
  w.value = std::move(value);
  return w;
}

WriteOp SetWrite(const std::string& agent, const std::string& record, const std::string& field,
                 json contents, uint64_t begin, uint64_t end) {
  WriteOp w = Op(OpKind::kSet, agent, record, begin, end);
  w.field = field;
  w.value = std::move(contents);
  return w;
}

FieldView F(json value, std::vector<json> siblings = {}) {
  FieldView f;
  f.value = std::move(value);
  f.siblings = std::move(siblings);
  return f;
}

ReferralView Listed(const std::string& id, const std::string& box, const std::string& status,
                    std::vector<std::string> actions) {
  ReferralView r;
  r.id = id;
  r.box = box;
  r.status = status;
  r.sender = kOrg;
  r.recipient = kOrgB;
  r.actions = std::move(actions);
  return r;
}

class CheckerSelfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.org_of = {{"a", kOrg}, {"b", kOrgB}, {"m", "44444444-4444-4444-8444-444444444444"}};
    WriteOp create = Op(OpKind::kCreate, "a", kOrg, 0, 10);
    create.fields = {{"name", "A0"}, {"countries_served", {"NG"}}};
    h_.writes.push_back(create);
    h_.writes.push_back(Scalar("m", kOrg, "approved", true, 20, 30));
    // a and m write the name concurrently; both stay (siblings), m's is displayed.
    h_.writes.push_back(Scalar("a", kOrg, "name", "A1", 100, 110));
    h_.writes.push_back(Scalar("m", kOrg, "name", "M1", 105, 115));
    // a's later write supersedes its earlier one.
    h_.writes.push_back(Scalar("a", kOrg, "description", "d1", 120, 130));
    h_.writes.push_back(Scalar("a", kOrg, "description", "d2", 140, 150));
    // a write without an answer, which did not land.
    h_.writes.push_back(Scalar("a", kOrg, "year_incorporated", 1990, 160, 170, false));
    // Set: a replaces {NG} with {GH}; m concurrently adds IT to what it had seen ({NG}).
    h_.writes.push_back(SetWrite("a", kOrg, "countries_served", {"GH"}, 200, 210));
    h_.writes.push_back(SetWrite("m", kOrg, "countries_served", {"NG", "IT"}, 205, 215));
    // A service deleted by a and restored by a afterwards.
    WriteOp svc = Op(OpKind::kCreate, "a", kSvc, 300, 310);
    svc.fields = {{"name", "S0"}, {"categories", {"legal"}}};
    h_.writes.push_back(svc);
    h_.writes.push_back(Op(OpKind::kDelete, "a", kSvc, 320, 330));
    h_.writes.push_back(Op(OpKind::kRestore, "a", kSvc, 340, 350));

    ReferralOp send;
    send.action = "send";
    send.agent = "a";
    send.to = "b";
    send.id = "r1";
    send.begin_us = 400;
    send.end_us = 410;
    send.acked = true;
    h_.referrals.push_back(send);
    ReferralOp accept = send;
    accept.action = "accept";
    accept.agent = "b";
    accept.to.clear();
    accept.begin_us = 420;
    accept.end_us = 430;
    h_.referrals.push_back(accept);

    RecordView org;
    org.fields["name"] = F("M1", {"A1", "M1"});
    org.fields["description"] = F("d2");
    org.fields["approved"] = F(true);
    // add-wins: a's GH and m's IT stay; a removed the NG it had seen, but m's concurrent
    // write re-added it, so it stays too.
    org.fields["countries_served"] = F(json::array({"GH", "IT", "NG"}));
    RecordView service;
    service.fields["name"] = F("S0");
    service.fields["categories"] = F(json::array({"legal"}));
    o_.broker = {{kOrg, org}, {kSvc, service}};
    for (const char* agent : {"a", "b", "m"}) o_.agents[agent] = o_.broker;
    std::vector<std::string> steps = {"send", "deliver", "accept"};
    o_.referrals["a"] = {Listed("r1", "outbox", "accepted", steps)};
    o_.referrals["b"] = {Listed("r1", "inbox", "accepted", steps)};
  }

  History h_;
  Observation o_;
};

TEST_F(CheckerSelfTest, TheConsistentViewsPass) {
  Report r = Check(h_, o_);
  EXPECT_TRUE(r.ok()) << r.Summary();
  EXPECT_EQ(r.acked["scalar"], 5u);
  EXPECT_EQ(r.acked["set"], 2u);
  EXPECT_EQ(r.attempted["scalar"], 1u);
  EXPECT_EQ(r.referrals_checked, 1u);
}

TEST_F(CheckerSelfTest, ADroppedScalarWriteIsLost) {
  // a's A1 vanishes from the siblings everywhere: nothing written after it could remove it.
  for (View* v : {&o_.broker, &o_.agents["a"], &o_.agents["b"], &o_.agents["m"]}) {
    (*v)[kOrg].fields["name"] = F("M1");
  }
  Report r = Check(h_, o_);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_NE(r.lost[0].find("\"A1\""), std::string::npos) << r.lost[0];
  EXPECT_TRUE(r.diverged.empty()) << r.Summary();
}

TEST_F(CheckerSelfTest, ADroppedSetElementIsLost) {
  for (View* v : {&o_.broker, &o_.agents["a"], &o_.agents["b"], &o_.agents["m"]}) {
    (*v)[kOrg].fields["countries_served"] = F(json::array({"GH", "NG"}));
  }
  Report r = Check(h_, o_);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_NE(r.lost[0].find("\"IT\""), std::string::npos) << r.lost[0];
}

TEST_F(CheckerSelfTest, AWriteTheAgentAnsweredAsUnchangedClaimsNothing) {
  // b writes the name its agent already showed: the agent answers "unchanged" and writes
  // nothing, so the value's absence is no loss; the same write answered as a change is.
  h_.writes.push_back(Scalar("b", kOrg, "name", "B0", 500, 510));
  h_.writes.back().unchanged = true;
  Report r = Check(h_, o_);
  EXPECT_TRUE(r.lost.empty()) << r.Summary();
  h_.writes.back().unchanged = false;
  r = Check(h_, o_);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_NE(r.lost[0].find("\"B0\""), std::string::npos) << r.lost[0];
}

TEST_F(CheckerSelfTest, AnUndoneRestoreIsLost) {
  for (View* v : {&o_.broker, &o_.agents["a"], &o_.agents["b"], &o_.agents["m"]}) {
    (*v)[kSvc].deleted = true;
  }
  Report r = Check(h_, o_);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_NE(r.lost[0].find("restore by a"), std::string::npos) << r.lost[0];
}

TEST_F(CheckerSelfTest, ValuesALaterDeleteRemovedAreNotLost) {
  // A delete removes every value its writer had seen; the restore after it brings none back.
  for (View* v : {&o_.broker, &o_.agents["a"], &o_.agents["b"], &o_.agents["m"]}) {
    (*v)[kSvc].fields.clear();
  }
  Report r = Check(h_, o_);
  EXPECT_TRUE(r.ok()) << r.Summary();
}

TEST_F(CheckerSelfTest, AValueChangedOnOneAgentIsDivergence) {
  o_.agents["b"][kOrg].fields["description"] = F("d1");
  Report r = Check(h_, o_);
  ASSERT_EQ(r.diverged.size(), 1u) << r.Summary();
  EXPECT_NE(r.diverged[0].find("b: "), std::string::npos) << r.diverged[0];
  EXPECT_TRUE(r.lost.empty()) << r.Summary();
}

TEST_F(CheckerSelfTest, ARecordMissingOnOneAgentIsDivergence) {
  o_.agents["m"].erase(kSvc);
  Report r = Check(h_, o_);
  ASSERT_EQ(r.diverged.size(), 1u) << r.Summary();
  EXPECT_NE(r.diverged[0].find("m: lacks"), std::string::npos) << r.diverged[0];
}

TEST_F(CheckerSelfTest, AValueNobodyWroteIsAPhantom) {
  for (View* v : {&o_.broker, &o_.agents["a"], &o_.agents["b"], &o_.agents["m"]}) {
    (*v)[kOrg].fields["year_incorporated"] = F(1850);
  }
  Report r = Check(h_, o_);
  ASSERT_EQ(r.phantoms.size(), 1u) << r.Summary();
}

TEST_F(CheckerSelfTest, ARejectedWriteThatTheWriterWasToldOfIsNotLost) {
  for (View* v : {&o_.broker, &o_.agents["a"], &o_.agents["b"], &o_.agents["m"]}) {
    (*v)[kOrg].fields["name"] = F("M1");
  }
  o_.rejected_records["a"] = {kOrg};
  Report r = Check(h_, o_);
  EXPECT_TRUE(r.ok()) << r.Summary();
  EXPECT_EQ(r.rejected, 1u);
}

TEST_F(CheckerSelfTest, AReferralDeliveredTwiceIsReported) {
  o_.referrals["b"].push_back(o_.referrals["b"].front());
  Report r = Check(h_, o_);
  ASSERT_EQ(r.referral_problems.size(), 1u) << r.Summary();
  EXPECT_NE(r.referral_problems[0].find("delivered 2 times"), std::string::npos)
      << r.referral_problems[0];
}

TEST_F(CheckerSelfTest, ADeliveryStepRecordedTwiceIsReported) {
  o_.referrals["b"][0].actions = {"send", "deliver", "deliver", "accept"};
  Report r = Check(h_, o_);
  ASSERT_EQ(r.referral_problems.size(), 1u) << r.Summary();
  EXPECT_NE(r.referral_problems[0].find("'deliver' recorded twice"), std::string::npos);
}

TEST_F(CheckerSelfTest, AReferralMissingAtTheRecipientIsLost) {
  o_.referrals["b"].clear();
  Report r = Check(h_, o_);
  ASSERT_FALSE(r.referral_problems.empty()) << r.Summary();
  EXPECT_NE(r.referral_problems[0].find("never reached the recipient"), std::string::npos);
}

TEST_F(CheckerSelfTest, SidesThatDisagreeOnTheStatusAreReported) {
  o_.referrals["a"][0].status = "delivered";
  o_.referrals["a"][0].actions = {"send", "deliver"};
  Report r = Check(h_, o_);
  ASSERT_EQ(r.referral_problems.size(), 1u) << r.Summary();
  EXPECT_NE(r.referral_problems[0].find("sender says delivered, recipient accepted"),
            std::string::npos);
}

TEST_F(CheckerSelfTest, AnAcknowledgedReferralStepThatVanishedIsLost) {
  for (const char* agent : {"a", "b"}) {
    o_.referrals[agent][0].status = "delivered";
    o_.referrals[agent][0].actions = {"send", "deliver"};
  }
  Report r = Check(h_, o_);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_NE(r.lost[0].find("'accept' by b"), std::string::npos) << r.lost[0];
}

TEST_F(CheckerSelfTest, AStepStillWaitingIsReported) {
  o_.referrals["b"][0].waiting = 1;
  Report r = Check(h_, o_);
  ASSERT_EQ(r.referral_problems.size(), 1u) << r.Summary();
}

TEST_F(CheckerSelfTest, RecordsReadFromTheApisShapes) {
  json agent_shape = {
      {"id", kOrg},
      {"deleted", false},
      {"fields",
       {{"name",
         {{"value", "M1"},
          {"conflict", true},
          {"siblings", {{{"value", "M1"}, {"by", "x"}}, {{"value", "A1"}, {"by", "y"}}}}}},
        {"countries_served", {{"value", {"NG", "GH"}}}},
        {"email", {{"value", "x@example.org"}}}}}};
  RecordView v = RecordFromJson(agent_shape);
  EXPECT_FALSE(v.deleted);
  ASSERT_EQ(v.fields.size(), 2u) << "only the compared fields";
  EXPECT_EQ(v.fields["name"], F("M1", {"A1", "M1"}));
  EXPECT_EQ(v.fields["countries_served"], F(json::array({"GH", "NG"})));
}

}  // namespace
}  // namespace sb::nemesis

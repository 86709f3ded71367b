// The review queue (broker/review.h): derived from state, decisions as maintainer writes, the
// moderation views agents show (conflict/views.h), and the broker side: refused pushes kept
// durably, maintainer writes logged and signed, a queue that rebuilds identically after a
// restart. BrokerCore runs over a real RocksDB store in a temporary directory.
#include "broker/review.h"

#include <gtest/gtest.h>

#include <mutex>

#include "broker/broker_core.h"
#include "broker/review_service.h"
#include "conflict/codec.h"
#include "conflict/views.h"
#include "store/audit.h"
#include "testing/edits.h"
#include "testing/session_fixture.h"
#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using testing::Uuid;

using nlohmann::json;

const FieldSchema& S() {
  return FieldSchema::Hsds();
}

const std::string kOrgA = Uuid(0xa), kOrgB = Uuid(0xb), kOrgM = Uuid(0xc);
const std::string kPhone = Uuid(0xa01);
constexpr ReplicaId kA = 0xa1, kB = 0xb1, kBroker = 0x99;
constexpr uint64_t kT0 = 1'790'000'000'000;

Value T(const char* s) {
  return Value(std::string(s));
}

// Writes `values` to record `id` in `dir` as `replica` at `ms`; returns the record delta.
Record Write(Directory& dir, const std::string& id, const std::string& kind,
             std::map<std::string, Value> values, ReplicaId replica, uint64_t ms) {
  RecordEdit e{id, kind, std::move(values), {}, false, false};
  auto plan = PlanEdit(S(), dir.Find(id), e, replica, Hlc::Make(ms, 0));
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  dir.Join(plan->delta);
  return plan->delta;
}

std::string OrgOf(ReplicaId r) {
  return r == kA ? kOrgA : r == kB ? kOrgB : r == kBroker ? kOrgM : "";
}

std::vector<ReviewItem> Queue(const Directory& dir, const std::vector<RefusedPush>& refused = {}) {
  return DeriveQueue(dir, refused, OrgOf, S());
}

const ReviewItem* ItemOf(const std::vector<ReviewItem>& q, ReviewKind kind,
                         const std::string& field = "") {
  for (const ReviewItem& it : q) {
    if (it.kind == kind && (field.empty() || it.field == field)) return &it;
  }
  return nullptr;
}

void Decide(Directory& dir, const ReviewItem& item, Decision d, uint64_t ms) {
  auto deltas = PlanDecision(item, d, dir, S(), kBroker, Hlc::Make(ms, 0));
  ASSERT_TRUE(deltas.ok()) << deltas.status().ToString();
  for (const Record& r : *deltas) dir.Join(r);
}

// A vetted organization A with a published phone number.
Directory Baseline() {
  Directory dir;
  Write(dir, kOrgA, "organization", {{"owner", T(kOrgA.c_str())}, {"name", T("Harbor Light")}}, kA,
        kT0);
  Write(dir, kOrgA, "organization", {{"approved", Value(true)}}, kBroker, kT0 + 1);
  Write(dir, kPhone, "phone",
        {{"owner", T(kOrgA.c_str())},
         {"organization_id", T(kOrgA.c_str())},
         {"number", T("+14155550123")}},
        kA, kT0 + 2);
  Write(dir, kPhone, "phone", {{"number@published", T("+14155550123")}}, kBroker, kT0 + 3);
  return dir;
}

// ---------- views ----------

TEST(ModerationViews, OtherPartnersSeeThePublishedValueAndTheOwnerSeesItsChangePending) {
  Directory dir = Baseline();
  Write(dir, kPhone, "phone", {{"number", T("+14155550999")}}, kA, kT0 + 10);
  const Record& phone = *dir.Find(kPhone);
  RecordView mine = ProposedView(phone, S());
  EXPECT_EQ(mine.fields.at("number").value, T("+14155550999"));
  EXPECT_TRUE(mine.fields.at("number").pending);
  RecordView theirs = ProposedView(PublishedProjection(phone, S()), S());
  EXPECT_EQ(theirs.fields.at("number").value, T("+14155550123"));
  EXPECT_FALSE(theirs.fields.at("number").pending);
  EXPECT_EQ(theirs, PublishedView(PublishedProjection(phone, S()), S()));
}

TEST(ModerationViews, ANeverApprovedValueIsAbsentForOthersAndAClearedOneIsNotPending) {
  Directory dir;
  Write(dir, kPhone, "phone", {{"owner", T(kOrgA.c_str())}, {"number", T("+14155550123")}}, kA,
        kT0);
  EXPECT_FALSE(
      ProposedView(PublishedProjection(*dir.Find(kPhone), S()), S()).fields.count("number"));
  Write(dir, kPhone, "phone", {{"number", Value(Null{})}}, kBroker, kT0 + 1);
  EXPECT_FALSE(ProposedView(*dir.Find(kPhone), S()).fields.at("number").pending);
}

TEST(ModerationViews, RejectionNotesAreShadowsThatOnlyTheOwnerReads) {
  EXPECT_TRUE(IsShadowField("number@rejected"));
  EXPECT_TRUE(IsShadowField("number@rejected_reason"));
  EXPECT_FALSE(IsShadowField("number"));
  EXPECT_EQ(BaseFieldName("number@rejected_reason"), "number");
  const FieldSpec* note = S().Field("phone", "number@rejected_reason");
  ASSERT_NE(note, nullptr);
  EXPECT_TRUE(note->maintainer_only);
  EXPECT_EQ(note->audience, Audience::kOwner);
  EXPECT_EQ(S().Field("phone", "number@rejected")->pattern, Pattern::kPhone);
  EXPECT_TRUE(S().Field("organization", kVettingNoteField)->maintainer_only);
}

// ---------- the queue ----------

TEST(ReviewQueue, APartnersPhoneChangeWaitsAndApprovalPublishesIt) {
  Directory dir = Baseline();
  EXPECT_TRUE(Queue(dir).empty());
  Write(dir, kPhone, "phone", {{"number", T("+14155550999")}}, kA, kT0 + 10);
  auto q = Queue(dir);
  ASSERT_EQ(q.size(), 1u);
  const ReviewItem& it = q[0];
  EXPECT_EQ(it.kind, ReviewKind::kModeratedChange);
  EXPECT_EQ(it.id.substr(0, 2), "m-");
  EXPECT_EQ(it.org, kOrgA);
  EXPECT_EQ(it.org_name, "Harbor Light");
  EXPECT_EQ(it.record, kPhone);
  EXPECT_EQ(it.field, "number");
  EXPECT_EQ(it.before, "+14155550123");
  EXPECT_EQ(it.after, "+14155550999");
  EXPECT_EQ(it.who.org, kOrgA);
  EXPECT_EQ(it.who.at_ms, kT0 + 10);
  Decide(dir, it, {ReviewAction::kApprove, "", nullptr}, kT0 + 20);
  EXPECT_TRUE(Queue(dir).empty());
  EXPECT_EQ(
      ProposedView(PublishedProjection(*dir.Find(kPhone), S()), S()).fields.at("number").value,
      T("+14155550999"));
}

TEST(ReviewQueue, ARejectionRevertsTheProposalAndLeavesTheOwnerTheReason) {
  Directory dir = Baseline();
  Write(dir, kPhone, "phone", {{"number", T("+14155550999")}}, kA, kT0 + 10);
  ReviewItem it = Queue(dir).at(0);
  Decide(dir, it, {ReviewAction::kReject, "rings a private flat", nullptr}, kT0 + 20);
  EXPECT_TRUE(Queue(dir).empty());
  const Record& phone = *dir.Find(kPhone);
  EXPECT_EQ(phone.Displayed("number"), T("+14155550123"));
  EXPECT_EQ(phone.Displayed("number@rejected"), T("+14155550999"));
  EXPECT_EQ(phone.Displayed("number@rejected_reason"), T("rings a private flat"));
  EXPECT_FALSE(PublishedProjection(phone, S()).fields().count("number@rejected_reason"));
  // Proposing again brings a new item; approving it clears the old note.
  Write(dir, kPhone, "phone", {{"number", T("+14155550777")}}, kA, kT0 + 30);
  ReviewItem again = Queue(dir).at(0);
  EXPECT_NE(again.id, it.id);
  Decide(dir, again, {ReviewAction::kApprove, "", nullptr}, kT0 + 40);
  EXPECT_EQ(dir.Find(kPhone)->Displayed("number@rejected_reason"), Value(Null{}));
}

TEST(ReviewQueue, DecisionsThatBreakTheRulesAreRefusedAndPlanNothing) {
  Directory dir = Baseline();
  Write(dir, kPhone, "phone", {{"number", T("+14155550999")}}, kA, kT0 + 10);
  ReviewItem it = Queue(dir).at(0);
  Hlc at = Hlc::Make(kT0 + 20, 0);
  auto no_reason = PlanDecision(it, {ReviewAction::kReject, "  ", nullptr}, dir, S(), kBroker, at);
  EXPECT_EQ(no_reason.status().code(), Code::kInvalidArgument);
  auto bad_value = PlanDecision(it, {ReviewAction::kResolve, "", "call me"}, dir, S(), kBroker, at);
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("must be a phone number"), std::string::npos)
      << bad_value.status().message();
  auto long_reason = PlanDecision(it, {ReviewAction::kReject, std::string(1001, 'x'), nullptr}, dir,
                                  S(), kBroker, at);
  EXPECT_FALSE(long_reason.ok());
  auto resolved =
      PlanDecision(it, {ReviewAction::kResolve, "", "+14155550100"}, dir, S(), kBroker, at);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  for (const Record& r : *resolved) dir.Join(r);
  EXPECT_EQ(dir.Find(kPhone)->Displayed("number"), T("+14155550100"));
  EXPECT_EQ(dir.Find(kPhone)->Displayed("number@published"), T("+14155550100"));
}

TEST(ReviewQueue, ConcurrentWritesAreAConflictThatAResolutionSupersedes) {
  Directory dir = Baseline();
  Directory other = dir;
  Record a = Write(dir, kOrgA, "organization", {{"description", T("shelter")}}, kA, kT0 + 10);
  Record b =
      Write(other, kOrgA, "organization", {{"description", T("vetted shelter")}}, kB, kT0 + 11);
  dir.Join(b);
  auto q = Queue(dir);
  const ReviewItem* c = ItemOf(q, ReviewKind::kConflict, "description");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->siblings.size(), 2u);
  EXPECT_EQ(c->before, "vetted shelter");  // the displayed sibling: greatest stamp
  EXPECT_EQ(c->after, json::array({"shelter"}));
  Decide(dir, *c, {ReviewAction::kResolve, "", "Emergency shelter"}, kT0 + 20);
  EXPECT_EQ(dir.Find(kOrgA)->Register("description")->size(), 1u);
  EXPECT_TRUE(Queue(dir).empty());
}

TEST(ReviewQueue, NewOrganizationsWaitForVettingAndADeclinedOneComesBackWhenItChanges) {
  Directory dir;
  Write(dir, kOrgB, "organization",
        {{"owner", T(kOrgB.c_str())}, {"name", T("<script>alert(1)</script>")}}, kB, kT0);
  auto q = Queue(dir);
  const ReviewItem* o = ItemOf(q, ReviewKind::kNewOrganization);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->org, kOrgB);
  EXPECT_EQ(o->after["name"], "<script>alert(1)</script>");
  Decide(dir, *o, {ReviewAction::kReject, "not a service provider", nullptr}, kT0 + 10);
  EXPECT_TRUE(Queue(dir).empty());
  EXPECT_FALSE(IsVetted(*dir.Find(kOrgB)));
  Write(dir, kOrgB, "organization", {{"description", T("we are now")}}, kB, kT0 + 20);
  q = Queue(dir);
  ASSERT_NE(ItemOf(q, ReviewKind::kNewOrganization), nullptr);
  Decide(dir, *ItemOf(q, ReviewKind::kNewOrganization), {ReviewAction::kApprove, "", nullptr},
         kT0 + 30);
  EXPECT_TRUE(IsVetted(*dir.Find(kOrgB)));
  EXPECT_EQ(dir.Find(kOrgB)->Displayed(kVettingNoteField), Value(Null{}));
  EXPECT_TRUE(Queue(dir).empty());
}

TEST(ReviewQueue, AnItemIdGoesStaleWhenWhatItNamesChanges) {
  Directory dir = Baseline();
  Write(dir, kPhone, "phone", {{"number", T("+14155550999")}}, kA, kT0 + 10);
  std::string first = Queue(dir).at(0).id;
  EXPECT_EQ(Queue(dir).at(0).id, first);  // derived: the same state gives the same id
  Write(dir, kPhone, "phone", {{"number", T("+14155550888")}}, kA, kT0 + 11);
  EXPECT_NE(Queue(dir).at(0).id, first);
}

TEST(ReviewQueue, RefusedPushesAreItemsUntilSettled) {
  Directory dir = Baseline();
  RefusedPush p;
  p.seq = 7;
  p.at_ms = kT0 + 5;
  p.org = kOrgB;
  p.replica = kB;
  p.reason = "record belongs to organization A";
  p.changes.push_back(RefusedChange{kOrgA, "organization", {{"name", T("Hijacked")}}, {}});
  auto q = Queue(dir, {p});
  const ReviewItem* r = ItemOf(q, ReviewKind::kRefusedPush);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->id, "r-7");
  EXPECT_EQ(r->field, "name");
  EXPECT_EQ(r->after[0]["value"], "Hijacked");
  EXPECT_EQ(r->before[0]["value"], "Harbor Light");
  auto applied = PlanDecision(*r, {ReviewAction::kApprove, "", nullptr}, dir, S(), kBroker,
                              Hlc::Make(kT0 + 9, 0));
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  ASSERT_EQ(applied->size(), 1u);
  p.settled = true;
  EXPECT_EQ(ItemOf(Queue(dir, {p}), ReviewKind::kRefusedPush), nullptr);
}

TEST(ReviewQueue, FiltersByKindOrganizationFieldAndAge) {
  Directory dir = Baseline();
  Write(dir, kPhone, "phone", {{"number", T("+14155550999")}}, kA, kT0 + 10);
  ReviewItem it = Queue(dir).at(0);
  ReviewFilter f;
  EXPECT_TRUE(f.Matches(it, kT0 + 20));
  f.kind = ReviewKind::kConflict;
  EXPECT_FALSE(f.Matches(it, kT0 + 20));
  f = ReviewFilter{};
  f.org = "harbor";
  EXPECT_TRUE(f.Matches(it, kT0 + 20));
  f.org = kOrgB;
  EXPECT_FALSE(f.Matches(it, kT0 + 20));
  f = ReviewFilter{};
  f.field = "number";
  EXPECT_TRUE(f.Matches(it, kT0 + 20));
  f.field = "num";
  EXPECT_FALSE(f.Matches(it, kT0 + 20));
  f = ReviewFilter{};
  f.min_age_ms = 3'600'000;
  EXPECT_FALSE(f.Matches(it, kT0 + 20));
  EXPECT_TRUE(f.Matches(it, kT0 + 10 + 3'600'000));
}

TEST(SelfPublication, AMaintainersOwnModeratedWritesAndNewOrganizationsArePublished) {
  Directory dir;
  Record d = Write(dir, kOrgB, "organization",
                   {{"owner", T(kOrgB.c_str())},
                    {"name", T("Tumaini")},
                    {"website", T("https://tumaini.example")}},
                   kBroker, kT0);
  RecordEdit e = SelfPublication(d, *dir.Find(kOrgB), kBroker, S());
  EXPECT_EQ(e.values.at("website@published"), T("https://tumaini.example"));
  EXPECT_EQ(e.values.at("approved"), Value(true));
  // Someone else's write is not the maintainer's to publish by writing another field.
  Record a = Write(dir, kOrgB, "organization", {{"email", T("help@tumaini.example")}}, kA, kT0 + 1);
  EXPECT_TRUE(SelfPublication(a, *dir.Find(kOrgB), kBroker, S()).values.count("email@published") ==
              0);
}

// ---------- at the broker ----------

// The broker of the session fixture (testing/session_fixture.h), with its review service.
class ReviewBrokerTest : public ::testing::Test, public testing::SessionFixture {
 protected:
  ReviewBrokerTest() : SessionFixture(BrokerAt(kT0)) {}
  static Options BrokerAt(uint64_t start_ms) {
    Options o;
    o.start_ms = start_ms;
    o.broker_org = "coordinator";
    return o;
  }

  void SetUp() override {
    Status st = Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    service_ = std::make_unique<ReviewService>(&core(), &tasks_, "coordinator");
    ASSERT_TRUE(roster().Enroll(a_.pub, Role::kPartner, kT0).ok());
    ASSERT_TRUE(roster().Enroll(b_.pub, Role::kPartner, kT0).ok());
  }
  // A broker process restart: store, roster and core reopened, and the service over them.
  void Restart() {
    service_.reset();
    RestartBroker();
    service_ = std::make_unique<ReviewService>(&core(), &tasks_, "coordinator");
  }
  // Connects `who` (its replica) and pushes one delta; returns the push's result.
  proto::PushResult Push(const Identity& who, ReplicaId replica, const Delta& d) {
    const std::string peer = "peer-" + who.pub.org;
    (void)SendRaw(peer, who.pub.org,
                  proto::EncodeEnvelope(proto::Hello{proto::kProtocolVersion, replica,
                                                     core().stats().log_head, 1000}),
                  /*pump=*/false);
    std::string bytes = EncodeDelta(d);
    // Pumped: the group commit, and the ack.
    std::vector<Outgoing> out = SendRaw(
        peer, who.pub.org,
        proto::EncodeEnvelope(proto::Push{
            ++batch_,
            {proto::PushItem{batch_, {bytes, who.pub.org, who.pub.org, Sign(who, bytes)}}}}));
    for (const Outgoing& o : out) {
      auto m = proto::DecodeEnvelope(o.bytes());
      if (m.ok()) {
        if (auto* ack = std::get_if<proto::PushAck>(&*m); ack && !ack->results.empty())
          return ack->results[0];
      }
    }
    ADD_FAILURE() << "no PushAck";
    return {};
  }
  Delta Edit(ReplicaId replica, const std::string& id, const std::string& kind,
             std::map<std::string, Value> values) {
    RecordEdit e{id, kind, std::move(values), {}, false, false};
    auto plan = PlanEdit(S(), core().state().Find(id), e, replica,
                         Hlc::Make(clock().NowMillis(), ++counter_));
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    return Delta{replica, Hlc::Make(clock().NowMillis(), counter_), {plan->delta}};
  }

  Identity a_ = *Identity::Generate(kOrgA);
  Identity b_ = *Identity::Generate(kOrgB);
  LoopTasks tasks_;  // no loop runs here: the service's work runs on the calling thread
  std::unique_ptr<ReviewService> service_;
  uint64_t batch_ = 0;
  uint16_t counter_ = 0;
};

TEST_F(ReviewBrokerTest, TheQueueRebuildsIdenticallyAfterARestart) {
  ASSERT_TRUE(
      Push(a_, kA,
           Edit(kA, kOrgA, "organization", {{"owner", T(kOrgA.c_str())}, {"name", T("Harbor")}}))
          .accepted);
  ASSERT_TRUE(
      Push(a_, kA,
           Edit(kA, kPhone, "phone", {{"owner", T(kOrgA.c_str())}, {"number", T("+14155550123")}}))
          .accepted);
  // B tries to rename A: refused at ingest, and kept for review.
  proto::PushResult refused =
      Push(b_, kB, Edit(kB, kOrgA, "organization", {{"name", T("Hijacked")}}));
  ASSERT_FALSE(refused.accepted);
  auto before = service_->List({}, 100);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ((*before)["counts"]["new_organization"], 1);
  EXPECT_EQ((*before)["counts"]["moderated_change"], 1);
  EXPECT_EQ((*before)["counts"]["refused_push"], 1);
  Restart();
  auto after = service_->List({}, 100);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*before, *after);
}

TEST_F(ReviewBrokerTest, AnApprovalIsALoggedDeltaSignedByTheBrokerAndAuthoredByTheMaintainers) {
  ASSERT_TRUE(
      Push(a_, kA,
           Edit(kA, kPhone, "phone", {{"owner", T(kOrgA.c_str())}, {"number", T("+14155550123")}}))
          .accepted);
  auto list = service_->List({}, 100);
  std::string id;
  for (const json& it : (*list)["items"]) {
    if (it["kind"] == "moderated_change") id = it["id"];
  }
  ASSERT_FALSE(id.empty()) << list->dump(2);
  uint64_t head = core().stats().log_head;
  auto done = service_->Decide(id, {ReviewAction::kApprove, "", nullptr}, "test");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ((*done)["seq"], head + 1);
  auto raw = broker_store().Get(Cf::kLog, EncodeSeq(head + 1));
  ASSERT_TRUE(raw.ok() && raw->has_value());
  auto m = proto::DecodeEnvelope(**raw);
  ASSERT_TRUE(m.ok());
  const proto::SignedDelta& sd = std::get<proto::Updates>(*m).entries.at(0).delta;
  EXPECT_EQ(sd.signer, "broker");
  EXPECT_EQ(sd.author, "coordinator");
  EXPECT_TRUE(VerifySignature(broker_identity().pub.sign_public, sd.delta, sd.signature));
  auto d = DecodeDelta(sd.delta);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->author, core().review_replica());
  EXPECT_EQ(core().state().Find(kPhone)->Displayed("number@published"), T("+14155550123"));
  // The decision is in the hash-chained audit log, in the same batch: who, what, which record.
  auto tail = core().audit().Tail(10);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  ASSERT_FALSE(tail->empty());
  EXPECT_EQ(tail->back().action, "review.approve");
  EXPECT_EQ(tail->back().actor, "coordinator");
  EXPECT_EQ(tail->back().subject, kPhone);
  auto chain = AuditLog::Verify(broker_store());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->ok) << chain->problem;
  // Decided: the id is gone; repeating it changes nothing.
  auto again = service_->Decide(id, {ReviewAction::kApprove, "", nullptr}, "test");
  EXPECT_EQ(again.status().code(), Code::kNotFound);
  EXPECT_EQ(core().stats().log_head, head + 1);
  // And no agent can claim the broker's replica.
  EXPECT_EQ(roster().OrgOfReplica(core().review_replica()), "coordinator");
  EXPECT_FALSE(roster().BindReplica(core().review_replica(), kOrgA).ok());
}

TEST_F(ReviewBrokerTest, BadDecisionsChangeNothing) {
  ASSERT_TRUE(
      Push(a_, kA,
           Edit(kA, kPhone, "phone", {{"owner", T(kOrgA.c_str())}, {"number", T("+14155550123")}}))
          .accepted);
  uint64_t head = core().stats().log_head;
  auto unknown = service_->Decide("m-000000000000", {ReviewAction::kApprove, "", nullptr}, "test");
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  std::string id = (*service_->List({}, 10))["items"][0]["id"];
  auto no_reason = service_->Decide(id, {ReviewAction::kReject, "", nullptr}, "test");
  EXPECT_EQ(no_reason.status().code(), Code::kInvalidArgument);
  auto bad_value = service_->Decide(id, {ReviewAction::kResolve, "", "not a phone"}, "test");
  EXPECT_EQ(bad_value.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(core().stats().log_head, head);
}

TEST_F(ReviewBrokerTest, AMaintainersPushPublishesItsOwnModeratedWrites) {
  Identity m = *Identity::Generate(kOrgM);
  ASSERT_TRUE(roster().Enroll(m.pub, Role::kMaintainer, kT0).ok());
  ASSERT_TRUE(Push(m, 0xc1,
                   Edit(0xc1, kOrgA, "organization",
                        {{"owner", T(kOrgA.c_str())},
                         {"name", T("Harbor")},
                         {"website", T("https://harbor.example")}}))
                  .accepted);
  const Record* org = core().state().Find(kOrgA);
  ASSERT_NE(org, nullptr);
  EXPECT_TRUE(IsVetted(*org));
  EXPECT_EQ(org->Displayed("website@published"), T("https://harbor.example"));
  EXPECT_EQ((*service_->List({}, 10))["total"], 0);
}

}  // namespace
}  // namespace sb

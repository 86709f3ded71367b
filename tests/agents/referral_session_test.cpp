// Referral handoffs through the real BrokerCore (and its ReferralRelay) and the agents'
// AgentSync + ReferralBook, over the session fixture's in-memory network without sockets: the
// lifecycle, order independence, who may do what, forged and tampered messages, replays, expiry.
// Every agent and the broker have real RocksDB stores in a temporary directory; all share a
// ManualClock.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

#include "agents/referral_book.h"
#include "agents/sync_session.h"
#include "base/ids.h"
#include "broker/broker_core.h"
#include "conflict/referral_state.h"
#include "testing/session_fixture.h"
#include "transport/sealed.h"

namespace sb {
namespace {

const std::string kOrgA = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kOrgB = "bbbbbbbb-0000-4000-8000-000000000002";
const std::string kOrgC = "cccccccc-0000-4000-8000-000000000003";
const std::string kPayload =
    R"({"alias":"R.","contact":"via her advocate","language":"es","needs":["legal"],"notes":"CANARY-5150"})";

using Agent = testing::SessionAgent;

// A broker and agents on an in-memory network (testing/session_fixture.h).
class ReferralSessionTest : public ::testing::Test, public testing::SessionFixture {
 protected:
  void SetUp() override { ASSERT_TRUE(Start().ok()); }

  Agent& AddAgent(const std::string& org, ReplicaId replica) {
    return SessionFixture::AddAgent({org, Role::kPartner, replica, {}, true});
  }

  // Delivers messages both ways until nothing moves.
  void Run() {
    SessionFixture::Run(SIZE_MAX, 200);
    if (!settled()) ADD_FAILURE() << "the network did not settle";
  }

  ReferralRequest Request(const std::string& to) {
    ReferralRequest r;
    r.to = to;
    r.urgency = "urgent";
    r.consent_scope = "share with legal aid";
    r.consent_by = "A. Advocate";
    r.payload_json = kPayload;
    return r;
  }

  std::string SendFrom(Agent& a, const std::string& to) {
    Result<ReferralInfo> sent = a.book->Send(Request(to));
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->id : "";
  }

  std::string Status(Agent& a, const std::string& id) {
    Result<ReferralInfo> r = a.book->Get(id);
    return r.ok() ? r->status : "(" + r.status().message() + ")";
  }

  void Step(Agent& a, const std::string& id, const std::string& action,
            const std::string& reason = "") {
    Result<ReferralInfo> r = a.book->Act(id, action, reason);
    ASSERT_TRUE(r.ok()) << action << ": " << r.status().ToString();
  }

  // A post made by hand and sent as `from` (the org its key authenticates); the broker's ack.
  proto::ReferralPostAck Post(Agent& from, const proto::ReferralPost& p) {
    std::vector<Outgoing> out;
    core().OnMessage(from.peer, from.id.pub.org, proto::EncodeEnvelope(p), &out);
    for (const Outgoing& o : out) {
      auto m = proto::DecodeEnvelope(o.bytes());
      if (m.ok()) {
        if (auto* ack = std::get_if<proto::ReferralPostAck>(&*m)) return *ack;
      }
    }
    ADD_FAILURE() << "no ack";
    return {};
  }

  std::vector<proto::ReferralUpdate> UpdatesTo(const Agent& a) {
    std::vector<proto::ReferralUpdate> out;
    for (const auto& m : a.received) {
      if (auto* u = std::get_if<proto::ReferralUpdate>(&m)) out.push_back(*u);
    }
    return out;
  }
};

TEST_F(ReferralSessionTest, AHandoffClosesItsLoopOnBothSides) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(Status(a, id), "delivered");
  EXPECT_EQ(Status(b, id), "delivered");
  Result<std::string> payload = b.book->Payload(id);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_EQ(*payload, kPayload);
  Result<std::string> own = a.book->Payload(id);  // the sender reads its own referral
  ASSERT_TRUE(own.ok());
  for (const char* action : {"accept", "start", "complete"}) {
    Step(b, id, action);
    Run();
  }
  EXPECT_EQ(Status(a, id), "completed");
  EXPECT_EQ(Status(b, id), "completed");
  auto sa = a.book->Get(id), sb = b.book->Get(id);
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_EQ(sa->steps.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sa->steps[i].action, sb->steps[i].action);
    EXPECT_EQ(sa->steps[i].actor, kOrgB);
  }
  EXPECT_TRUE(sa->waiting.empty());
  EXPECT_TRUE(sb->waiting.empty());
  auto counts = core().ReferralCountsByStatus();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["completed"], 1u);
  // The broker dropped the ciphertext once delivered, and never had the key.
  bool canary = false;
  ASSERT_TRUE(broker_store()
                  .Scan(Cf::kReferrals, "", "",
                        [&](std::string_view, std::string_view v) {
                          canary |= v.find("CANARY") != std::string_view::npos;
                          return true;
                        })
                  .ok());
  EXPECT_FALSE(canary);
  for (Agent* x : {&a, &b}) {
    auto check = AuditLog::Verify(*x->store);
    ASSERT_TRUE(check.ok());
    EXPECT_TRUE(check->ok) << check->problem;
    EXPECT_GE(check->entries, 5u);
  }
  auto broker_check = AuditLog::Verify(broker_store());
  ASSERT_TRUE(broker_check.ok());
  EXPECT_EQ(broker_check->entries, 5u);  // sent, deliver, accept, start, complete
}

// A burst of referrals aimed at one organization is contained: at most
// max_open_referrals_per_pair of one sender's referrals to one recipient wait unanswered; an
// answer makes room; other senders and recipients are not affected; the count survives a
// broker restart.
TEST_F(ReferralSessionTest, UnansweredReferralsFromOneSenderToOneRecipientAreCapped) {
  BrokerCore::Options o = broker_options();
  o.max_open_referrals_per_pair = 3;
  RestartBroker(o);
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Agent& c = AddAgent(kOrgC, 0xc1);
  for (Agent* x : {&a, &b, &c}) Connect(*x);
  Run();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(SendFrom(a, kOrgB));
    Run();
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Status(b, ids[i]), "delivered") << i;
  EXPECT_EQ(Status(a, ids[3]), "refused");
  Result<ReferralInfo> fourth = a.book->Get(ids[3]);
  ASSERT_TRUE(fourth.ok());
  EXPECT_NE(fourth->refused.find("3 referrals to " + kOrgB + " are still unanswered"),
            std::string::npos)
      << fourth->refused;
  EXPECT_EQ(Status(b, ids[3]), "(no referral " + ids[3] + " on this agent)");
  // Another sender, and another recipient, have their own room.
  std::string from_c = SendFrom(c, kOrgB);
  std::string to_c = SendFrom(a, kOrgC);
  Run();
  EXPECT_EQ(Status(b, from_c), "delivered");
  EXPECT_EQ(Status(c, to_c), "delivered");
  // After a restart the broker still counts them; an answer makes room.
  RestartBroker(o);
  for (Agent* x : {&a, &b, &c}) Connect(*x);
  Run();
  std::string still_full = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(Status(a, still_full), "refused");
  Step(b, ids[0], "decline", "no capacity this week");
  Run();
  std::string room = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(Status(b, room), "delivered");
}

// A step is never lost from view between the broker's answer and its history: after every
// message the broker sends back for B's accept, B holds "accept" either waiting or taken, so a
// next step ("start") can be planned at any moment (the broker once acked before it sent the
// history, and a `refer start` in between was refused as "a referral that is delivered").
TEST_F(ReferralSessionTest, AStepStaysInViewBetweenTheAckAndTheHistory) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  ASSERT_EQ(Status(b, id), "delivered");
  Step(b, id, "accept");
  std::vector<std::string> posts = b.sync->Tick();
  ASSERT_FALSE(posts.empty());
  std::vector<Outgoing> down;
  for (const std::string& p : posts) core().OnMessage(b.peer, b.id.pub.org, p, &down);
  core().Pump(&down);
  size_t to_b = 0;
  for (Outgoing& o : down) {
    if (o.peer != b.peer) continue;
    ++to_b;
    (void)b.sync->OnMessage(o.bytes());
    Result<ReferralInfo> r = b.book->Get(id);
    ASSERT_TRUE(r.ok());
    bool waiting = std::find(r->waiting.begin(), r->waiting.end(), "accept") != r->waiting.end();
    EXPECT_TRUE(r->status == "accepted" || waiting)
        << "after message " << to_b << ": status " << r->status
        << ", accept neither waiting nor taken";
  }
  EXPECT_GE(to_b, 2u);  // the ack and the history
  EXPECT_EQ(Status(b, id), "accepted");
}

TEST_F(ReferralSessionTest, UpdatesInAnyOrderSettleToTheSameState) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  for (const char* action : {"accept", "start", "complete"}) {
    Step(b, id, action);
    Run();
  }
  std::vector<proto::ReferralUpdate> updates = UpdatesTo(b);
  ASSERT_GE(updates.size(), 4u);
  std::mt19937 rng(5);
  for (int trial = 0; trial < 5; ++trial) {
    std::shuffle(updates.begin(), updates.end(), rng);
    // A copy of B's agent that sees the same updates in another order, some twice.
    StoreOptions o;
    o.create_if_missing = true;
    auto store = Store::Open(dir() + "/replay-" + std::to_string(trial), o);
    ASSERT_TRUE(store.ok());
    // B's keys, its referral pre-keys included (the referral is sealed to one of them).
    WriteBatch pre_keys;
    ASSERT_TRUE(b.store
                    ->Scan(Cf::kReferrals, "p/", "",
                           [&](std::string_view k, std::string_view v) {
                             pre_keys.Put(Cf::kReferrals, k, v);
                             return true;
                           })
                    .ok());
    ASSERT_GT(pre_keys.count(), 0u);
    ASSERT_TRUE((*store)->Commit(std::move(pre_keys)).ok());
    ReferralBook copy(store->get(), &clock(), b.id, broker_identity().pub.sign_public);
    ASSERT_TRUE(copy.Load().ok());
    proto::Roster roster;
    for (const Member& m : SessionFixture::roster().List()) {
      roster.entries.push_back({m.identity.org,
                                Role::kPartner,
                                m.identity.sign_public,
                                m.identity.box_public,
                                false,
                                {}});
    }
    copy.OnRoster(roster);
    // The sealed referral comes first in any real session; the rest in any order.
    auto first = std::find_if(updates.begin(), updates.end(),
                              [](const auto& u) { return !u.referral.empty(); });
    ASSERT_NE(first, updates.end());
    ASSERT_TRUE(copy.OnUpdate(*first).ok());
    for (const auto& u : updates) ASSERT_TRUE(copy.OnUpdate(u).ok());
    ASSERT_TRUE(copy.OnUpdate(updates.front()).ok());
    auto r = copy.Get(id);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, "completed");
    EXPECT_EQ(r->steps.size(), 4u);
  }
}

TEST_F(ReferralSessionTest, AThirdOrganizationCanNeitherReadNorChangeIt) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Agent& c = AddAgent(kOrgC, 0xc1);
  for (Agent* x : {&a, &b, &c}) Connect(*x);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  EXPECT_TRUE(UpdatesTo(c).empty());
  EXPECT_FALSE(c.book->Get(id).ok());
  for (const char* action : {"accept", "cancel", "decline", "deliver"}) {
    proto::TransitionBody t{id, action, kOrgC, clock().NowMillis(), "mine now"};
    proto::ReferralPostAck ack = Post(c, proto::ReferralPost{77, {}, SignBody(c.id, t)});
    EXPECT_FALSE(ack.accepted) << action;
    EXPECT_EQ(ack.code, proto::PostRefusalCode::kUnknownReferral) << action;
  }
  // C signing as B is refused too: identity comes from the key, not the message.
  proto::TransitionBody t{id, "accept", kOrgB, clock().NowMillis(), ""};
  proto::ReferralPostAck ack = Post(c, proto::ReferralPost{78, {}, SignBody(c.id, t)});
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kActor);
  Run();
  EXPECT_EQ(Status(a, id), "delivered");
  EXPECT_EQ(Status(b, id), "delivered");
  EXPECT_TRUE(UpdatesTo(c).empty());
}

TEST_F(ReferralSessionTest, ForgedOrTamperedReferralsAreRefused) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Agent& c = AddAgent(kOrgC, 0xc1);
  for (Agent* x : {&a, &b, &c}) Connect(*x);
  Run();
  // C claims to be A: the broker refuses (the key says C).
  proto::ReferralBody body;
  body.id = NewUuid();
  body.sender = kOrgA;
  body.recipient = kOrgB;
  body.urgency = "urgent";
  body.created_ms = clock().NowMillis();
  body.expires_ms = clock().NowMillis() + 3'600'000;
  body.consent_scope = "x";
  body.consent_by = "y";
  body.consent_at_ms = clock().NowMillis();
  ASSERT_TRUE(SealPayload(&body, kPayload, NewDataKey(), c.id, b.id.pub.box_public).ok());
  proto::ReferralPostAck ack = Post(c, proto::ReferralPost{1, SignBody(c.id, body), {}});
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kSender);
  // C's own referral with a signature that is not C's.
  body.sender = kOrgC;
  proto::Signed forged = SignBody(a.id, body);
  ack = Post(c, proto::ReferralPost{2, forged, {}});
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kSignature);

  // At the recipient: a relayed referral that claims A but is signed by C never enters. It
  // is quarantined with the reason, and its version stepped over (not resent for ever).
  body.sender = kOrgA;
  proto::ReferralUpdate u{1000, body.id, SignBody(c.id, body), {}};
  auto expect_quarantined = [&](const std::string& reason) {
    size_t before = b.quarantine->kept();
    ++u.version;
    EXPECT_TRUE(b.book->OnUpdate(u).ok());
    EXPECT_EQ(b.quarantine->kept(), before + 1);
    EXPECT_EQ(b.book->cursor(), u.version);
    auto list = b.quarantine->List(1);
    ASSERT_TRUE(list.ok());
    ASSERT_FALSE(list->empty());
    EXPECT_EQ(list->front().source, "referral");
    EXPECT_NE(list->front().reason.find(reason), std::string::npos) << list->front().reason;
  };
  expect_quarantined("forged signature");
  // Signed by A but its key sealed by C's box key: the key does not open.
  u.referral = SignBody(a.id, body);
  expect_quarantined("");
  // Properly sealed by A, then the ciphertext altered (and re-signed by A): refused.
  ASSERT_TRUE(SealPayload(&body, kPayload, NewDataKey(), a.id, b.id.pub.box_public).ok());
  body.ciphertext[5] ^= 1;
  u.referral = SignBody(a.id, body);
  expect_quarantined("");
  // Altered after signing: the signature fails.
  body.ciphertext[5] ^= 1;
  u.referral = SignBody(a.id, body);
  u.referral.body[u.referral.body.size() - 9] ^= 1;
  expect_quarantined("");
  auto inbox = b.book->List("inbox", "");
  ASSERT_TRUE(inbox.ok());
  EXPECT_TRUE(inbox->empty());
  // A forged step in a relayed history is refused as well.
  std::string id = SendFrom(a, kOrgB);
  Run();
  std::vector<proto::ReferralUpdate> seen = UpdatesTo(a);
  ASSERT_FALSE(seen.empty());
  proto::ReferralUpdate last = seen.back();
  last.transitions.push_back(
      SignBody(c.id, proto::TransitionBody{id, "accept", kOrgB, clock().NowMillis(), ""}));
  last.version += 100;
  EXPECT_TRUE(a.book->OnUpdate(last).ok());  // quarantined, not applied
  EXPECT_EQ(Status(a, id), "delivered");
  auto set_aside = a.quarantine->List(1);
  ASSERT_TRUE(set_aside.ok() && !set_aside->empty());
  EXPECT_NE(set_aside->front().reason.find("not signed by the party"), std::string::npos);
}

TEST_F(ReferralSessionTest, ReplayedPostsChangeNothing) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string id = SendFrom(a, kOrgB);
  std::vector<proto::ReferralPost> queued = a.book->Pending(10);
  ASSERT_EQ(queued.size(), 1u);
  Run();
  Step(b, id, "accept");
  std::vector<proto::ReferralPost> accept = b.book->Pending(10);
  ASSERT_EQ(accept.size(), 1u);
  Run();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Post(a, queued[0]).accepted);
    EXPECT_TRUE(Post(b, accept[0]).accepted);
  }
  Run();
  auto r = a.book->Get(id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->steps.size(), 2u);  // deliver, accept: once each
  auto counts = core().ReferralCountsByStatus();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["accepted"], 1u);
  auto inbox = b.book->List("inbox", "");
  ASSERT_TRUE(inbox.ok());
  EXPECT_EQ(inbox->size(), 1u);
  // The same id with other contents is refused.
  Result<proto::ReferralBody> body = proto::DecodeReferralBody(queued[0].referral.body);
  ASSERT_TRUE(body.ok());
  body->urgency = "routine";
  proto::ReferralPostAck ack = Post(a, proto::ReferralPost{99, SignBody(a.id, *body), {}});
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kDuplicateId);
}

TEST_F(ReferralSessionTest, AnUnansweredReferralExpiresAndNeverReachesTheLateRecipient) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  Disconnect(b);
  ReferralRequest req = Request(kOrgB);
  req.expires_ms = clock().NowMillis() + 60'000;
  Result<ReferralInfo> sent = a.book->Send(req);
  ASSERT_TRUE(sent.ok());
  Run();
  EXPECT_EQ(Status(a, sent->id), "sent");
  clock().Advance(61'000);
  Run();
  EXPECT_EQ(Status(a, sent->id), "expired");
  auto r = a.book->Get(sent->id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->steps.size(), 1u);
  EXPECT_EQ(r->steps[0].actor, "broker");
  Connect(b);
  Run();
  auto inbox = b.book->List("inbox", "");
  ASSERT_TRUE(inbox.ok());
  EXPECT_TRUE(inbox->empty());
}

TEST_F(ReferralSessionTest, AnOfflineRecipientGetsItOnceOnReconnect) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(Status(a, id), "sent");
  EXPECT_TRUE(a.book->Get(id)->at_broker);
  for (int i = 0; i < 2; ++i) {  // connects, and reconnects: still one referral
    Connect(b);
    Run();
    Disconnect(b);
  }
  auto inbox = b.book->List("inbox", "");
  ASSERT_TRUE(inbox.ok());
  EXPECT_EQ(inbox->size(), 1u);
  EXPECT_EQ(Status(a, id), "delivered");
}

// Sealed to B's pre-key, which B destroys (rotation with no grace) before it connects: the
// referral can never open there, and is declined with the reason for A to see.
TEST_F(ReferralSessionTest, AReferralSealedToADestroyedPreKeyIsDeclined) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();  // B's pre-key reaches A through the roster
  Disconnect(b);
  std::string id = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(Status(a, id), "sent");
  b.book->set_pre_key_policy({7ull * 24 * 3600 * 1000, 0});
  auto rotated = b.book->RotatePreKey();
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated->second, 1u);
  Connect(b);
  Run();
  EXPECT_EQ(Status(a, id), "declined");
  auto at_b = b.book->Get(id);
  ASSERT_TRUE(at_b.ok());
  EXPECT_NE(at_b->refused.find("no longer holds"), std::string::npos) << at_b->refused;
  EXPECT_FALSE(b.book->Payload(id).ok());
}

TEST_F(ReferralSessionTest, CancelDeclineAndTheirRules) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string one = SendFrom(a, kOrgB);
  std::string two = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(b.book->Act(one, "cancel", "").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(a.book->Act(one, "accept", "").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(b.book->Act(one, "decline", "").status().code(), Code::kInvalidArgument);
  Step(a, one, "cancel");
  Step(b, two, "decline", "no beds this week");
  Run();
  EXPECT_EQ(Status(b, one), "cancelled");
  EXPECT_EQ(Status(a, two), "declined");
  auto r = a.book->Get(two);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->steps.back().reason, "no beds this week");
  EXPECT_EQ(a.book->Act(one, "cancel", "").status().code(), Code::kFailedPrecondition);
}

TEST_F(ReferralSessionTest, ConcurrentAcceptAndCancelSettleTheSameEverywhere) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  Step(a, id, "cancel");
  Step(b, id, "accept");  // both before either reaches the broker
  Run();
  std::string sa = Status(a, id), sb = Status(b, id);
  EXPECT_EQ(sa, sb);
  EXPECT_TRUE(sa == "cancelled") << sa;  // the broker saw A's first (A ticks first)
  auto r = b.book->Get(id);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->refused.find("accept"), std::string::npos) << r->refused;
  EXPECT_TRUE(r->waiting.empty());
}

TEST_F(ReferralSessionTest, BadRequestsAreRefusedAndQueueNothing) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  AddAgent(kOrgB, 0xb1);
  Connect(a);
  Run();
  ReferralRequest r = Request("dddddddd-0000-4000-8000-000000000004");
  EXPECT_EQ(a.book->Send(r).status().code(), Code::kNotFound);
  r = Request(kOrgB);
  r.consent_scope.clear();
  EXPECT_EQ(a.book->Send(r).status().code(), Code::kInvalidArgument);
  r = Request(kOrgB);
  r.payload_json = "{\"alias\":\"" + std::string(kMaxReferralPayloadBytes, 'x') + "\"}";
  EXPECT_EQ(a.book->Send(r).status().code(), Code::kResourceExhausted);
  r = Request(kOrgB);
  r.payload_json = "[1,2]";
  EXPECT_EQ(a.book->Send(r).status().code(), Code::kInvalidArgument);
  r = Request(kOrgB);
  r.urgency = "whenever";
  EXPECT_EQ(a.book->Send(r).status().code(), Code::kInvalidArgument);
  r = Request(kOrgA);  // to itself
  EXPECT_FALSE(a.book->Send(r).ok());
  EXPECT_EQ(a.book->queue_depth(), 0u);
  auto all = a.book->List("", "");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  EXPECT_FALSE(a.book->List("sideways", "").ok());
}

TEST_F(ReferralSessionTest, MalformedPostsAndUpdatesAreRefusedAndChangeNothing) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string junk(40, '\x5a');
  proto::ReferralPostAck ack = Post(a, proto::ReferralPost{1, {junk, std::string(64, 's')}, {}});
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kMalformed);
  ack = Post(a, proto::ReferralPost{2, {}, {junk, std::string(64, 's')}});
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kMalformed);
  // A referral body where a transition belongs, and the reverse.
  proto::TransitionBody t{NewUuid(), "cancel", kOrgA, clock().NowMillis(), ""};
  ack = Post(a, proto::ReferralPost{3, SignBody(a.id, t), {}});
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kMalformed);
  // Garbled envelopes: the broker answers with a refusal and stays up for everyone.
  std::vector<Outgoing> out;
  core().OnMessage(a.peer, kOrgA, std::string(16, '\x01'), &out);
  ASSERT_FALSE(out.empty());
  // A garbled update is quarantined and stepped over; it changes nothing else.
  EXPECT_TRUE(b.book->OnUpdate(proto::ReferralUpdate{5, NewUuid(), {junk, ""}, {}}).ok());
  EXPECT_EQ(b.quarantine->kept(), 1u);
  auto counts = core().ReferralCountsByStatus();
  ASSERT_TRUE(counts.ok());
  for (const auto& [status, n] : *counts) EXPECT_EQ(n, 0u) << status;
  EXPECT_TRUE(b.book->List("", "")->empty());
  std::string id = SendFrom(a, kOrgB);  // and the network still works
  Run();
  EXPECT_EQ(Status(b, id), "delivered");
}

TEST_F(ReferralSessionTest, TheRosterIsKeptSoAnOfflineAgentCanSeal) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  AddAgent(kOrgB, 0xb1);
  Connect(a);
  Run();
  Disconnect(a);
  ReferralBook restarted(a.store.get(), &clock(), a.id, broker_identity().pub.sign_public);
  ASSERT_TRUE(restarted.Load().ok());
  Result<ReferralInfo> sent = restarted.Send(Request(kOrgB));
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(restarted.queue_depth(), 1u);
}

TEST_F(ReferralSessionTest, PurgeAfterClosureMakesThePayloadUnreadable) {
  Agent& a = AddAgent(kOrgA, 0xa1);
  Agent& b = AddAgent(kOrgB, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  std::string id = SendFrom(a, kOrgB);
  Run();
  EXPECT_EQ(b.book->Purge(id).code(), Code::kFailedPrecondition);  // not closed yet
  Step(b, id, "decline", "out of our area");
  Run();
  ASSERT_TRUE(b.book->Purge(id).ok());
  EXPECT_EQ(b.book->Payload(id).status().code(), Code::kNotFound);
  auto key = b.store->Get(Cf::kReferrals, "k/" + id);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(*key);
  EXPECT_EQ(Status(b, id), "declined");   // the history stays
  EXPECT_TRUE(a.book->Payload(id).ok());  // another agent's copy is its own business
  auto check = AuditLog::Verify(*b.store);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok);
}

}  // namespace
}  // namespace sb

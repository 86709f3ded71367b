// Issue 10: an enrolled partner that sends hostile input, against a real network — a
// `switchboard broker` and two partner agents as real processes on loopback (RocksDB, CURVE) —
// while the hostile partner talks to the broker as a raw CURVE client with its own keys.
// Each class of input is tried: text that is not UTF-8 in every text field of every message
// type (and inside signed deltas and referral bodies), deep nesting, oversize, an expiry 50
// years away, a referral payload over the limits the recipient re-checks, bad bytes at the
// local APIs, a flood of garbage and mutated messages. After each, the broker and both agents
// must still be up and serving each other, and the offending input must have been refused (with
// a reason naming the field) or quarantined (with its reason).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <zmq.hpp>

#include "base/ids.h"
#include "base/json.h"
#include "conflict/codec.h"
#include "crypto/identity.h"
#include "tests/integration/raw_client.h"
#include "tests/integration/sync_process.h"
#include "transport/referral_rules.h"
#include "transport/sealed.h"

namespace sb {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::AgentProcess;
using testing::BrokerProcess;
using testing::RawClient;
using testing::Reply;
using testing::Tail;
using testing::TempDir;
using testing::WaitFor;

const std::string kOrgA = "a1a1a1a1-0000-4000-8000-00000000000a";  // the victim's recipient
const std::string kOrgB = "b2b2b2b2-0000-4000-8000-00000000000b";  // a bystander
const std::string kOrgH = "44444444-0000-4000-8000-0000000000ff";  // the hostile partner

// Byte sequences that are not UTF-8, one of each kind the decoders must refuse.
const std::vector<std::string> kNotUtf8 = {
    "\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "abc\xE2\x82", "\xFF\xFE"};

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string ReadAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HostileInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    auto fail = [](const Status& s) { start_error_ = new std::string(s.ToString()); };
    auto b = BrokerProcess::Create(*root_ / "broker");
    if (!b.ok()) return fail(b.status());
    broker_ = std::move(b).value().release();
    if (Status s = broker_->Start(); !s.ok()) return fail(s);
    for (auto [name, org] : {std::pair{"a", kOrgA}, {"b", kOrgB}, {"h", kOrgH}}) {
      if (Status s = testing::InitDataDir(*root_ / name, org); !s.ok()) return fail(s);
      if (Status s = broker_->Enroll(*root_ / name, "partner"); !s.ok()) return fail(s);
    }
    auto a = testing::StartSyncingAgent(*root_ / "a", *broker_);
    if (!a.ok()) return fail(a.status());
    a_ = std::move(a).value().release();
    auto bb = testing::StartSyncingAgent(*root_ / "b", *broker_);
    if (!bb.ok()) return fail(bb.status());
    b_ = std::move(bb).value().release();
    Result<Identity> h = Identity::Load(*root_ / "h");
    if (!h.ok()) return fail(h.status());
    h_ = new Identity(std::move(h).value());
    Result<PublicIdentity> bk = ReadPublicIdentity(broker_->key_path());
    if (!bk.ok()) return fail(bk.status());
    broker_curve_ = new std::string(bk->curve_public);
    Result<PublicIdentity> ak = ReadPublicIdentity(*root_ / "a/identity.pub");
    if (!ak.ok()) return fail(ak.status());
    a_pub_ = new PublicIdentity(*ak);
    if (!testing::WaitUntilSyncReady(*a_) || !testing::WaitUntilSyncReady(*b_)) {
      return fail(Status::Unavailable("the agents did not connect"));
    }
  }

  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    delete broker_;
    delete h_;
    delete broker_curve_;
    delete a_pub_;
    delete start_error_;
    delete root_;
    a_ = b_ = nullptr;
    broker_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ASSERT_TRUE(broker_->running());
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (broker_) std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 4000) << "\n";
    std::cerr << "--- a.log ---\n" << Tail(a_->LogPath(), 3000) << "\n";
  }

  // A raw client with the hostile partner's keys (a fresh replica id each time).
  std::unique_ptr<RawClient> Hostile() {
    auto c = std::make_unique<RawClient>(ctx_, *h_, *broker_curve_, broker_->endpoint());
    return c;
  }

  // The broker and both agents are up, and an edit at A still reaches B.
  void ExpectNetworkStillServes() {
    static int edit = 0;
    ASSERT_TRUE(broker_->ApiStatus().is_object()) << "the broker does not answer";
    for (AgentProcess* agent : {a_, b_}) {
      Reply health = agent->Get("/healthz");
      ASSERT_EQ(health.status, 200) << agent->data_dir() << " is down: " << health.Describe();
    }
    std::string name = "Harbor Light " + std::to_string(++edit);
    Reply put =
        a_->Put("/v1/records/" + kOrgA, {{"kind", "organization"}, {"fields", {{"name", name}}}});
    ASSERT_EQ(put.status, 200) << put.Describe();
    EXPECT_TRUE(testing::WaitForValue(*b_, kOrgA, "name", name, 15s))
        << "B never saw A's edit: " << testing::RecordOf(*b_, kOrgA).dump();
  }

  // A referral body from H to A whose payload is `payload`, sealed to A's box key.
  proto::ReferralBody Referral(const std::string& payload, uint64_t expires_ms = 0) {
    proto::ReferralBody body;
    body.id = NewUuid();
    body.sender = kOrgH;
    body.recipient = kOrgA;
    body.urgency = "urgent";
    body.created_ms = NowMs();
    body.expires_ms = expires_ms ? expires_ms : body.created_ms + 3'600'000;
    body.consent_scope = "share needs with legal aid";
    body.consent_by = "advocate";
    body.consent_at_ms = body.created_ms;
    EXPECT_TRUE(SealPayload(&body, payload, NewDataKey(), *h_, a_pub_->box_public).ok());
    return body;
  }

  proto::ReferralPostAck PostReferral(RawClient& c, const proto::ReferralBody& body) {
    static uint64_t seq = 0;
    proto::ReferralPost post{++seq, SignBody(*h_, body), {}};
    EXPECT_TRUE(c.Send(post));
    std::optional<proto::ReferralPostAck> ack = c.Expect<proto::ReferralPostAck>();
    EXPECT_TRUE(ack.has_value()) << "no answer to a referral post";
    return ack.value_or(proto::ReferralPostAck{});
  }

  static TempDir* root_;
  static BrokerProcess* broker_;
  static AgentProcess* a_;
  static AgentProcess* b_;
  static Identity* h_;
  static std::string* broker_curve_;
  static PublicIdentity* a_pub_;
  static std::string* start_error_;
  zmq::context_t ctx_;
};

TempDir* HostileInput::root_ = nullptr;
BrokerProcess* HostileInput::broker_ = nullptr;
AgentProcess* HostileInput::a_ = nullptr;
AgentProcess* HostileInput::b_ = nullptr;
Identity* HostileInput::h_ = nullptr;
std::string* HostileInput::broker_curve_ = nullptr;
PublicIdentity* HostileInput::a_pub_ = nullptr;
std::string* HostileInput::start_error_ = nullptr;

// Every text field of every message type: the decoder refuses the envelope and names the field.
TEST_F(HostileInput, TextThatIsNotUtf8InAnyFieldOfAnyMessageIsRefusedByName) {
  auto c = Hostile();
  ASSERT_TRUE(c->Join());
  std::string delta = EncodeDelta(c->OwnRecordDelta());
  proto::SignedDelta sd = c->SignedBytes(delta);
  using Make = std::function<proto::Message(const std::string&)>;
  const std::vector<std::pair<std::string, Make>> cases = {
      {"author",
       [&](const std::string& x) {
         proto::SignedDelta d = sd;
         d.author = x;
         return proto::Push{1, {{1, d}}};
       }},
      {"signer",
       [&](const std::string& x) {
         proto::SignedDelta d = sd;
         d.signer = x;
         return proto::Push{1, {{1, d}}};
       }},
      {"welcome.org",
       [](const std::string& x) {
         return proto::Welcome{1, x, Role::kPartner, 0, false};
       }},
      // welcome.role, refusal.code, roster.role and referral_post_ack.code are enums with a text
      // copy for older peers; this encoder cannot send a bad one: protocol_test forges them.
      // refusal.message, push_ack.reason and referral_post_ack.reason: this project's encoder
      // makes explanations printable (SafeProse), so it cannot send them malformed; the
      // decoder's refusal of them is covered by the fuzz targets and protocol_test.
      {"updates.author",
       [&](const std::string& x) {
         proto::SignedDelta d = sd;
         d.author = x;
         return proto::Updates{{{1, d}}, 1};
       }},
      {"roster.org",
       [&](const std::string& x) {
         return proto::Roster{
             {{x, Role::kPartner, std::string(32, 'k'), std::string(32, 'b'), false, {}}}};
       }},
      {"referral_update.id",
       [](const std::string& x) {
         return proto::ReferralUpdate{1, x, {}, {}};
       }},
  };
  std::vector<std::pair<std::string, Make>> all = cases;
  // Every text of a referral body and of a lifecycle step, as top-level envelopes.
  for (const char* f :
       {"id", "sender", "recipient", "service", "urgency", "consent_scope", "consent_by"}) {
    all.emplace_back(std::string("referral.") + f, [this, f](const std::string& x) {
      proto::ReferralBody b = Referral(R"({"alias":"R."})");
      std::string field = f;
      if (field == "id") b.id = x;
      if (field == "sender") b.sender = x;
      if (field == "recipient") b.recipient = x;
      if (field == "service") b.service = x;
      if (field == "urgency") b.urgency = x;
      if (field == "consent_scope") b.consent_scope = x;
      if (field == "consent_by") b.consent_by = x;
      return proto::Message(b);
    });
  }
  for (const char* f : {"referral", "action", "actor", "reason"}) {
    all.emplace_back(std::string("transition.") + f, [f](const std::string& x) {
      proto::TransitionBody t{NewUuid(), "decline", kOrgH, NowMs(), "full"};
      std::string field = f;
      if (field == "referral") t.referral = x;
      if (field == "action") t.action = x;
      if (field == "actor") t.actor = x;
      if (field == "reason") t.reason = x;
      return proto::Message(t);
    });
  }
  int n = 0;
  for (const auto& [field, make] : all) {
    const std::string& bad = kNotUtf8[n++ % kNotUtf8.size()];
    ASSERT_TRUE(c->Send(make("x" + bad + "y"))) << field;
    std::optional<proto::Refusal> r = c->Expect<proto::Refusal>();
    ASSERT_TRUE(r.has_value()) << "no refusal for " << field;
    EXPECT_EQ(r->code, proto::RefusalCode::kMalformed) << field;
    EXPECT_NE(r->message.find("UTF-8"), std::string::npos) << field << ": " << r->message;
    std::string short_name = field.substr(field.find('.') + 1);
    EXPECT_NE(r->message.find(short_name), std::string::npos) << field << ": " << r->message;
  }
  // Maintainers see that this partner sends malformed messages (rate-limited, so at least one).
  Reply q = broker_->Get("/v1/quarantine");
  ASSERT_EQ(q.status, 200) << q.Describe();
  bool seen = false;
  for (const json& e : q.body["quarantine"]) seen |= e.value("from", "") == kOrgH;
  EXPECT_TRUE(seen) << q.raw;
  ExpectNetworkStillServes();
}

// Inside signed containers the text is decoded later: a signed delta whose id, kind, field name,
// value or set element is not UTF-8 is refused in the push's ack (and kept for review); a
// signed referral or step with such text is refused in the post's ack.
TEST_F(HostileInput, TextThatIsNotUtf8InsideSignedDeltasAndReferralsIsRefused) {
  auto c = Hostile();
  ASSERT_TRUE(c->Join());
  Hlc stamp = Hlc::Make(NowMs(), 1);
  auto record = [&](const std::string& id, const std::string& kind) {
    Record r(id, kind);
    r.Join(r.WriteDelta("owner", Value(kOrgH), c->replica(), stamp));
    return r;
  };
  std::vector<Record> bad;
  bad.push_back(record("4444\xFF-0000", "organization"));
  bad.push_back(record(kOrgH, "organ\xC0\xAFization"));
  Record name = record(kOrgH, "organization");
  name.Join(name.WriteDelta("na\xED\xA0\x80me", Value(std::string("x")), c->replica(), stamp));
  bad.push_back(name);
  Record value = record(kOrgH, "organization");
  value.Join(value.WriteDelta("name", Value(std::string("Ev\xFFil")), c->replica(), stamp));
  bad.push_back(value);
  Record element = record(kOrgH, "organization");
  element.Join(element.AddDelta("languages", "e\x80s", c->replica()));
  bad.push_back(element);
  uint64_t batch = 100;
  for (const Record& r : bad) {
    std::string bytes = EncodeDelta(Delta{c->replica(), stamp, {r}});
    ASSERT_TRUE(c->Send(proto::Push{++batch, {{1, c->SignedBytes(bytes)}}}));
    std::optional<proto::PushAck> ack = c->Expect<proto::PushAck>();
    ASSERT_TRUE(ack.has_value());
    ASSERT_EQ(ack->results.size(), 1u);
    EXPECT_FALSE(ack->results[0].accepted);
    EXPECT_NE(ack->results[0].reason.find("UTF-8"), std::string::npos) << ack->results[0].reason;
  }
  // The refusals are in the maintainers' review queue, which still answers.
  Reply review = broker_->Get("/v1/review?kind=refused_push&org=" + kOrgH);
  ASSERT_EQ(review.status, 200) << review.Describe();
  EXPECT_GE(review.body["items"].size(), bad.size()) << review.raw;

  // A signed referral, and a signed step, with such text.
  proto::ReferralBody body = Referral(R"({"alias":"R."})");
  body.consent_scope = "all \xFF needs";
  proto::ReferralPostAck ack = PostReferral(*c, body);
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kMalformed);
  EXPECT_NE(ack.reason.find("consent_scope"), std::string::npos) << ack.reason;
  proto::TransitionBody t{NewUuid(), "decline", kOrgH, NowMs(), "no \xC0\xAF beds"};
  ASSERT_TRUE(c->Send(proto::ReferralPost{77, {}, SignBody(*h_, t)}));
  std::optional<proto::ReferralPostAck> step = c->Expect<proto::ReferralPostAck>();
  ASSERT_TRUE(step.has_value());
  EXPECT_FALSE(step->accepted);
  EXPECT_NE(step->reason.find("transition.reason"), std::string::npos) << step->reason;
  ExpectNetworkStillServes();
}

// The broker caps what it stores and forwards: an expiry 50 years away, a payload over the
// limit, control characters in consent.
TEST_F(HostileInput, TheBrokerRefusesReferralsBeyondItsLimits) {
  auto c = Hostile();
  ASSERT_TRUE(c->Join());
  proto::ReferralPostAck ack =
      PostReferral(*c, Referral(R"({"alias":"R."})", NowMs() + 50ull * 365 * 24 * 3600 * 1000));
  EXPECT_FALSE(ack.accepted);
  EXPECT_NE(ack.reason.find("expires"), std::string::npos) << ack.reason;
  std::string big = R"({"alias":"R.","notes":")" + std::string(100 << 10, 'x') + "\"}";
  ack = PostReferral(*c, Referral(big));
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kTooLarge) << ack.reason;
  proto::ReferralBody ctl = Referral(R"({"alias":"R."})");
  ctl.consent_by = "J.\x1b[31m Doe";
  ack = PostReferral(*c, ctl);
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.code, proto::PostRefusalCode::kMalformed)
      << ack.reason;  // the decoder refuses it already
  EXPECT_NE(ack.reason.find("consent_by: contains a control character"), std::string::npos)
      << ack.reason;
  ExpectNetworkStillServes();
}

// What the broker cannot see (the sealed payload) the recipient checks on receipt: a payload
// nested 30,000 levels deep (under the size limit) is quarantined at A and declined with the
// reason; A stays up, and opening the referral answers instead of overflowing the stack.
TEST_F(HostileInput, TheRecipientRechecksThePayloadAndDeclinesWhatBreaksALimit) {
  auto c = Hostile();
  ASSERT_TRUE(c->Join());
  std::string deep =
      R"({"alias":"R.","needs":)" + std::string(30'000, '[') + std::string(30'000, ']') + "}";
  ASSERT_LT(deep.size(), kMaxReferralPayloadBytes);
  proto::ReferralBody body = Referral(deep);
  proto::ReferralPostAck ack = PostReferral(*c, body);
  ASSERT_TRUE(ack.accepted) << proto::Name(ack.code) << ": "
                            << ack.reason;  // the broker cannot tell
  // H (the sender) learns of the decline, with the reason.
  bool declined = false;
  std::string reason;
  auto until = std::chrono::steady_clock::now() + 20s;
  while (!declined && std::chrono::steady_clock::now() < until) {
    std::optional<proto::ReferralUpdate> u = c->Expect<proto::ReferralUpdate>(2s);
    if (!u || u->id != body.id) continue;
    for (const proto::Signed& s : u->transitions) {
      Result<proto::TransitionBody> t = proto::DecodeTransitionBody(s.body);
      if (t.ok() && t->action == "decline") {
        declined = true;
        reason = t->reason;
      }
    }
  }
  ASSERT_TRUE(declined) << "the recipient never declined it";
  EXPECT_NE(reason.find("nested"), std::string::npos) << reason;
  // A keeps it in its quarantine with the reason, and answers for it.
  Reply q = a_->Get("/v1/quarantine");
  ASSERT_EQ(q.status, 200) << q.Describe();
  bool kept = false;
  for (const json& e : q.body["quarantine"]) {
    kept |= e.value("source", "") == "referral" && e.value("ref", "").find(body.id) == 0 &&
            e.value("reason", "").find("nested") != std::string::npos;
  }
  EXPECT_TRUE(kept) << q.raw;
  auto cli = testing::RunSwitchboard({"quarantine", "--data", *root_ / "a"});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  EXPECT_EQ(cli->exit_code, 0) << cli->output;
  EXPECT_NE(cli->output.find("nested more than 8 levels"), std::string::npos) << cli->output;
  Reply shown = a_->Get("/v1/referrals/" + body.id);
  ASSERT_EQ(shown.status, 200) << shown.Describe();
  EXPECT_TRUE(shown.body["payload"].is_null());
  EXPECT_TRUE(WaitFor(
      [&] { return a_->Get("/v1/referrals/" + body.id).body.value("status", "") == "declined"; },
      10s));
  // A restart does not bring it back: the agent starts, and its cursor is past it.
  ASSERT_TRUE(a_->Stop().ok());
  delete a_;
  auto again = testing::StartSyncingAgent(*root_ / "a", *broker_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  a_ = std::move(again).value().release();
  ASSERT_TRUE(testing::WaitUntilSyncReady(*a_));
  ExpectNetworkStillServes();
}

// The local APIs: deep JSON and bytes that are not text get a 400 naming what is wrong.
TEST_F(HostileInput, DeepJsonAndBadBytesAtTheLocalApisGetA400) {
  // Deep but within each endpoint's size limit: refused for its depth.
  for (auto [path, depth] : {std::pair{"/v1/referrals", 30'000}, {"/v1/import", 130'000}}) {
    std::string deep = std::string(depth, '[') + std::string(depth, ']');
    Reply r = a_->Send("POST", path, deep, "Bearer " + a_->token());
    EXPECT_EQ(r.status, 400) << path << ": " << r.Describe();
    EXPECT_NE(r.raw.find("nested"), std::string::npos) << r.raw;
  }
  std::string deep = std::string(130'000, '[') + std::string(130'000, ']');
  Reply put = a_->Send("PUT", "/v1/records/" + kOrgA,
                       R"({"kind":"organization","fields":)" + deep.substr(0, 1000) + "}",
                       "Bearer " + a_->token());
  EXPECT_EQ(put.status, 400) << put.Describe();
  Reply id = a_->Get("/v1/records/%FF%FE");
  EXPECT_EQ(id.status, 400) << id.Describe();
  EXPECT_NE(id.raw.find("UTF-8"), std::string::npos) << id.raw;
  Reply param = a_->Get("/v1/records?q=%C0%AF");
  EXPECT_EQ(param.status, 400) << param.Describe();
  json nested = 1;
  for (int i = 0; i < 20; ++i) nested = json::array({nested});
  Reply roster = broker_->Post("/v1/roster", nested);
  EXPECT_EQ(roster.status, 400) << roster.Describe();
  ExpectNetworkStillServes();
}

// A flood: garbage and mutated copies of valid messages. The broker answers each, logs the
// flood a few lines at a time (not one line per message), and keeps serving.
TEST_F(HostileInput, AFloodOfGarbageAndMutatedMessagesIsRefusedAndLoggedRateLimited) {
  auto c = Hostile();
  ASSERT_TRUE(c->Join());
  size_t log_before = ReadAll(broker_->LogPath()).size();
  std::mt19937 rng(1010);
  std::string delta = EncodeDelta(c->OwnRecordDelta());
  std::vector<std::string> valid = {
      proto::EncodeEnvelope(c->Hello()),
      proto::EncodeEnvelope(proto::Push{9, {{1, c->SignedBytes(delta)}}}),
      proto::EncodeEnvelope(
          proto::ReferralPost{9, SignBody(*h_, Referral(R"({"alias":"R."})")), {}}),
      proto::EncodeEnvelope(proto::Credit{5, 0}),
  };
  constexpr int kMessages = 800;
  for (int i = 0; i < kMessages; ++i) {
    std::string m = valid[i % valid.size()];
    switch (rng() % 4) {
      case 0:
        m[rng() % m.size()] = static_cast<char>(rng());
        break;  // one byte
      case 1:
        m.resize(rng() % m.size());
        break;  // truncated
      case 2:
        m.insert(rng() % m.size(), kNotUtf8[rng() % kNotUtf8.size()]);
        break;
      default:
        for (int k = 0; k < 8; ++k) m[rng() % m.size()] = static_cast<char>(rng());
    }
    ASSERT_TRUE(c->SendBytes(m)) << "message " << i;
  }
  // Every message gets an answer (a refusal, an ack, a welcome...), so the broker went through
  // them all; then it still serves.
  int answers = 0;
  while (c->Recv(1500ms)) ++answers;
  EXPECT_GT(answers, kMessages / 2);
  std::string log = ReadAll(broker_->LogPath()).substr(log_before);
  size_t lines = 0;
  for (size_t p = log.find("org=" + kOrgH); p != std::string::npos;
       p = log.find("org=" + kOrgH, p + 1)) {
    ++lines;
  }
  EXPECT_LT(lines, 40u) << "the flood was logged line by line";
  json st = broker_->ApiStatus();
  EXPECT_GT(st.value("malformed", uint64_t{0}), 0u) << st.dump();
  Reply metrics = broker_->Get("/metrics");
  EXPECT_NE(metrics.raw.find("switchboard_broker_malformed"), std::string::npos);
  ExpectNetworkStillServes();
}

}  // namespace
}  // namespace sb

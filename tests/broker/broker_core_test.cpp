// BrokerCore without sockets: sessions, ingest checks, the log, credits, audience filtering,
// snapshots and revocation. Peers here speak raw protocol messages (proto::Message values), so
// a test can send exactly the hostile delta it means; the broker runs over a real RocksDB store
// in a temporary directory and a ManualClock.
#include "broker/broker_core.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

#include "conflict/codec.h"
#include "conflict/internal/access.h"
#include "testing/edits.h"
#include "testing/session_fixture.h"
#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using testing::Uuid;

using testing::Gen;

constexpr uint64_t kStart = 1'790'000'000'000;

const std::string kOrgA = Uuid(0xa);      // partner
const std::string kOrgB = Uuid(0xb);      // partner
const std::string kOrgM = Uuid(0xc);      // the maintainers' organization
const std::string kPhoneA = Uuid(0xa01);  // a phone of A
const std::string kLocA = Uuid(0xa02);    // a confidential shelter of A

using Values = std::vector<std::pair<std::string, Value>>;

// A record delta writing `values` over `base` (nullptr: a new record) as `replica`.
Record Write(const Record* base, const std::string& id, const std::string& kind,
             const Values& values, ReplicaId replica, Hlc stamp) {
  Record cur = base ? *base : Record(id, kind);
  Record delta(id, kind);
  for (const auto& [field, value] : values) {
    Record d = cur.WriteDelta(field, value, replica, stamp);
    cur.Join(d);
    delta.Join(d);
  }
  return delta;
}

proto::SignedDelta Signed(const Identity& by, const Delta& d) {
  std::string bytes = EncodeDelta(d);
  return proto::SignedDelta{bytes, by.pub.org, by.pub.org, Sign(by, bytes)};
}

// A peer speaking raw messages: its keys, replica, and its own view of the records it edits.
struct Peer {
  Peer(std::string routing_id, Identity identity, ReplicaId replica_id)
      : routing(std::move(routing_id)), id(std::move(identity)), replica(replica_id) {}

  std::string routing;
  Identity id;
  ReplicaId replica = 0;
  Directory view;
  uint16_t counter = 0;
  uint64_t outbox_seq = 0;

  const std::string& org() const { return id.pub.org; }

  // A delta writing `values` to record `rid`, on top of this peer's view (which then has it).
  Delta Edit(ManualClock& clock, const std::string& rid, const std::string& kind,
             const Values& values) {
    Hlc stamp = Hlc::Make(clock.NowMillis(), ++counter);
    Record r = Write(view.Find(rid), rid, kind, values, replica, stamp);
    view.Join(r);
    return Delta{replica, stamp, {r}};
  }
  proto::PushItem Item(const Delta& d) { return proto::PushItem{++outbox_seq, Signed(id, d)}; }
};

template <typename T>
std::vector<T> All(const std::vector<proto::Message>& msgs) {
  std::vector<T> out;
  for (const auto& m : msgs) {
    if (auto* x = std::get_if<T>(&m)) out.push_back(*x);
  }
  return out;
}

std::string Describe(const std::vector<proto::Message>& msgs) {
  std::string s;
  for (const auto& m : msgs) {
    s += proto::MessageName(m);
    if (auto* r = std::get_if<proto::Refusal>(&m))
      s += std::string("(") + proto::Name(r->code) + ": " + r->message + ")";
    s += " ";
  }
  return s;
}

// The broker of the session fixture (testing/session_fixture.h); the peers here are raw.
class BrokerCoreTest : public ::testing::Test, public testing::SessionFixture {
 protected:
  void SetUp() override {
    Status st = SessionFixture::Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(roster().Enroll(a_.id.pub, Role::kPartner, kStart).ok());
    ASSERT_TRUE(roster().Enroll(b_.id.pub, Role::kPartner, kStart).ok());
    ASSERT_TRUE(roster().Enroll(m_.id.pub, Role::kMaintainer, kStart).ok());
    Start(options_);
  }

  // A broker process restart with options `o`: store, roster and core reopened; the peers'
  // mailboxes emptied.
  void Start(BrokerCore::Options o) {
    RestartBroker(std::move(o));
    mail_.clear();
    entries_.clear();
  }
  void Restart(BrokerCore::Options o) { Start(std::move(o)); }

  // Delivers `m` from `p` (authenticated as p's organization), pumps, and returns what the
  // broker sent to `p`; what it sent to others waits in their mailboxes (Take).
  std::vector<proto::Message> Send(Peer& p, const proto::Message& m) {
    return SendBytes(p, proto::EncodeEnvelope(m));
  }
  std::vector<proto::Message> SendBytes(Peer& p, std::string_view bytes,
                                        const std::string& as_org = "") {
    Deliver(SendRaw(p.routing, as_org.empty() ? p.org() : as_org, bytes, /*pump=*/false));
    return PumpFor(p);
  }
  std::vector<proto::Message> PumpFor(Peer& p) {
    Deliver(PumpBroker());
    return Take(p);
  }
  std::vector<proto::Message> Take(const Peer& p) {
    std::vector<proto::Message> got = std::move(mail_[p.routing]);
    mail_.erase(p.routing);
    return got;
  }
  void Deliver(const std::vector<Outgoing>& out) {
    for (const Outgoing& o : out) {
      Result<proto::Message> m = proto::DecodeEnvelope(o.bytes());
      ASSERT_TRUE(m.ok()) << "the broker sent undecodable bytes: " << m.status().ToString();
      mail_[o.peer].push_back(*m);
      if (auto* u = std::get_if<proto::Updates>(&*m)) {
        for (const auto& e : u->entries) entries_[o.peer][e.seq] = e.delta;
      }
    }
  }
  // Every log entry the broker ever sent to `p`, by seq.
  const std::map<uint64_t, proto::SignedDelta>& Entries(const Peer& p) {
    return entries_[p.routing];
  }

  // Hello; expects a Welcome.
  proto::Welcome Hello(Peer& p, uint64_t cursor = 0, uint32_t credits = 1024) {
    auto got = Send(p, proto::Hello{proto::kProtocolVersion, p.replica, cursor, credits});
    auto w = All<proto::Welcome>(got);
    EXPECT_EQ(w.size(), 1u) << Describe(got);
    return w.empty() ? proto::Welcome{} : w[0];
  }

  // Pushes; expects one PushAck for the batch.
  proto::PushAck Push(Peer& p, std::vector<proto::PushItem> items) {
    uint64_t batch = ++batches_;
    auto got = Send(p, proto::Push{batch, std::move(items)});
    auto acks = All<proto::PushAck>(got);
    EXPECT_EQ(acks.size(), 1u) << Describe(got);
    if (acks.empty()) return {};
    EXPECT_EQ(acks[0].batch, batch);
    return acks[0];
  }
  // Pushes one delta; returns its result.
  proto::PushResult PushOne(Peer& p, const proto::PushItem& item) {
    proto::PushAck ack = Push(p, {item});
    EXPECT_EQ(ack.results.size(), 1u);
    return ack.results.empty() ? proto::PushResult{} : ack.results[0];
  }

  // A's organization record, accepted (log seq 1 unless more was logged before).
  void CreateOrgA() {
    Hello(a_);
    auto r =
        PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                    {{"name", std::string("Casa Segura")}, {"owner", kOrgA}})));
    ASSERT_TRUE(r.accepted) << r.reason;
  }

  std::optional<Value> BrokerValue(const std::string& id, const std::string& field) {
    const Record* r = core().state().Find(id);
    return r ? r->Displayed(field) : std::nullopt;
  }

  Peer a_{"peer-a", Gen(kOrgA), 0xa1};
  Peer b_{"peer-b", Gen(kOrgB), 0xb1};
  Peer m_{"peer-m", Gen(kOrgM), 0xc1};
  BrokerCore::Options options_;
  std::map<std::string, std::vector<proto::Message>> mail_;
  std::map<std::string, std::map<uint64_t, proto::SignedDelta>> entries_;  // by peer, by seq
  uint64_t batches_ = 0;
};

// ---------- sessions ----------

// A broker restored from a backup has a log with a new epoch (store/backup.h): a Hello that
// counts its cursor in another log is served this one from its start, not refused.
TEST_F(BrokerCoreTest, AHelloFromAnotherLogEpochIsServedThisLogFromItsStart) {
  auto first = Send(a_, proto::Hello{proto::kProtocolVersion, a_.replica, 0, 16});
  ASSERT_FALSE(first.empty());
  uint64_t epoch = std::get<proto::Welcome>(first[0]).log_epoch;
  ASSERT_NE(epoch, 0u);
  // Without an epoch, a cursor past the head is refused as before.
  auto refused = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 99, 16});
  ASSERT_FALSE(refused.empty());
  ASSERT_TRUE(std::holds_alternative<proto::Refusal>(refused[0])) << Describe(refused);
  EXPECT_EQ(std::get<proto::Refusal>(refused[0]).code, proto::RefusalCode::kCursor);
  // With another log's epoch, the same cursor gets a Welcome naming this log's epoch.
  proto::Hello other{proto::kProtocolVersion, b_.replica, 99, 16};
  other.log_epoch = epoch ^ 1;
  auto got = Send(b_, other);
  ASSERT_FALSE(got.empty());
  ASSERT_TRUE(std::holds_alternative<proto::Welcome>(got[0])) << Describe(got);
  EXPECT_EQ(std::get<proto::Welcome>(got[0]).log_epoch, epoch);
  EXPECT_FALSE(std::get<proto::Welcome>(got[0]).resumed);
}

TEST_F(BrokerCoreTest, HelloGetsWelcomeNamingTheAuthenticatedOrgThenTheRoster) {
  auto got = Send(a_, proto::Hello{proto::kProtocolVersion, a_.replica, 0, 16});
  ASSERT_GE(got.size(), 2u) << Describe(got);
  proto::Welcome welcome = std::get<proto::Welcome>(got[0]);
  EXPECT_NE(welcome.log_epoch, 0u);  // the log's identity (store/backup.h)
  welcome.log_epoch = 0;
  EXPECT_EQ(welcome, (proto::Welcome{proto::kProtocolVersion, kOrgA, Role::kPartner, 0, false,
                                     false, 0, clock().NowMillis()}));
  auto roster = std::get<proto::Roster>(got[1]);
  ASSERT_EQ(roster.entries.size(), 3u);
  for (const auto& e : roster.entries) {
    if (e.org == kOrgA) {
      EXPECT_EQ(e.sign_key, a_.id.pub.sign_public);
    }
  }
  auto sessions = core().Sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].org, kOrgA);
  EXPECT_EQ(sessions[0].replica, a_.replica);
  EXPECT_EQ(sessions[0].window, 16u);
  EXPECT_EQ(Hello(m_).role, Role::kMaintainer);
}

TEST_F(BrokerCoreTest, HelloWithAnotherProtocolVersionIsRefusedWithAClearMessage) {
  auto got = Send(a_, proto::Hello{proto::kProtocolVersion + 1, a_.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  auto r = std::get<proto::Refusal>(got[0]);
  EXPECT_EQ(r.code, proto::RefusalCode::kVersion);
  EXPECT_NE(r.message.find("protocol version " + std::to_string(proto::kProtocolVersion + 1)),
            std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find("upgrade"), std::string::npos) << r.message;
  EXPECT_TRUE(core().Sessions().empty());
}

TEST_F(BrokerCoreTest, AnythingBeforeHelloIsRefusedHelloFirst) {
  for (const proto::Message& m : std::vector<proto::Message>{
           proto::Push{1,
                       {a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                        {{"name", std::string("X")}, {"owner", kOrgA}}))}},
           proto::Credit{100, 0}}) {
    auto got = Send(a_, m);
    ASSERT_EQ(got.size(), 1u) << Describe(got);
    EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kHelloFirst);
  }
  EXPECT_EQ(core().stats().log_head, 0u);
  EXPECT_EQ(core().state().size(), 0u);
}

TEST_F(BrokerCoreTest, GarbledAndTruncatedBytesAreRefusedMalformed) {
  Hello(a_);
  std::string hello = proto::EncodeEnvelope(proto::Hello{1, a_.replica, 0, 1});
  std::vector<std::string> inputs = {"", "garbage that is not an envelope", std::string(64, '\xff'),
                                     hello.substr(0, hello.size() / 2), hello.substr(0, 8)};
  for (const std::string& bytes : inputs) {
    auto got = SendBytes(a_, bytes);
    ASSERT_EQ(got.size(), 1u) << Describe(got);
    EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kMalformed);
  }
  EXPECT_EQ(core().stats().malformed, inputs.size());
  EXPECT_EQ(core().Sessions().size(), 1u);  // the session survives noise
}

TEST_F(BrokerCoreTest, ReplicaBoundToAnotherOrgIsRefused) {
  Hello(a_);
  Peer thief{"peer-thief", b_.id, a_.replica};  // B claims A's replica id
  auto got = Send(thief, proto::Hello{proto::kProtocolVersion, a_.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kReplica);
  Peer zero{"peer-zero", b_.id, 0};
  got = Send(zero, proto::Hello{proto::kProtocolVersion, 0, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kReplica);
  // The binding is durable: a restarted broker refuses too.
  Restart(options_);
  got = Send(thief, proto::Hello{proto::kProtocolVersion, a_.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kReplica);
}

TEST_F(BrokerCoreTest, UnenrolledOrganizationIsRefused) {
  Peer stranger{"peer-x", Gen(Uuid(0xdead)), 0xd1};
  auto got = Send(stranger, proto::Hello{proto::kProtocolVersion, stranger.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kRevoked);
  EXPECT_TRUE(core().Sessions().empty());
}

// ---------- push ----------

TEST_F(BrokerCoreTest, AcceptedPushIsLoggedDurablyAndAcked) {
  Hello(a_);
  proto::PushItem item = a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                         {{"name", std::string("Casa Segura")}, {"owner", kOrgA}}));
  proto::PushAck ack = Push(a_, {item});
  ASSERT_EQ(ack.results.size(), 1u);
  EXPECT_EQ(ack.results[0], (proto::PushResult{item.outbox_seq, true, "", 1, ""}));
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(core().stats().accepted, 1u);
  EXPECT_EQ(BrokerValue(kOrgA, "name"), Value(std::string("Casa Segura")));
  // Durable: a broker restarted over the same store has it.
  Restart(options_);
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(BrokerValue(kOrgA, "name"), Value(std::string("Casa Segura")));
}

TEST_F(BrokerCoreTest, PartnerEditOfAnotherOrgsRecordIsRefusedWithTheBrokersState) {
  CreateOrgA();
  Hello(b_);
  b_.view.Join(*core().state().Find(kOrgA));
  auto r = PushOne(
      b_, b_.Item(b_.Edit(clock(), kOrgA, "organization", {{"name", std::string("Defaced")}})));
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("belongs to organization " + kOrgA), std::string::npos) << r.reason;
  Result<Delta> current = DecodeDelta(r.current);
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  ASSERT_EQ(current->records.size(), 1u);
  EXPECT_EQ(current->records[0].Displayed("name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(BrokerValue(kOrgA, "name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(core().stats().rejected, 1u);
}

TEST_F(BrokerCoreTest, PartnerCannotCreateRecordsForAnotherOrg) {
  Hello(b_);
  auto r = PushOne(b_, b_.Item(b_.Edit(clock(), Uuid(0xb99), "service",
                                       {{"name", std::string("Ours?")}, {"owner", kOrgA}})));
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("must belong to its creator"), std::string::npos) << r.reason;
  r = PushOne(
      b_, b_.Item(b_.Edit(
              clock(), Uuid(0xb98), "service",
              {{"name", std::string("Linked")}, {"owner", kOrgB}, {"organization_id", kOrgA}})));
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("organization_id"), std::string::npos) << r.reason;
  EXPECT_EQ(core().stats().log_head, 0u);
}

// organization_id is checked, but the other links are not: A can hang its own phone (a number
// A controls) under B's service, and HSDS exports nest it in B's listing.
TEST_F(BrokerCoreTest, PartnerCannotAttachItsRecordsToAnotherOrgsService) {
  Hello(b_);
  const std::string service_b = Uuid(0xb01);
  ASSERT_TRUE(PushOne(b_, b_.Item(b_.Edit(clock(), service_b, "service",
                                          {{"name", std::string("Hotline")},
                                           {"owner", kOrgB},
                                           {"organization_id", kOrgB}})))
                  .accepted);
  Hello(a_);
  auto r = PushOne(
      a_,
      a_.Item(a_.Edit(
          clock(), kPhoneA, "phone",
          {{"number", std::string("+14155550199")}, {"owner", kOrgA}, {"service_id", service_b}})));
  EXPECT_FALSE(r.accepted) << "A's phone was attached to B's service " << service_b;
}

TEST_F(BrokerCoreTest, PartnerCannotWriteMaintainerOnlyFields) {
  CreateOrgA();
  auto phone =
      PushOne(a_, a_.Item(a_.Edit(clock(), kPhoneA, "phone",
                                  {{"number", std::string("+14155550123")}, {"owner", kOrgA}})));
  ASSERT_TRUE(phone.accepted) << phone.reason;
  struct Case {
    std::string id, kind, field;
    Value value;
  };
  for (const Case& c :
       {Case{kOrgA, "organization", "approved", Value(true)},
        Case{kOrgA, "organization", "owner", Value(kOrgB)},
        Case{kPhoneA, "phone", "number@published", Value(std::string("+14155550123"))}}) {
    Peer attempt = a_;  // a copy, so a refused write does not enter A's view
    auto r = PushOne(a_, attempt.Item(attempt.Edit(clock(), c.id, c.kind, {{c.field, c.value}})));
    a_.outbox_seq = attempt.outbox_seq;
    EXPECT_FALSE(r.accepted) << c.field;
    EXPECT_NE(r.reason.find(c.kind + "." + c.field + " may be changed only by a maintainer"),
              std::string::npos)
        << r.reason;
  }
  EXPECT_EQ(core().stats().log_head, 2u);
  EXPECT_EQ(BrokerValue(kOrgA, "owner"), Value(kOrgA));
  EXPECT_FALSE(BrokerValue(kOrgA, "approved").has_value());
  // A maintainer may.
  Hello(m_);
  m_.view.Join(*core().state().Find(kOrgA));
  auto r =
      PushOne(m_, m_.Item(m_.Edit(clock(), kOrgA, "organization", {{"approved", Value(true)}})));
  EXPECT_TRUE(r.accepted) << r.reason;
  EXPECT_EQ(BrokerValue(kOrgA, "approved"), Value(true));
}

TEST_F(BrokerCoreTest, PartnerCannotEraseAMaintainerOnlyFieldThroughTheContext) {
  CreateOrgA();
  Hello(m_);
  m_.view.Join(*core().state().Find(kOrgA));
  ASSERT_TRUE(
      PushOne(m_, m_.Item(m_.Edit(clock(), kOrgA, "organization", {{"approved", Value(true)}})))
          .accepted);
  // A renames its organization but claims, in its context, the approval's dot.
  a_.view.Join(*core().state().Find(kOrgA));
  Delta d = a_.Edit(clock(), kOrgA, "organization", {{"name", std::string("Renamed")}});
  internal::Access::Context(d.records[0]).Add(Dot{m_.replica, 1});
  auto r = PushOne(a_, a_.Item(d));
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("organization.approved may be changed only by a maintainer"),
            std::string::npos)
      << r.reason;
  EXPECT_EQ(BrokerValue(kOrgA, "approved"), Value(true));
}

TEST_F(BrokerCoreTest, DeltaWhoseNewDotsNameAnotherReplicaIsRefused) {
  Hello(a_);
  Hlc stamp = Hlc::Make(clock().NowMillis(), 1);
  Record r = Write(nullptr, kOrgA, "organization",
                   {{"name", std::string("Casa")}, {"owner", kOrgA}}, b_.replica, stamp);
  auto res = PushOne(a_, a_.Item(Delta{a_.replica, stamp, {r}}));
  EXPECT_FALSE(res.accepted);
  EXPECT_NE(res.reason.find("attributed to another replica"), std::string::npos) << res.reason;
  // And a delta claiming to come from another replica than the session's.
  res = PushOne(a_, a_.Item(Delta{b_.replica, stamp, {r}}));
  EXPECT_FALSE(res.accepted);
  EXPECT_NE(res.reason.find("replica"), std::string::npos) << res.reason;
  EXPECT_EQ(core().stats().log_head, 0u);
}

TEST_F(BrokerCoreTest, ForgedContextCannotEraseOthersWrites) {
  CreateOrgA();
  // A maintainer corrects A's description; A has seen it and may supersede it.
  Hello(m_);
  m_.view.Join(*core().state().Find(kOrgA));
  ASSERT_TRUE(PushOne(m_, m_.Item(m_.Edit(clock(), kOrgA, "organization",
                                          {{"description", std::string("Shelter, 12 beds")}})))
                  .accepted);
  // A claims to have seen the maintainer's next writes too (dots the broker has not seen):
  // accepted, that would silently discard them when they arrive.
  Delta forged = a_.Edit(clock(), kOrgA, "organization", {{"name", std::string("Casa 2")}});
  internal::Access::Context(forged.records[0]).Add(Dot{m_.replica, 2});
  internal::Access::Context(forged.records[0]).Add(Dot{m_.replica, 3});
  auto r = PushOne(a_, a_.Item(forged));
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("claims to have seen writes the broker has not"), std::string::npos)
      << r.reason;
  // The same claim as a dot cloud (a gap) is refused as well.
  Peer again = a_;
  Delta cloud = again.Edit(clock(), kOrgA, "organization", {{"name", std::string("Casa 3")}});
  internal::Access::Context(cloud.records[0]).Add(Dot{b_.replica, 9});
  EXPECT_FALSE(PushOne(a_, again.Item(cloud)).accepted);
  // The maintainer's next write still lands.
  auto m2 = PushOne(m_, m_.Item(m_.Edit(clock(), kOrgA, "organization",
                                        {{"description", std::string("Shelter, 14 beds")}})));
  ASSERT_TRUE(m2.accepted) << m2.reason;
  EXPECT_EQ(BrokerValue(kOrgA, "description"), Value(std::string("Shelter, 14 beds")));
  // A context naming only what the broker has seen is fine: A supersedes the description.
  Peer honest = a_;
  honest.view = Directory();
  honest.view.Join(*core().state().Find(kOrgA));
  auto ok = PushOne(a_, honest.Item(honest.Edit(clock(), kOrgA, "organization",
                                                {{"description", std::string("Shelter")}})));
  EXPECT_TRUE(ok.accepted) << ok.reason;
  EXPECT_EQ(BrokerValue(kOrgA, "description"), Value(std::string("Shelter")));
}

TEST_F(BrokerCoreTest, ForgedSignaturesAreRefused) {
  Hello(a_);
  Delta d =
      a_.Edit(clock(), kOrgA, "organization", {{"name", std::string("Casa")}, {"owner", kOrgA}});
  std::string bytes = EncodeDelta(d);
  struct Case {
    const char* what;
    proto::SignedDelta sd;
    const char* reason;
  };
  std::string tampered = bytes;
  tampered[tampered.size() / 2] ^= 0x01;
  for (const Case& c : {
           Case{"signed with B's key", {bytes, kOrgA, kOrgA, Sign(b_.id, bytes)}, "signature"},
           Case{"signer B, author A", {bytes, kOrgA, kOrgB, Sign(b_.id, bytes)}, "signature"},
           Case{"bytes changed after signing",
                {tampered, kOrgA, kOrgA, Sign(a_.id, bytes)},
                "signature"},
           Case{"no signature", {bytes, kOrgA, kOrgA, ""}, "signature"},
           Case{"author B over A's connection",
                {bytes, kOrgB, kOrgB, Sign(b_.id, bytes)},
                "authenticated as"},
       }) {
    auto r = PushOne(a_, proto::PushItem{++a_.outbox_seq, c.sd});
    EXPECT_FALSE(r.accepted) << c.what;
    EXPECT_NE(r.reason.find(c.reason), std::string::npos) << c.what << ": " << r.reason;
  }
  EXPECT_EQ(core().stats().log_head, 0u);
  EXPECT_EQ(core().stats().rejected, 5u);
  EXPECT_EQ(core().state().size(), 0u);
}

TEST_F(BrokerCoreTest, SkewedStampIsRefused) {
  Hello(a_);
  Hlc ahead = Hlc::Make(clock().NowMillis() + options_.max_skew_ms + 60'000, 0);
  Record r = Write(nullptr, kOrgA, "organization",
                   {{"name", std::string("From the future")}, {"owner", kOrgA}}, a_.replica, ahead);
  auto res = PushOne(a_, a_.Item(Delta{a_.replica, ahead, {r}}));
  EXPECT_FALSE(res.accepted);
  // In human terms: 2 min ahead, at most 60 s allowed.
  EXPECT_EQ(res.reason.rfind("this agent's clock is 2 min ahead of the broker's; at most 60 s is "
                             "allowed",
                             0),
            0u)
      << res.reason;
  // Within the allowed skew it is fine.
  clock().Advance(options_.max_skew_ms);
  res = PushOne(a_, a_.Item(Delta{a_.replica, ahead, {r}}));
  EXPECT_TRUE(res.accepted) << res.reason;
}

TEST_F(BrokerCoreTest, OversizeDeltaIsRefused) {
  Hello(a_);
  Delta big{a_.replica, Hlc::Make(clock().NowMillis(), 1), {}};
  for (unsigned i = 0; i < 80; ++i) {  // 80 x 4000 bytes > the 256 KiB a partner may push
    big.records.push_back(Write(nullptr, Uuid(0xa100 + i), "service",
                                {{"description", std::string(4000, 'x')}, {"owner", kOrgA}},
                                a_.replica, big.stamp));
  }
  ASSERT_GT(EncodeDelta(big).size(), options_.limits.partner_delta_bytes);
  auto r = PushOne(a_, a_.Item(big));
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("exceeds the limit"), std::string::npos) << r.reason;
  EXPECT_EQ(core().stats().log_head, 0u);
}

TEST_F(BrokerCoreTest, ThrottledItemsAreLeftOutOfTheAckAndGoThroughLater) {
  BrokerCore::Options o = options_;
  o.rate_per_s = 1;
  o.rate_burst = 2;
  Start(o);
  Hello(a_);
  std::vector<proto::PushItem> items;
  for (unsigned i = 0; i < 5; ++i) {
    items.push_back(a_.Item(a_.Edit(clock(), Uuid(0xa200 + i), "service",
                                    {{"name", std::string("svc")}, {"owner", kOrgA}})));
  }
  proto::PushAck ack = Push(a_, items);
  ASSERT_EQ(ack.results.size(), 2u);
  EXPECT_EQ(ack.results[0].outbox_seq, items[0].outbox_seq);
  EXPECT_EQ(ack.results[1].outbox_seq, items[1].outbox_seq);
  EXPECT_TRUE(ack.results[0].accepted && ack.results[1].accepted);
  EXPECT_EQ(core().stats().throttled, 3u);
  EXPECT_EQ(core().stats().rejected, 0u);
  EXPECT_EQ(core().stats().log_head, 2u);
  // No time passed: nothing more goes through, and nothing is refused either.
  EXPECT_TRUE(Push(a_, {items[2], items[3], items[4]}).results.empty());
  clock().Advance(2'000);
  ack = Push(a_, {items[2], items[3], items[4]});
  ASSERT_EQ(ack.results.size(), 2u);
  clock().Advance(1'000);
  ack = Push(a_, {items[4]});
  ASSERT_EQ(ack.results.size(), 1u);
  EXPECT_TRUE(ack.results[0].accepted);
  EXPECT_EQ(core().stats().log_head, 5u);
  EXPECT_EQ(core().stats().rejected, 0u);
}

TEST_F(BrokerCoreTest, RepeatedPushOfALoggedEditIsAckedWithoutGrowingTheLog) {
  CreateOrgA();
  proto::PushItem edit =
      a_.Item(a_.Edit(clock(), kOrgA, "organization", {{"description", std::string("Shelter")}}));
  ASSERT_TRUE(PushOne(a_, edit).accepted);
  EXPECT_EQ(core().stats().log_head, 2u);
  auto again = PushOne(a_, edit);  // the ack was lost; the agent pushes the same entry again
  EXPECT_TRUE(again.accepted) << again.reason;
  EXPECT_EQ(again.log_seq, 0u);
  EXPECT_EQ(core().stats().log_head, 2u);
  EXPECT_EQ(core().stats().rejected, 0u);
}

// A record's creation carries its owner field; pushing it again (the PushAck was lost) must
// be recognised as already logged, not refused as "owner may be changed only by a maintainer".
TEST_F(BrokerCoreTest, RepeatedPushOfARecordCreationIsAckedNotRefused) {
  Hello(a_);
  proto::PushItem create = a_.Item(
      a_.Edit(clock(), kOrgA, "organization", {{"name", std::string("Casa")}, {"owner", kOrgA}}));
  ASSERT_TRUE(PushOne(a_, create).accepted);
  auto again = PushOne(a_, create);
  EXPECT_TRUE(again.accepted) << again.reason;
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(core().stats().rejected, 0u);
}

// ---------- fan-out ----------

std::vector<uint64_t> Seqs(const std::vector<proto::Message>& got) {
  std::vector<uint64_t> out;
  for (const auto& u : All<proto::Updates>(got)) {
    for (const auto& e : u.entries) out.push_back(e.seq);
  }
  return out;
}

// Flow control is a window: the agent names how many entries may be in flight past its
// acknowledged cursor; each Credit acknowledges a cursor (and may change the window).
TEST_F(BrokerCoreTest, UpdatesStreamOnlyWithinTheWindow) {
  CreateOrgA();
  for (unsigned i = 0; i < 4; ++i) {
    ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                            {{"description", "v" + std::to_string(i)}})))
                    .accepted);
  }
  ASSERT_EQ(core().stats().log_head, 5u);
  // Five entries wait; B's window is two.
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 2});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{1, 2})) << Describe(got);
  for (const auto& u : All<proto::Updates>(got)) EXPECT_EQ(u.head, 5u);
  EXPECT_TRUE(Seqs(PumpFor(b_)).empty());
  EXPECT_TRUE(Seqs(PumpFor(b_)).empty());
  auto session = [&] {
    for (const auto& s : core().Sessions()) {
      if (s.org == kOrgB) return s;
    }
    return SessionInfo{};
  };
  EXPECT_EQ(session().sent, 2u);
  EXPECT_EQ(session().window, 2u);
  got = Send(b_, proto::Credit{2, 2});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{3, 4}));
  EXPECT_TRUE(Seqs(PumpFor(b_)).empty());
  got = Send(b_, proto::Credit{1, 4});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{5}));
  EXPECT_EQ(session().acked, 4u);
  EXPECT_EQ(session().sent, 5u);
}

TEST_F(BrokerCoreTest, OneUpdatesMessageCarriesAtMostMaxEntriesPerUpdate) {
  BrokerCore::Options o = options_;
  o.max_entries_per_update = 3;
  Start(o);
  CreateOrgA();
  for (unsigned i = 0; i < 6; ++i) {
    ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                            {{"description", "v" + std::to_string(i)}})))
                    .accepted);
  }
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 100});
  for (int i = 0; i < 3; ++i) {
    auto more = PumpFor(b_);
    got.insert(got.end(), more.begin(), more.end());
  }
  for (const auto& u : All<proto::Updates>(got)) EXPECT_LE(u.entries.size(), 3u);
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(BrokerCoreTest, OwnWritesAreNotEchoedBackButAdvanceTheCursor) {
  CreateOrgA();
  ASSERT_EQ(Entries(a_).count(1), 1u);
  EXPECT_TRUE(Entries(a_).at(1).delta.empty());
  EXPECT_EQ(Entries(a_).at(1).author, kOrgA);
  // Another replica of the same organization does get it, as signed by A.
  Peer a2{"peer-a2", a_.id, 0xa2};
  Hello(a2);
  ASSERT_EQ(Entries(a2).count(1), 1u);
  EXPECT_FALSE(Entries(a2).at(1).delta.empty());
  EXPECT_EQ(Entries(a2).at(1).signer, kOrgA);
}

TEST_F(BrokerCoreTest, ConfidentialAddressReachesOnlyTheOwnerAndMaintainers) {
  CreateOrgA();
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kLocA, "location",
                                          {{"name", std::string("Safe house")},
                                           {"city", std::string("Lyon")},
                                           {"address_1", std::string("12 rue Secrète")},
                                           {"postal_code", std::string("69001")},
                                           {"address_confidential", Value(true)},
                                           {"owner", kOrgA}})))
                  .accepted);
  Hello(b_);
  Hello(m_);
  ASSERT_EQ(Entries(b_).count(2), 1u);
  ASSERT_EQ(Entries(m_).count(2), 1u);
  // B: a copy signed by the broker, without the address.
  proto::SignedDelta to_b = Entries(b_).at(2);
  ASSERT_FALSE(to_b.delta.empty());
  EXPECT_EQ(to_b.signer, "broker");
  EXPECT_EQ(to_b.author, kOrgA);
  EXPECT_TRUE(VerifySignature(broker_identity().pub.sign_public, to_b.delta, to_b.signature));
  Result<Delta> seen_b = DecodeDelta(to_b.delta);
  ASSERT_TRUE(seen_b.ok());
  ASSERT_EQ(seen_b->records.size(), 1u);
  const Record& rb = seen_b->records[0];
  EXPECT_EQ(rb.Displayed("name"), Value(std::string("Safe house")));
  EXPECT_EQ(rb.Displayed("city"), Value(std::string("Lyon")));
  EXPECT_EQ(rb.Displayed("address_confidential"), Value(true));
  EXPECT_FALSE(rb.Displayed("address_1").has_value());
  EXPECT_FALSE(rb.Displayed("postal_code").has_value());
  // Entry 1 (A's organization, nothing confidential) reaches B as A signed it.
  EXPECT_EQ(Entries(b_).at(1).signer, kOrgA);
  // The maintainer: A's own signed delta, address included.
  proto::SignedDelta to_m = Entries(m_).at(2);
  EXPECT_EQ(to_m.signer, kOrgA);
  EXPECT_TRUE(VerifySignature(a_.id.pub.sign_public, to_m.delta, to_m.signature));
  Result<Delta> seen_m = DecodeDelta(to_m.delta);
  ASSERT_TRUE(seen_m.ok());
  EXPECT_EQ(seen_m->records[0].Displayed("address_1"), Value(std::string("12 rue Secrète")));
}

// The flag decides by the broker's current state: an address written before the location was
// made confidential does not reach a partner who reads that entry afterwards.
TEST_F(BrokerCoreTest, AddressWrittenBeforeTheFlagIsFilteredForLateReaders) {
  CreateOrgA();
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kLocA, "location",
                                          {{"name", std::string("Safe house")},
                                           {"address_1", std::string("12 rue Secrète")},
                                           {"owner", kOrgA}})))
                  .accepted);
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kLocA, "location",
                                          {{"address_confidential", Value(true)}})))
                  .accepted);
  Hello(b_);
  ASSERT_EQ(Entries(b_).count(2), 1u);
  Result<Delta> d = DecodeDelta(Entries(b_).at(2).delta);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->records.size(), 1u);
  EXPECT_FALSE(d->records[0].Displayed("address_1").has_value());
}

// An agent whose clock runs ahead (within the allowed skew) stamps its values in the broker's
// future. After a restart the broker's clock must start past them: a checkpoint is a delta
// stamped by the broker, and one holding a value stamped after it is refused by every agent
// (the nemesis test saw a maintainer quarantine a whole checkpoint chunk this way and keep
// values the broker had removed).
TEST_F(BrokerCoreTest, ACheckpointAfterARestartIsStampedAfterTheValuesItHolds) {
  CreateOrgA();
  Hello(b_);
  Send(b_, proto::Credit{0, 1});
  core().OnDisconnected(b_.routing);
  Take(b_);
  Hlc ahead = Hlc::Make(clock().NowMillis() + 30'000, 0);
  Record svc = Write(nullptr, Uuid(0xa400), "service",
                     {{"name", std::string("Ahead")}, {"owner", kOrgA}}, a_.replica, ahead);
  a_.view.Join(svc);
  ASSERT_TRUE(PushOne(a_, a_.Item(Delta{a_.replica, ahead, {svc}})).accepted);
  for (unsigned i = 0; i < 2; ++i) {
    ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), Uuid(0xa300 + i), "service",
                                            {{"name", std::string("svc")}, {"owner", kOrgA}})))
                    .accepted);
  }
  ASSERT_TRUE(core().TrimLog(1).ok());
  Restart(options_);

  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 1, 1024});
  auto chunks = All<proto::SnapshotChunk>(got);
  ASSERT_FALSE(chunks.empty()) << Describe(got);
  bool held = false;
  for (const proto::SnapshotChunk& c : chunks) {
    Result<Delta> d = DecodeDelta(c.records);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    for (const Record& r : d->records) held = held || r.id() == Uuid(0xa400);
  }
  EXPECT_TRUE(held);
}

TEST_F(BrokerCoreTest, AgentOlderThanTheLogGetsFilteredSnapshotChunks) {
  BrokerCore::Options o = options_;
  o.snapshot_chunk_records = 2;
  Start(o);
  CreateOrgA();
  Hello(b_);
  Send(b_, proto::Credit{0, 1});
  core().OnDisconnected(b_.routing);
  Take(b_);
  // While B is away: four more records, one a confidential location; the log is trimmed.
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kLocA, "location",
                                          {{"name", std::string("Safe house")},
                                           {"address_1", std::string("12 rue Secrète")},
                                           {"address_confidential", Value(true)},
                                           {"owner", kOrgA}})))
                  .accepted);
  for (unsigned i = 0; i < 3; ++i) {
    ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), Uuid(0xa300 + i), "service",
                                            {{"name", std::string("svc")}, {"owner", kOrgA}})))
                    .accepted);
  }
  ASSERT_TRUE(core().TrimLog(2).ok());
  EXPECT_EQ(core().stats().log_start, 4u);

  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 1, 1024});
  auto welcome = All<proto::Welcome>(got);
  ASSERT_EQ(welcome.size(), 1u) << Describe(got);
  EXPECT_TRUE(welcome[0].snapshot);
  auto chunks = All<proto::SnapshotChunk>(got);
  // 5 records, 2 per chunk, shared by every partner; then B's own closing chunk (B owns no
  // record: it is empty), the only one marked last.
  ASSERT_EQ(chunks.size(), 4u) << Describe(got);
  Directory joined;
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].index, i);
    EXPECT_EQ(chunks[i].last, i + 1 == chunks.size());
    EXPECT_TRUE(
        VerifySignature(broker_identity().pub.sign_public, chunks[i].records, chunks[i].signature));
    Result<Delta> d = DecodeDelta(chunks[i].records);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    joined.Join(*d);
  }
  EXPECT_EQ(chunks.back().log_seq, 5u);
  EXPECT_TRUE(All<proto::Updates>(got).empty() ||
              All<proto::Updates>(got)[0].entries.empty());  // nothing after the snapshot
  // What B got is the broker's state, filtered for B.
  bool filtered = false;
  Delta expect = FilterFor(
      core().state().AsDelta(1, Hlc{}), kOrgB, Role::kPartner,
      [&](const std::string& id) { return core().state().Find(id); }, &filtered);
  EXPECT_TRUE(filtered);
  Directory expected;
  expected.Join(expect);
  EXPECT_EQ(joined, expected);
  ASSERT_NE(joined.Find(kLocA), nullptr);
  EXPECT_FALSE(joined.Find(kLocA)->Displayed("address_1").has_value());
  EXPECT_EQ(core().stats().snapshots, 1u);
}

TEST_F(BrokerCoreTest, RevocationCutsTheSessionOffAtOnce) {
  Hello(a_);
  Hello(b_);
  Take(a_);
  ASSERT_TRUE(roster().Revoke(kOrgB).ok());
  std::vector<Outgoing> out;
  core().Pump(&out);
  Deliver(out);
  auto got = Take(b_);
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kRevoked);
  ASSERT_EQ(core().Sessions().size(), 1u);
  EXPECT_EQ(core().Sessions()[0].org, kOrgA);
  // A learns what changed: B, revoked.
  auto rosters = All<proto::Roster>(Take(a_));
  ASSERT_EQ(rosters.size(), 1u);
  EXPECT_TRUE(rosters[0].changes);
  ASSERT_EQ(rosters[0].entries.size(), 1u);
  EXPECT_EQ(rosters[0].entries[0].org, kOrgB);
  EXPECT_TRUE(rosters[0].entries[0].revoked);
  // Whatever B sends now is refused.
  got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kRevoked);
  EXPECT_EQ(core().Sessions().size(), 1u);
}

TEST_F(BrokerCoreTest, NewKeysCutTheOldKeysSessionAndOthersLearnBothSigningKeys) {
  Hello(a_);
  Hello(b_);
  Take(a_);
  Identity b2 = Gen(kOrgB);
  ASSERT_TRUE(roster().Rekey(b2.pub, kStart).ok());
  std::vector<Outgoing> out;
  core().Pump(&out);
  Deliver(out);
  auto got = Take(b_);
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kRevoked);
  EXPECT_NE(std::get<proto::Refusal>(got[0]).message.find("keys were replaced"), std::string::npos);
  ASSERT_EQ(core().Sessions().size(), 1u);
  // A learns B's new keys, and the old signing key as retired (B's entries in the log were
  // signed with it).
  auto rosters = All<proto::Roster>(Take(a_));
  ASSERT_EQ(rosters.size(), 1u);
  ASSERT_EQ(rosters[0].entries.size(), 1u);
  EXPECT_EQ(rosters[0].entries[0].sign_key, b2.pub.sign_public);
  EXPECT_EQ(rosters[0].entries[0].retired_sign_keys,
            std::vector<std::string>{b_.id.pub.sign_public});
  EXPECT_FALSE(rosters[0].entries[0].revoked);
  // A connection whose key is no longer enrolled reaches the core with no organization.
  Deliver(SendRaw(b_.routing, "",
                  proto::EncodeEnvelope(proto::Hello{proto::kProtocolVersion, b_.replica, 0, 16}),
                  /*pump=*/false));
  got = PumpFor(b_);
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kRevoked);
}

// ---------- per-organization quotas ----------

TEST_F(BrokerCoreTest, OneOrganizationsSessionsAreCapped) {
  options_.max_sessions_per_org = 3;
  Restart(options_);
  std::vector<std::unique_ptr<Peer>> agents;
  for (int i = 0; i < 4; ++i) {
    agents.push_back(std::make_unique<Peer>("peer-a" + std::to_string(i), a_.id, 0xa100 + i));
  }
  for (int i = 0; i < 3; ++i) Hello(*agents[i]);
  Hello(b_);  // another organization is not affected
  auto got = Send(*agents[3], proto::Hello{proto::kProtocolVersion, agents[3]->replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  const auto& refusal = std::get<proto::Refusal>(got[0]);
  EXPECT_EQ(refusal.code, proto::RefusalCode::kUnavailable);  // not final: it may try later
  EXPECT_NE(refusal.message.find("3 agents connected"), std::string::npos) << refusal.message;
  EXPECT_EQ(core().stats().quota_refusals, 1u);
  EXPECT_EQ(core().Sessions().size(), 4u);
  // One goes away; the fourth gets in.
  core().OnDisconnected(agents[0]->routing);
  Hello(*agents[3]);
  EXPECT_EQ(core().Sessions().size(), 4u);
  // A repeated Hello on a live connection is not a new session.
  Hello(*agents[3]);
  EXPECT_EQ(core().stats().quota_refusals, 1u);
}

TEST_F(BrokerCoreTest, OneOrganizationsReplicaIdsAreCappedAndStayBound) {
  options_.max_replicas_per_org = 3;
  Restart(options_);
  for (int i = 0; i < 3; ++i) {
    Peer p("peer-r" + std::to_string(i), a_.id, 0xa200 + i);
    Hello(p);
    core().OnDisconnected(p.routing);
  }
  Peer fourth("peer-r3", a_.id, 0xa203);
  auto got = Send(fourth, proto::Hello{proto::kProtocolVersion, fourth.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  const auto& refusal = std::get<proto::Refusal>(got[0]);
  EXPECT_EQ(refusal.code, proto::RefusalCode::kReplica);
  EXPECT_NE(refusal.message.find("replica ids bound already"), std::string::npos)
      << refusal.message;
  EXPECT_EQ(core().roster().OrgOfReplica(fourth.replica), "");  // nothing was bound
  EXPECT_EQ(core().stats().quota_refusals, 1u);
  // The ids already bound still work, also after a restart (the count is rebuilt).
  Restart(options_);
  Peer again("peer-r0b", a_.id, 0xa200);
  Hello(again);
  got = Send(fourth, proto::Hello{proto::kProtocolVersion, fourth.replica, 0, 16});
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kReplica);
  Hello(b_);  // another organization has its own quota
}

// Contact details in a partner's free text wait for a maintainer, like the contact fields.
TEST_F(BrokerCoreTest, ContactDetailsInAPartnersFreeTextAreHeldForReview) {
  CreateOrgA();
  auto describe = [&](const std::string& text) {
    return PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization", {{"description", text}})));
  };
  for (const std::string held :
       {"NEW 24/7 HOTLINE: call +1415 555 0199", "call +44 1234 234567 any time",
        "Intake line (415) 555-0199", "toll free 1-800-555-0199", "see www.example.org",
        "more at https://help.example/intake", "write to intake@example.org",
        "visit casa-segura.org today"}) {
    proto::PushResult r = describe(held);
    EXPECT_FALSE(r.accepted) << held;
    EXPECT_NE(r.reason.find("organization.description contains"), std::string::npos)
        << held << ": " << r.reason;
    EXPECT_NE(r.reason.find("review queue"), std::string::npos) << r.reason;
  }
  for (const std::string fine :
       {"Shelter for women and minors, 24 beds, open 9 to 5",
        "Serving 1,200,000 people since 2019-2024", "3.5 km from the station; call ahead",
        "Casa Segura (Spanish, English)"}) {
    proto::PushResult r = describe(fine);
    EXPECT_TRUE(r.accepted) << fine << ": " << r.reason;
  }
  // A maintainer's own writes are not held.
  Hello(m_);
  proto::PushResult r = PushOne(
      m_, m_.Item(m_.Edit(clock(), kOrgA, "organization",
                          {{"description", std::string("Verified hotline +1 415 555 0199")}})));
  EXPECT_TRUE(r.accepted) << r.reason;
}

TEST_F(BrokerCoreTest, APartnerCannotCreateARecordWithAnotherEnrolledOrganizationsId) {
  Hello(a_);
  Hello(b_);
  // A lists itself under B's id: refused.
  auto squat = [&](const char* kind) {
    return PushOne(a_, a_.Item(a_.Edit(clock(), kOrgB, kind,
                                       {{"name", std::string("B, squatted")}, {"owner", kOrgA}})));
  };
  proto::PushResult r = squat("organization");
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("enrolled id"), std::string::npos) << r.reason;
  // Nor a service with B's id.
  r = squat("service");
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("enrolled id"), std::string::npos) << r.reason;
  // Nor its own organization record under another id.
  r = PushOne(a_, a_.Item(a_.Edit(clock(), Uuid(0x5a), "organization",
                                  {{"name", std::string("A again")}, {"owner", kOrgA}})));
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(core().stats().log_head, 0u);
  // B's own listing goes in.
  r = PushOne(b_, b_.Item(b_.Edit(clock(), kOrgB, "organization",
                                  {{"name", std::string("Legal Aid North")}, {"owner", kOrgB}})));
  EXPECT_TRUE(r.accepted) << r.reason;
}

}  // namespace
}  // namespace sb

namespace sb {
namespace {

// ---------- scale (issue 15): resume, rewind, shared projections, checkpoints, group commit --

class BrokerScaleTest : public BrokerCoreTest {
 protected:
  void LogEdits(unsigned n, const std::string& text = "v") {
    CreateOrgA();
    for (unsigned i = 0; i < n; ++i) {
      ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                              {{"description", text + std::to_string(i)}})))
                      .accepted);
    }
  }
  SessionInfo SessionOf(const std::string& org) {
    for (const auto& s : core().Sessions()) {
      if (s.org == org) return s;
    }
    return SessionInfo{};
  }
};

// A Hello repeated on the same connection (the Welcome was slow) changes nothing in flight:
// no entry is sent twice, and the stream goes on when the agent acknowledges.
TEST_F(BrokerScaleTest, AHelloRepeatedOnTheSameConnectionResumesWithoutSendingAgain) {
  LogEdits(4);
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 2});
  ASSERT_EQ(Seqs(got), (std::vector<uint64_t>{1, 2}));
  got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 2, 0, 0, /*resume=*/true});
  auto welcome = All<proto::Welcome>(got);
  ASSERT_EQ(welcome.size(), 1u) << Describe(got);
  EXPECT_TRUE(welcome[0].resumed);
  EXPECT_TRUE(Seqs(got).empty()) << "entries 1 and 2 are in flight; nothing is sent again";
  EXPECT_EQ(SessionOf(kOrgB).sent, 2u);
  got = Send(b_, proto::Credit{0, 2});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{3, 4}));
  BrokerStats st = core().stats();
  EXPECT_EQ(st.resumes, 1u);
  EXPECT_EQ(st.restarts, 0u);
}

// Without `resume` (an agent that starts over), or on a new connection, the stream starts
// again from the agent's cursor, and the old connection's session is gone.
TEST_F(BrokerScaleTest, AHelloOnANewConnectionStartsOverFromTheCursor) {
  LogEdits(2);
  ASSERT_EQ(Seqs(Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 10})),
            (std::vector<uint64_t>{1, 2, 3}));
  Peer b2{"peer-b-again", b_.id, b_.replica};
  auto got = Send(b2, proto::Hello{proto::kProtocolVersion, b_.replica, 1, 10});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{2, 3}));
  ASSERT_EQ(core().Sessions().size(), 2u);  // A's and B's new one
  EXPECT_EQ(core().stats().restarts, 1u);
}

// A Credit with `rewind` (the agent dropped a gap) sends everything after its cursor again.
TEST_F(BrokerScaleTest, ARewindSendsEverythingAfterTheCursorAgain) {
  LogEdits(3);
  ASSERT_EQ(Seqs(Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 10})),
            (std::vector<uint64_t>{1, 2, 3, 4}));
  auto got = Send(b_, proto::Credit{0, 1, /*rewind=*/true, 0});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(core().stats().rewinds, 1u);
}

// The window also counts bytes: with a window smaller than one entry, one entry at a time is
// in flight, and the next goes only when the agent acknowledges.
TEST_F(BrokerScaleTest, TheWindowInBytesHoldsEntriesBackUntilAcknowledged) {
  BrokerCore::Options o = options_;
  o.min_window_bytes = 1024;
  Start(o);
  LogEdits(3, std::string(2000, 'x'));
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 1000, 0, 1024});
  // The small organization entry and the first large one fill the window.
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(Seqs(PumpFor(b_)).empty());
  EXPECT_GT(SessionOf(kOrgB).in_flight_bytes, 1024u);
  EXPECT_EQ(Seqs(Send(b_, proto::Credit{0, 2})), (std::vector<uint64_t>{3}));
  EXPECT_EQ(Seqs(Send(b_, proto::Credit{0, 3})), (std::vector<uint64_t>{4}));
  Send(b_, proto::Credit{0, 4});
  EXPECT_EQ(SessionOf(kOrgB).in_flight_bytes, 0u);
}

// However large a window the agent asks for, a session has at most its equal share of the
// broker's in-flight budget in flight: here 2 sessions share 4 KiB, so B's 1 MiB window is 2 KiB.
TEST_F(BrokerScaleTest, AWindowIsAtMostAnEqualShareOfTheInFlightBudget) {
  BrokerCore::Options o = options_;
  o.min_window_bytes = 1024;
  o.in_flight_budget_bytes = 4096;
  Start(o);
  LogEdits(3, std::string(2000, 'x'));
  ASSERT_EQ(core().Sessions().size(), 1u);  // A's
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 1000, 0, 1 << 20});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(Seqs(PumpFor(b_)).empty());
  EXPECT_EQ(Seqs(Send(b_, proto::Credit{0, 2})), (std::vector<uint64_t>{3}));
  EXPECT_EQ(Seqs(Send(b_, proto::Credit{0, 3})), (std::vector<uint64_t>{4}));
}

// The same with the default budget: the whole log goes at once.
TEST_F(BrokerScaleTest, WithinItsShareTheWholeWindowIsUsed) {
  LogEdits(3, std::string(2000, 'x'));
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 1000, 0, 1 << 20});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{1, 2, 3, 4}));
}

// Every partner that owns none of an entry's records reads the same projection: it is made
// once and its bytes shared, however many sessions read it.
TEST_F(BrokerScaleTest, AnEntryIsProjectedOncePerViewNotOncePerSession) {
  CreateOrgA();
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kLocA, "location",
                                          {{"name", std::string("Safe house")},
                                           {"address_1", std::string("12 rue Secrète")},
                                           {"address_confidential", Value(true)},
                                           {"owner", kOrgA}})))
                  .accepted);
  std::vector<std::unique_ptr<Peer>> partners;
  for (int i = 0; i < 6; ++i) {
    std::string org = Uuid(0xb00 + i);
    partners.push_back(std::make_unique<Peer>("peer-p" + std::to_string(i), Gen(org), 0xb100 + i));
    ASSERT_TRUE(roster().Enroll(partners.back()->id.pub, Role::kPartner, kStart).ok());
  }
  uint64_t made = core().stats().projections_made;
  for (auto& p : partners) Hello(*p);
  // Two entries, one projection each for all six partners (the location's for partners
  // leaves the address out; the broker re-signed it once).
  EXPECT_EQ(core().stats().projections_made - made, 2u);
  EXPECT_GE(core().stats().projections_reused, 10u);
  for (auto& p : partners) {
    ASSERT_EQ(Entries(*p).count(2), 1u);
    EXPECT_EQ(Entries(*p).at(2).signer, "broker");
    EXPECT_EQ(Entries(*p).at(2), Entries(*partners[0]).at(2));
    Result<Delta> d = DecodeDelta(Entries(*p).at(2).delta);
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->records[0].Displayed("address_1").has_value());
  }
}

// A roster of thousands would be one message of megabytes that every connection encrypts
// its own copy of: it goes in parts of 256, which together are the whole roster.
TEST_F(BrokerScaleTest, ALargeRosterGoesInPartsThatMakeTheWhole) {
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(roster().Enroll(Gen(Uuid(0xc000 + i)).pub, Role::kPartner, kStart).ok());
  }
  auto got = Send(a_, proto::Hello{proto::kProtocolVersion, a_.replica, 0, 16});
  std::vector<proto::Roster> parts;
  for (const auto& m : got) {
    if (auto* r = std::get_if<proto::Roster>(&m)) parts.push_back(*r);
  }
  ASSERT_EQ(parts.size(), 3u) << Describe(got);  // 603 members
  std::set<std::string> orgs;
  for (size_t p = 0; p < parts.size(); ++p) {
    EXPECT_EQ(parts[p].part, p);
    EXPECT_EQ(parts[p].more, p + 1 < parts.size());
    EXPECT_LE(parts[p].entries.size(), 256u);
    for (const auto& e : parts[p].entries) EXPECT_TRUE(orgs.insert(e.org).second) << e.org;
  }
  EXPECT_EQ(orgs.size(), 603u);
  EXPECT_TRUE(orgs.count(kOrgA));
}

// With thousands of members, one enrollment must not send every session the whole roster
// again (10,000 sessions x 1.3 MB): sessions get the change alone; a Hello gets the whole.
TEST_F(BrokerScaleTest, AnEnrollmentReachesSessionsAsTheChangeAlone) {
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(roster().Enroll(Gen(Uuid(0xc000 + i)).pub, Role::kPartner, kStart).ok());
  }
  Hello(a_);
  Hello(b_);
  Take(a_);
  Take(b_);
  Identity late = Gen(Uuid(0xcfff));
  ASSERT_TRUE(roster().Enroll(late.pub, Role::kPartner, kStart).ok());
  std::vector<Outgoing> out;
  core().Pump(&out);
  Deliver(out);
  for (Peer* p : {&a_, &b_}) {
    auto rosters = All<proto::Roster>(Take(*p));
    ASSERT_EQ(rosters.size(), 1u);
    EXPECT_TRUE(rosters[0].changes);
    EXPECT_FALSE(rosters[0].more);
    ASSERT_EQ(rosters[0].entries.size(), 1u);
    EXPECT_EQ(rosters[0].entries[0].org, late.pub.org);
    EXPECT_EQ(rosters[0].entries[0].sign_key, late.pub.sign_public);
  }
  // A revocation and a second enrollment: the next change holds both, and only them.
  ASSERT_TRUE(roster().Revoke(Uuid(0xc000)).ok());
  ASSERT_TRUE(roster().Enroll(Gen(Uuid(0xcffe)).pub, Role::kPartner, kStart).ok());
  out.clear();
  core().Pump(&out);
  Deliver(out);
  auto rosters = All<proto::Roster>(Take(a_));
  ASSERT_EQ(rosters.size(), 1u);
  std::set<std::string> orgs;
  for (const auto& e : rosters[0].entries) orgs.insert(e.org);
  EXPECT_EQ(orgs, (std::set<std::string>{Uuid(0xc000), Uuid(0xcffe)}));
  // A resumed Hello (how an agent that missed something asks again) brings the whole roster.
  proto::Hello again{proto::kProtocolVersion, a_.replica, 0, 16};
  again.resume = true;
  auto got = Send(a_, again);
  size_t members = 0;
  for (const auto& r : All<proto::Roster>(got)) {
    EXPECT_FALSE(r.changes);
    members += r.entries.size();
  }
  EXPECT_EQ(members, 605u);
}

// Pushes that arrive from several sessions in one turn are committed in one batch.
TEST_F(BrokerScaleTest, PushesFromSeveralSessionsAreCommittedTogether) {
  CreateOrgA();
  Hello(b_);
  ASSERT_TRUE(PushOne(b_, b_.Item(b_.Edit(clock(), kOrgB, "organization",
                                          {{"name", std::string("Legal Aid")}, {"owner", kOrgB}})))
                  .accepted);
  uint64_t commits = core().stats().group_commits;
  std::vector<Outgoing> out;
  core().OnMessage(
      a_.routing, kOrgA,
      proto::EncodeEnvelope(proto::Push{
          ++batches_,
          {a_.Item(a_.Edit(clock(), kOrgA, "organization", {{"description", std::string("a")}}))}}),
      &out);
  core().OnMessage(
      b_.routing, kOrgB,
      proto::EncodeEnvelope(proto::Push{
          ++batches_,
          {b_.Item(b_.Edit(clock(), kOrgB, "organization", {{"description", std::string("b")}}))}}),
      &out);
  EXPECT_TRUE(out.empty()) << "acks wait for the commit";
  core().Pump(&out);
  Deliver(out);
  EXPECT_EQ(core().stats().group_commits, commits + 1);
  EXPECT_EQ(All<proto::PushAck>(Take(a_)).size(), 1u);
  EXPECT_EQ(All<proto::PushAck>(Take(b_)).size(), 1u);
  EXPECT_EQ(BrokerValue(kOrgA, "description"), Value(std::string("a")));
  EXPECT_EQ(BrokerValue(kOrgB, "description"), Value(std::string("b")));
}

// A new agent joining a long log whose history outweighs the directory gets a checkpoint,
// built once and shared with the next agent that needs one, then the log after it.
TEST_F(BrokerScaleTest, NewAgentsAfterALongHistoryShareOneCheckpoint) {
  LogEdits(200, std::string(200, 'h'));  // 201 entries rewriting one record
  for (Peer* p : {&b_}) {
    auto got = Send(*p, proto::Hello{proto::kProtocolVersion, p->replica, 0, 1024});
    auto w = All<proto::Welcome>(got);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(w[0].snapshot);
    auto chunks = All<proto::SnapshotChunk>(got);
    ASSERT_FALSE(chunks.empty());
    EXPECT_TRUE(chunks.back().last);
    EXPECT_EQ(chunks.back().log_seq, 201u);
    EXPECT_TRUE(Seqs(got).empty());
  }
  Peer b2{"peer-b2", b_.id, 0xb2};
  auto got = Send(b2, proto::Hello{proto::kProtocolVersion, b2.replica, 0, 1024});
  EXPECT_FALSE(All<proto::SnapshotChunk>(got).empty());
  EXPECT_EQ(core().stats().checkpoints_built, 1u);
  // After the checkpoint is acknowledged, the log continues.
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                          {{"description", std::string("after")}})))
                  .accepted);
  got = Send(b_, proto::Credit{0, 201, false, 2});
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{202}));
}

// ---------- fair sharing (issue 14, deliverable 3) ----------

// One organization's pushes wait in its own queue: each turn takes one push of each
// organization in turn, so a push of another organization arriving behind a flood goes into
// the next commit instead of waiting for the flood.
TEST_F(BrokerScaleTest, APushArrivingBehindAFloodGoesIntoTheNextCommit) {
  options_.ingest_turn_items = 4;
  Restart(options_);
  CreateOrgA();
  Hello(b_);
  uint64_t head = core().stats().log_head;
  std::vector<Outgoing> out;
  for (int i = 0; i < 10; ++i) {
    core().OnMessage(a_.routing, kOrgA,
                     proto::EncodeEnvelope(proto::Push{
                         ++batches_,
                         {a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                          {{"description", "flood " + std::to_string(i)}}))}}),
                     &out);
  }
  core().OnMessage(b_.routing, kOrgB,
                   proto::EncodeEnvelope(proto::Push{
                       ++batches_,
                       {b_.Item(b_.Edit(clock(), kOrgB, "organization",
                                        {{"name", std::string("Legal Aid")}, {"owner", kOrgB}}))}}),
                   &out);
  EXPECT_TRUE(out.empty()) << "acks wait for the commit";
  EXPECT_EQ(core().stats().pushes_queued, 11u);
  core().Pump(&out);
  Deliver(out);
  // The first turn: A, B, A, A — B's push is the second one logged, not the eleventh.
  auto b_acks = All<proto::PushAck>(Take(b_));
  ASSERT_EQ(b_acks.size(), 1u);
  ASSERT_EQ(b_acks[0].results.size(), 1u);
  EXPECT_TRUE(b_acks[0].results[0].accepted);
  EXPECT_EQ(b_acks[0].results[0].log_seq, head + 2);
  EXPECT_EQ(All<proto::PushAck>(Take(a_)).size(), 3u);
  EXPECT_EQ(core().stats().pushes_queued, 7u);
  EXPECT_EQ(BrokerValue(kOrgB, "name"), Value(std::string("Legal Aid")));
  // The rest of the flood follows in the next turns, in order; nothing is lost.
  for (int turn = 0; turn < 5 && core().stats().pushes_queued > 0; ++turn) Deliver(PumpBroker());
  EXPECT_EQ(All<proto::PushAck>(Take(a_)).size(), 7u);
  EXPECT_EQ(core().stats().pushes_queued, 0u);
  EXPECT_EQ(core().stats().log_head, head + 11);
  EXPECT_EQ(BrokerValue(kOrgA, "description"), Value(std::string("flood 9")));
}

// An organization that floods the queue itself has its extra pushes refused, not kept.
TEST_F(BrokerScaleTest, PushesBeyondAnOrganizationsQueueAreRefusedForLater) {
  options_.max_queued_pushes_per_org = 2;
  Restart(options_);
  CreateOrgA();
  std::vector<Outgoing> out;
  for (int i = 0; i < 3; ++i) {
    core().OnMessage(a_.routing, kOrgA,
                     proto::EncodeEnvelope(proto::Push{
                         ++batches_,
                         {a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                          {{"description", "q" + std::to_string(i)}}))}}),
                     &out);
  }
  Deliver(out);
  auto got = Take(a_);
  ASSERT_EQ(got.size(), 1u) << Describe(got);
  EXPECT_EQ(std::get<proto::Refusal>(got[0]).code, proto::RefusalCode::kUnavailable);
  EXPECT_EQ(core().stats().quota_refusals, 1u);
  Deliver(PumpBroker());
  EXPECT_EQ(All<proto::PushAck>(Take(a_)).size(), 2u);
}

// A partner's log bytes per hour: once spent, its pushes are refused (the agent keeps them),
// counted, while other organizations push as before; the allowance comes back with time.
TEST_F(BrokerScaleTest, APartnerOverItsLogBytesPerHourIsRefusedUntilTheHourGoesBy) {
  options_.log_bytes_per_hour = 6'000;
  Restart(options_);
  CreateOrgA();
  Hello(b_);
  std::string text(1'000, 'd');
  int accepted = 0;
  proto::Refusal refusal;
  for (int i = 0; i < 20; ++i) {
    auto got =
        Send(a_, proto::Push{++batches_,
                             {a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                              {{"description", text + std::to_string(i)}}))}});
    if (auto r = All<proto::Refusal>(got); !r.empty()) {
      refusal = r[0];
      break;
    }
    auto acks = All<proto::PushAck>(got);
    ASSERT_EQ(acks.size(), 1u) << Describe(got);
    ASSERT_TRUE(acks[0].results.at(0).accepted);
    ++accepted;
  }
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 6);
  EXPECT_EQ(refusal.code, proto::RefusalCode::kUnavailable);
  EXPECT_NE(refusal.message.find("of log within the last hour"), std::string::npos)
      << refusal.message;
  BrokerStats st = core().stats();
  EXPECT_EQ(st.log_quota_refusals, 1u);
  EXPECT_EQ(st.quota_refusals, 1u);
  uint64_t head = st.log_head;
  // Another partner is not affected.
  ASSERT_TRUE(PushOne(b_, b_.Item(b_.Edit(clock(), kOrgB, "organization",
                                          {{"name", std::string("Legal Aid")}, {"owner", kOrgB}})))
                  .accepted);
  // An hour later A's allowance is back.
  clock().Advance(3'600'000);
  EXPECT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                          {{"description", std::string("later")}})))
                  .accepted);
  EXPECT_EQ(core().stats().log_head, head + 2);
}

// An agent far behind a flood of edits to a few records is sent those records' state at once
// and the flooded entries as positions only: another organization's edit behind the flood
// reaches it without every intermediate edit first.
TEST_F(BrokerScaleTest, AnAgentFarBehindAFloodGetsTheFloodedRecordsStateAtOnce) {
  options_.coalesce_backlog_entries = 8;
  Restart(options_);
  LogEdits(30, std::string(300, 'f'));  // 31 entries, one record of A
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), Uuid(0xa300), "service",
                                          {{"name", std::string("svc")}, {"owner", kOrgA}})))
                  .accepted);
  Hello(m_);
  auto got = Send(b_, proto::Hello{proto::kProtocolVersion, b_.replica, 0, 1024});
  ASSERT_EQ(All<proto::Welcome>(got).size(), 1u) << Describe(got);
  EXPECT_EQ(core().stats().coalesced, 2u);  // B's session and M's
  const auto& entries = Entries(b_);
  ASSERT_EQ(entries.size(), 32u);
  ASSERT_EQ(entries.begin()->first, 1u);
  const proto::SignedDelta& state = entries.begin()->second;
  EXPECT_EQ(state.signer, "broker");
  Result<Delta> d = DecodeDelta(state.delta);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Directory b_view;
  for (const Record& r : d->records) b_view.Join(r);
  ASSERT_NE(b_view.Find(kOrgA), nullptr);
  EXPECT_EQ(b_view.Find(kOrgA)->Displayed("description"), Value(std::string(300, 'f') + "29"));
  ASSERT_NE(b_view.Find(Uuid(0xa300)), nullptr);
  for (auto it = std::next(entries.begin()); it != entries.end(); ++it) {
    EXPECT_TRUE(it->second.delta.empty()) << "entry " << it->first << " is covered by the state";
  }
  // Caught up, the stream is entry by entry again.
  got = Send(b_, proto::Credit{0, 32});
  ASSERT_TRUE(PushOne(a_, a_.Item(a_.Edit(clock(), kOrgA, "organization",
                                          {{"description", std::string("after")}})))
                  .accepted);
  got = PumpFor(b_);
  EXPECT_EQ(Seqs(got), (std::vector<uint64_t>{33}));
  EXPECT_FALSE(Entries(b_).at(33).delta.empty());
  EXPECT_EQ(core().stats().coalesced, 2u);
}

// Starting over on a small network costs little: such Hellos are not counted.
TEST_F(BrokerScaleTest, CheapCatchUpsFromCursorZeroAreNotLimited) {
  options_.full_catchups_per_org = 1;
  Restart(options_);
  LogEdits(5);
  for (int i = 0; i < 5; ++i) {
    Peer p("peer-b" + std::to_string(i), b_.id, 0xb100 + i);
    Hello(p);
  }
  EXPECT_EQ(core().stats().catchup_refusals, 0u);
}

// Forty Hellos from cursor 0 of one organization cost the broker one full catch-up per
// interval, not forty: the others are refused (try again later) before anything is streamed.
TEST_F(BrokerScaleTest, HellosFromCursorZeroCostOneFullCatchUpPerIntervalNotOnePerHello) {
  options_.full_catchups_per_org = 1;
  options_.full_catchup_interval_ms = 60'000;
  options_.full_catchup_min_bytes = 1;  // the 90 KB log below counts
  options_.max_sessions_per_org = 64;
  Restart(options_);
  LogEdits(200, std::string(200, 'h'));
  uint64_t bytes_before = core().stats().bytes_out;
  std::vector<std::unique_ptr<Peer>> agents;
  int welcomed = 0, refused = 0;
  for (int i = 0; i < 40; ++i) {
    agents.push_back(std::make_unique<Peer>("peer-b" + std::to_string(i), b_.id, 0xb100 + i));
    auto got = Send(*agents.back(),
                    proto::Hello{proto::kProtocolVersion, agents.back()->replica, 0, 1024});
    if (!All<proto::Welcome>(got).empty()) ++welcomed;
    for (const auto& r : All<proto::Refusal>(got)) {
      EXPECT_EQ(r.code, proto::RefusalCode::kUnavailable);
      EXPECT_NE(r.message.find("try again in 60 s"), std::string::npos) << r.message;
      ++refused;
    }
  }
  EXPECT_EQ(welcomed, 1);
  EXPECT_EQ(refused, 39);
  BrokerStats st = core().stats();
  EXPECT_EQ(st.snapshots, 1u);
  EXPECT_EQ(st.catchup_refusals, 39u);
  EXPECT_EQ(st.quota_refusals, 39u);
  uint64_t one_catchup = st.bytes_out - bytes_before;
  // Another organization has its own allowance; an agent with a cursor is not limited.
  Hello(m_);
  Peer b_behind{"peer-b-behind", b_.id, 0xb1ff};
  auto got = Send(b_behind, proto::Hello{proto::kProtocolVersion, b_behind.replica, 150, 1024});
  EXPECT_EQ(All<proto::Welcome>(got).size(), 1u) << Describe(got);
  // After the interval one more may start from the beginning.
  clock().Advance(60'000);
  got = Send(*agents[1], proto::Hello{proto::kProtocolVersion, agents[1]->replica, 0, 1024});
  EXPECT_EQ(All<proto::Welcome>(got).size(), 1u) << Describe(got);
  EXPECT_LT(core().stats().bytes_out - bytes_before, one_catchup * 40 / 4)
      << "the refused Hellos cost nearly nothing";
}

}  // namespace
}  // namespace sb

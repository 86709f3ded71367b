// AgentSync (the agent's protocol state machine) against a BrokerCore, without sockets: the
// session fixture's in-memory network hands the bytes each side returns to the other's
// OnMessage. Every agent has its own LocalDirectory over a real RocksDB store in a temporary
// directory; all share one ManualClock.
#include "agents/sync_session.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "broker/broker_core.h"
#include "conflict/codec.h"
#include "conflict/views.h"
#include "testing/edits.h"
#include "testing/session_fixture.h"

namespace sb {
namespace {

using testing::Uuid;

using testing::Edit;
using testing::Gen;

constexpr uint64_t kStart = 1'790'000'000'000;

const std::string kOrgA = Uuid(0xa);
const std::string kOrgB = Uuid(0xb);
const std::string kOrgM = Uuid(0xc);
const std::string kLocA = Uuid(0xa02);

RecordEdit NewOrg(const std::string& org, const std::string& name) {
  return Edit(org, "organization", {{"name", name}, {"owner", org}});
}

// What a user sees of each record (values, not causal metadata).
template <typename A>
std::map<std::string, RecordView> Views(const A& agent) {
  std::map<std::string, RecordView> out;
  Directory state = agent.State();
  for (const auto& [id, r] : state.records()) out[id] = ProposedView(r, FieldSchema::Hsds());
  return out;
}

// One agent of the fixture: its store, directory and sync session, and whether it is connected.
using Agent = testing::SessionAgent;

// A broker and agents on an in-memory network (testing/session_fixture.h).
class SyncSessionTest : public ::testing::Test, public testing::SessionFixture {
 protected:
  void SetUp() override {
    Status st = Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // A new agent for `org`, enrolled with `role`, not yet connected.
  Agent& AddAgent(const std::string& org, Role role, ReplicaId replica,
                  AgentSync::Options so = {}) {
    return SessionFixture::AddAgent({org, role, replica, so, true});
  }

  // Delivers messages both ways until nothing moves (agents Tick at the start of each
  // round). Returns the number of messages delivered; gives up after `max_messages`.
  size_t Run(size_t max_messages = 10'000) { return SessionFixture::Run(max_messages); }
};

TEST_F(SyncSessionTest, HelloWelcomeMakesTheAgentReady) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  EXPECT_EQ(a.sync->status().state, "disconnected");
  Connect(a);
  EXPECT_EQ(a.sync->status().state, "connecting");
  Run();
  SyncStatus st = a.sync->status();
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.org, kOrgA);
  EXPECT_EQ(st.role, "partner");
  EXPECT_TRUE(st.last_error.empty()) << st.last_error;
  ASSERT_EQ(core().Sessions().size(), 1u);
  EXPECT_EQ(core().Sessions()[0].replica, 0xa1u);
}

TEST_F(SyncSessionTest, VersionRefusalIsFinal) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  DiscardInFlight();  // the broker answers for another version instead
  EXPECT_TRUE(
      a.sync
          ->OnMessage(proto::EncodeEnvelope(proto::Refusal{
              proto::RefusalCode::kVersion, "protocol version 1 is not supported; upgrade"}))
          .empty());
  EXPECT_EQ(a.sync->status().state, "refused");
  EXPECT_NE(a.sync->status().last_error.find("upgrade"), std::string::npos);
  // It stays refused: reconnecting says nothing, ticking pushes nothing.
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  a.sync->OnDisconnected();
  EXPECT_TRUE(a.sync->OnConnected().empty());
  clock().Advance(60'000);
  EXPECT_TRUE(a.sync->Tick().empty());
  EXPECT_EQ(a.sync->status().state, "refused");
}

TEST_F(SyncSessionTest, WelcomeOfAnotherProtocolVersionIsRefusedByTheAgent) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  DiscardInFlight();
  (void)a.sync->OnMessage(proto::EncodeEnvelope(
      proto::Welcome{proto::kProtocolVersion + 1, kOrgA, Role::kPartner, 0, false}));
  EXPECT_EQ(a.sync->status().state, "refused");
}

// A Welcome naming another log epoch than the one the agent synced with (the broker was
// restored from a backup, store/backup.h): the agent reads the log from its start and queues
// what it wrote to push again.
TEST_F(SyncSessionTest, AWelcomeFromAnotherLogEpochMakesTheAgentRejoin) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  ASSERT_EQ(a.dir->outbox_depth(), 0u);
  ASSERT_GT(a.dir->sync_cursor(), 0u);
  uint64_t epoch = a.dir->broker_epoch();
  ASSERT_NE(epoch, 0u);
  (void)a.sync->OnMessage(proto::EncodeEnvelope(
      proto::Welcome{proto::kProtocolVersion, kOrgA, Role::kPartner, 0, false, false, epoch ^ 1}));
  EXPECT_EQ(a.dir->broker_epoch(), epoch ^ 1);
  EXPECT_EQ(a.dir->sync_cursor(), 0u);
  EXPECT_EQ(a.dir->outbox_depth(), 1u);  // its organization record, to push again
  auto queued = a.dir->Outbox(0, 10);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  auto delta = DecodeDelta((*queued)[0].delta);
  ASSERT_TRUE(delta.ok());
  ASSERT_EQ(delta->records.size(), 1u);
  EXPECT_EQ(delta->records[0].id(), kOrgA);
  EXPECT_EQ(delta->author, 0xa1u);
}

TEST_F(SyncSessionTest, BrokerThatForgotTheSessionGetsHelloAgainAndThePush) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  ASSERT_TRUE(a.sync->ready());
  // The broker restarts (sessions are in memory); the agent did not notice.
  RestartBroker();
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  std::vector<std::string> codes;
  for (const auto& m : a.received) {
    if (auto* r = std::get_if<proto::Refusal>(&m)) codes.push_back(proto::Name(r->code));
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"hello_first"}));
  EXPECT_TRUE(a.sync->ready());
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(core().stats().log_head, 1u);
}

TEST_F(SyncSessionTest, AcceptedEditEmptiesTheOutboxAndReachesOtherAgents) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  EXPECT_EQ(a.dir->outbox_depth(), 1u);
  Run();
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(core().stats().accepted, 1u);
  EXPECT_EQ(a.sync->status().accepted, 1u);
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(b.sync->status().cursor, 1u);
  EXPECT_EQ(a.sync->status().cursor, 1u);  // its own entry, skipped but counted
  EXPECT_EQ(a.State(), b.State());
  // The broker knows how far each agent got.
  for (const auto& s : core().Sessions()) EXPECT_EQ(s.acked, 1u) << s.org;
}

TEST_F(SyncSessionTest, RefusedEditIsTakenBackAndListedWithItsReason) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  ASSERT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
  // B edits A's organization: its agent lets it (it cannot know), the broker does not.
  b.Apply({Edit(kOrgA, "organization", {{"name", std::string("Defaced")}})});
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Defaced")));
  Run();
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(b.dir->outbox_depth(), 0u);
  EXPECT_EQ(b.sync->status().refused, 1u);
  auto rejections = b.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  ASSERT_EQ(rejections->size(), 1u);
  EXPECT_NE((*rejections)[0].reason.find("belongs to organization " + kOrgA), std::string::npos)
      << (*rejections)[0].reason;
  EXPECT_EQ((*rejections)[0].records, std::vector<std::string>{kOrgA});
  EXPECT_EQ(a.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(core().stats().log_head, 1u);
  // Later edits by A still reach B, on top of the taken-back record.
  a.Apply({Edit(kOrgA, "organization", {{"name", std::string("Casa Segura II")}})});
  Run();
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura II")));
  EXPECT_EQ(Views(a), Views(b));
}

// A refusal whose broker state the agent cannot read (a broker bug, e.g. a state stamped below
// its values) must not take the record back to nothing: the edit stays in the outbox, the
// bytes are set aside with the reason, and a later refusal the agent can read settles it.
TEST_F(SyncSessionTest, ARefusalWhoseStateCannotBeReadTakesNothingBack) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  int garbled = 0;
  std::optional<Value> after_garbled;
  size_t outbox_after_garbled = 0;
  intercept_down = [&](Agent& to, const proto::Message& m) {
    auto* ack = std::get_if<proto::PushAck>(&m);
    if (&to != &b || !ack || garbled > 0) return false;
    ++garbled;
    proto::PushAck bad = *ack;
    for (proto::PushResult& r : bad.results) {
      if (!r.accepted) r.current = "not a delta";
    }
    DeliverDown(b, proto::EncodeEnvelope(proto::Message{bad}));
    after_garbled = b.Displayed(kOrgA, "name");
    outbox_after_garbled = b.dir->outbox_depth();
    return true;
  };
  b.Apply({Edit(kOrgA, "organization", {{"name", std::string("Defaced")}})});
  Run();
  clock().Advance(AgentSync::Options{}.resend_after_ms + 1);
  Run();
  ASSERT_EQ(garbled, 1);
  // Right after the unreadable refusal: nothing taken back, the edit still queued.
  EXPECT_EQ(after_garbled, Value(std::string("Defaced")));
  EXPECT_EQ(outbox_after_garbled, 1u);
  EXPECT_EQ(b.sync->status().quarantined, 1u);
  // The edit is pushed again; the refusal it then gets is readable and settles it.
  EXPECT_EQ(b.sync->status().refused, 1u);
  EXPECT_EQ(b.dir->outbox_depth(), 0u);
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(Views(a), Views(b));
}

// The refusal's broker state is as of the refused item; if later log entries reach the agent
// before the ack (messages overtaking each other), taking the edit back must not lose them:
// the agent replays the log from the refusal's position.
TEST_F(SyncSessionTest, ARefusalOvertakenByLaterUpdatesLosesNothing) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  std::vector<std::string> held;  // the PushAck to B, delivered late
  intercept_down = [&](Agent& to, const proto::Message& m) {
    if (&to != &b || !std::holds_alternative<proto::PushAck>(m)) return false;
    held.push_back(proto::EncodeEnvelope(m));
    return true;
  };
  b.Apply({Edit(kOrgA, "organization", {{"name", std::string("Defaced")}})});
  Run();
  ASSERT_EQ(held.size(), 1u);
  intercept_down = nullptr;
  a.Apply({Edit(kOrgA, "organization", {{"description", std::string("Beds for 12")}})});
  Run();
  ASSERT_EQ(b.Displayed(kOrgA, "description"), Value(std::string("Beds for 12")));
  DeliverDown(b, held.front());
  Run();
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(b.Displayed(kOrgA, "description"), Value(std::string("Beds for 12")));
  EXPECT_EQ(Views(a), Views(b));
  EXPECT_EQ(b.dir->sync_cursor(), core().stats().log_head);
}

// A refused creation is taken back: the record must not stay in the view (the local API's
// listing and the HSDS export iterate every record that is not deleted).
TEST_F(SyncSessionTest, RefusedCreationLeavesNoRecordBehind) {
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(b);
  Run();
  const std::string service = Uuid(0xb99);
  b.Apply({Edit(service, "service", {{"name", std::string("Not ours")}, {"owner", kOrgA}})});
  Run();
  auto rejections = b.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  ASSERT_EQ(rejections->size(), 1u);
  EXPECT_FALSE(b.Displayed(service, "name").has_value());
  bool present = b.dir->Read([&](const Directory& d) { return d.Find(service) != nullptr; });
  EXPECT_FALSE(present) << "a field-less service record " << service
                        << " stays in the agent's view after its creation was refused";
}

// The agent pushes a new record; the PushAck is lost on the way back; after resend_after_ms
// the agent pushes the same outbox entry again. It was accepted the first time, so the user
// must not be told it was refused.
TEST_F(SyncSessionTest, LostPushAckForANewRecordDoesNotBecomeARejection) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  int dropped = 0;
  intercept_down = [&](Agent&, const proto::Message& m) {
    return std::holds_alternative<proto::PushAck>(m) && dropped++ == 0;
  };
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  ASSERT_EQ(dropped, 1);
  ASSERT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(a.dir->outbox_depth(), 1u);
  clock().Advance(AgentSync::Options{}.resend_after_ms + 1);
  Run();
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(a.sync->status().refused, 0u);
  auto rejections = a.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  EXPECT_TRUE(rejections->empty()) << (*rejections)[0].reason;
  EXPECT_EQ(a.Displayed(kOrgA, "name"), Value(std::string("Casa Segura")));
}

// The roster follows Welcome; if it is lost, the agent cannot verify others' entries yet. It
// must not step its cursor over them (it did once: the entry was skipped for good).
TEST_F(SyncSessionTest, LostRosterDoesNotMakeTheAgentSkipEntries) {
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(b);
  Run();
  b.Apply({NewOrg(kOrgB, "Legal Aid North")});
  Run();
  ASSERT_EQ(core().stats().log_head, 1u);

  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  int rosters = 0;
  intercept_down = [&](Agent& to, const proto::Message& m) {
    return &to == &a && std::holds_alternative<proto::Roster>(m) && rosters++ == 0;
  };
  Connect(a);
  Run();
  ASSERT_EQ(rosters, 2);  // the first one lost
  EXPECT_EQ(a.dir->sync_cursor(), 1u);
  EXPECT_EQ(a.Displayed(kOrgB, "name"), Value(std::string("Legal Aid North")));
  size_t hellos = 0;
  for (const auto& m : a.received) hellos += std::holds_alternative<proto::Welcome>(m);
  EXPECT_EQ(hellos, 2u);  // the Hello was repeated once (resumed) to bring the roster
}

// A stall (behind, nothing heard for stall_ms) asks the broker to resume — a busy broker
// still has the stream in flight — and only a second stall in a row starts over.
TEST_F(SyncSessionTest, AStallAsksToResumeAndOnlyASecondStallStartsOver) {
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(b);
  Run();
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  // The network loses what the broker streams to `a` (it cannot on a live ZeroMQ
  // connection; this stands for anything that could).
  bool lose = true;
  intercept_down = [&](Agent& to, const proto::Message& m) {
    return lose && &to == &a && std::holds_alternative<proto::Updates>(m);
  };
  b.Apply({NewOrg(kOrgB, "Legal Aid North")});
  Run();
  ASSERT_EQ(core().stats().log_head, 1u);
  ASSERT_EQ(a.dir->sync_cursor(), 0u);
  // Nothing heard, but the agent does not yet know it is behind: it learns the head from a
  // resumed Welcome after the next stall check, so drive one.
  a.sync->OnMessage(proto::EncodeEnvelope(
      proto::Welcome{proto::kProtocolVersion, kOrgA, Role::kPartner, 1, false, true}));
  uint64_t resumes = core().stats().resumes, restarts = core().stats().restarts;
  clock().Advance(AgentSync::Options{}.stall_ms + 1);
  Run();
  EXPECT_EQ(a.sync->status().stalls, 1u);
  EXPECT_EQ(core().stats().resumes, resumes + 1);  // resumed: nothing sent again
  EXPECT_EQ(core().stats().restarts, restarts);
  EXPECT_EQ(a.dir->sync_cursor(), 0u);
  lose = false;
  clock().Advance(AgentSync::Options{}.stall_ms + 1);
  Run();
  EXPECT_EQ(a.sync->status().session_restarts, 1u);
  EXPECT_EQ(core().stats().restarts, restarts + 1);
  EXPECT_EQ(a.dir->sync_cursor(), 1u);
  EXPECT_EQ(a.Displayed(kOrgB, "name"), Value(std::string("Legal Aid North")));
}

// A checkpoint chunk says where the log continues after it: an agent that gets part of a
// checkpoint and then nothing knows it is behind, and asks again after a stall — even when
// no Updates told it the head (a checkpoint started by a rewind on a live session).
TEST_F(SyncSessionTest, APartOfACheckpointAndThenSilenceIsAStall) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  ASSERT_EQ(a.dir->sync_cursor(), 1u);
  // A chunk of a checkpoint at log entry 40, and nothing more of it.
  std::vector<std::string> reply =
      a.sync->OnMessage(proto::EncodeEnvelope(proto::SnapshotChunk{77, 1, false, 40, "", ""}));
  ASSERT_FALSE(reply.empty());  // out of order: a rewind is asked for
  EXPECT_EQ(a.sync->status().rewinds, 1u);
  clock().Advance(AgentSync::Options{}.stall_ms + 1);
  std::vector<std::string> tick = a.sync->Tick();
  EXPECT_EQ(a.sync->status().stalls, 1u);
  ASSERT_EQ(tick.size(), 1u);
  Result<proto::Message> hello = proto::DecodeEnvelope(tick[0]);
  ASSERT_TRUE(hello.ok());
  ASSERT_TRUE(std::holds_alternative<proto::Hello>(*hello));
  EXPECT_TRUE(std::get<proto::Hello>(*hello).resume);
}

// A roster in parts is taken whole; with a part lost the agent asks again and skips nothing.
TEST_F(SyncSessionTest, ARosterInPartsIsTakenWholeAndALostPartIsAskedFor) {
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(roster().Enroll(Gen(Uuid(0xd000 + i)).pub, Role::kPartner, kStart).ok());
  }
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(b);
  Run();
  b.Apply({NewOrg(kOrgB, "Legal Aid North")});
  Run();
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  int parts = 0;
  intercept_down = [&](Agent& to, const proto::Message& m) {
    auto* r = std::get_if<proto::Roster>(&m);
    return &to == &a && r && r->part == 1 && parts++ == 0;
  };
  Connect(a);
  Run();
  EXPECT_EQ(parts, 2);  // the second part lost once, then sent again with the whole roster
  EXPECT_EQ(a.dir->sync_cursor(), 1u);
  EXPECT_EQ(a.Displayed(kOrgB, "name"), Value(std::string("Legal Aid North")));
}

// An organization enrolled while an agent is connected reaches it as a change (the member
// alone), which the agent merges; a change lost on the way is asked for by a resumed Hello
// when a delta of the new member arrives.
class RosterChangeTest : public SyncSessionTest {
 protected:
  void Check(bool lose) {
    Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
    Connect(a);
    Run();
    int changes = 0;
    intercept_down = [&](Agent& to, const proto::Message& m) {
      auto* r = std::get_if<proto::Roster>(&m);
      if (&to != &a || !r || !r->changes) return false;
      EXPECT_EQ(r->entries.size(), 1u);
      ++changes;
      return lose;
    };
    Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
    Connect(b);
    Run();
    b.Apply({NewOrg(kOrgB, "Legal Aid North")});
    Run();
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(a.dir->sync_cursor(), 1u);
    EXPECT_EQ(a.Displayed(kOrgB, "name"), Value(std::string("Legal Aid North")));
    EXPECT_EQ(a.sync->status().hello_repeats, lose ? 1u : 0u);
  }
};

TEST_F(RosterChangeTest, AnEnrollmentArrivesAsAChange) {
  Check(false);
}
TEST_F(RosterChangeTest, ALostChangeIsAskedForByAResumedHello) {
  Check(true);
}

TEST_F(SyncSessionTest, SmallCreditWindowStillDeliversEverything) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  AgentSync::Options small;
  small.credit_window = 2;
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1, small);
  Connect(a);
  Run();
  a.Apply({NewOrg(kOrgA, "v0")});
  for (int i = 1; i < 5; ++i) {
    a.Apply({Edit(kOrgA, "organization", {{"description", "v" + std::to_string(i)}})});
  }
  Run();
  ASSERT_EQ(core().stats().log_head, 5u);
  Connect(b);
  Run();
  size_t most = 0;
  for (const auto& m : b.received) {
    if (auto* u = std::get_if<proto::Updates>(&m)) most = std::max(most, u->entries.size());
  }
  EXPECT_EQ(most, 2u);
  EXPECT_EQ(b.sync->status().cursor, 5u);
  EXPECT_EQ(b.Displayed(kOrgA, "description"), Value(std::string("v4")));
  EXPECT_EQ(a.State(), b.State());
}

// A stalled connection's held bytes arrive after the agent has started a new session on it:
// the old stream takes the agent's cursor past where the new session begins. The new session
// is far behind, so it begins with the coalesced state of the records its backlog touched and
// the backlog's positions only; the agent must take that state even though its position is
// behind the agent's cursor, or the positions after its cursor skip writes it never got (here
// the removal of an element: found by the nemesis test, partners kept removed values).
TEST_F(SyncSessionTest, AStreamHeldFromAnEarlierSessionDoesNotSkipWhatACoalescedStateCovers) {
  BrokerCore::Options o = broker_options();
  o.coalesce_backlog_entries = 8;
  RestartBroker(o);
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  AgentSync::Options small;
  small.credit_window = 4;
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1, small);
  Connect(a);
  Connect(b);
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  Run();
  ASSERT_EQ(b.sync->status().cursor, 1u);
  std::vector<std::string> held;  // what the broker streams to B while its connection stalls
  intercept_down = [&](Agent& to, const proto::Message& m) {
    if (&to != &b) return false;
    held.push_back(proto::EncodeEnvelope(m));
    return true;
  };
  auto countries = [](std::vector<std::string> c) {
    RecordEdit e = Edit(kOrgA, "organization", {});
    e.sets["countries_served"] = std::move(c);
    return e;
  };
  auto describe = [&](int i) {
    a.Apply({Edit(kOrgA, "organization", {{"description", "v" + std::to_string(i)}})});
  };
  a.Apply({countries({"NG", "RO"})});       // entry 2
  for (int i = 0; i < 3; ++i) describe(i);  // 3..5
  Run();
  ASSERT_FALSE(held.empty());                // entries 2..5 (B's credit window), held
  a.Apply({countries({"NG"})});              // 6: RO removed
  for (int i = 3; i < 15; ++i) describe(i);  // 7..18
  Run();
  ASSERT_EQ(core().stats().log_head, 18u);
  // B starts a new session at its cursor, 1; the broker answers it (still held). Then the
  // connection heals: the held bytes arrive in order, the earlier session's stream first.
  uint64_t coalesced = core().stats().coalesced;
  Disconnect(b);
  Connect(b);
  Pump();
  intercept_down = nullptr;
  for (const std::string& m : held) DeliverDown(b, m);
  Run();
  EXPECT_EQ(core().stats().coalesced, coalesced + 1);  // the new session's
  EXPECT_EQ(b.sync->status().cursor, 18u);
  Directory state = b.State();
  ASSERT_NE(state.Find(kOrgA), nullptr);
  ASSERT_NE(state.Find(kOrgA)->Set("countries_served"), nullptr);
  EXPECT_EQ(state.Find(kOrgA)->Set("countries_served")->Elements(), std::vector<std::string>{"NG"});
  EXPECT_EQ(b.Displayed(kOrgA, "description"), Value(std::string("v14")));
  EXPECT_EQ(state, BrokerStateFor(kOrgB, Role::kPartner));
}

TEST_F(SyncSessionTest, ConfidentialAddressStaysWithTheOwnerAndMaintainers) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Agent& m = AddAgent(kOrgM, Role::kMaintainer, 0xc1);
  for (Agent* x : {&a, &b, &m}) Connect(*x);
  a.Apply({NewOrg(kOrgA, "Casa Segura"), Edit(kLocA, "location",
                                              {{"name", std::string("Safe house")},
                                               {"address_1", std::string("12 rue Secrète")},
                                               {"city", std::string("Lyon")},
                                               {"address_confidential", Value(true)},
                                               {"owner", kOrgA}})});
  Run();
  EXPECT_EQ(b.Displayed(kLocA, "city"), Value(std::string("Lyon")));
  EXPECT_FALSE(b.Displayed(kLocA, "address_1").has_value());
  EXPECT_EQ(m.Displayed(kLocA, "address_1"), Value(std::string("12 rue Secrète")));
  for (Agent* x : {&a, &b, &m}) {
    EXPECT_TRUE(x->sync->status().last_error.empty()) << x->sync->status().last_error;
  }
  EXPECT_EQ(b.State(), BrokerStateFor(kOrgB, Role::kPartner));
  EXPECT_EQ(m.State(), core().state());
}

// An address written while its location was confidential was filtered out of every update to
// other partners; once the owner clears the flag, they get it (the broker sends the whole
// record again, filtered as it goes).
TEST_F(SyncSessionTest, ClearingConfidentialityBackfillsTheAddress) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  for (Agent* x : {&a, &b}) Connect(*x);
  a.Apply({NewOrg(kOrgA, "Casa Segura"), Edit(kLocA, "location",
                                              {{"name", std::string("Safe house")},
                                               {"address_1", std::string("12 rue Secrète")},
                                               {"city", std::string("Lyon")},
                                               {"address_confidential", Value(true)},
                                               {"owner", kOrgA}})});
  Run();
  ASSERT_FALSE(b.Displayed(kLocA, "address_1").has_value());
  a.Apply({Edit(kLocA, "location", {{"address_confidential", Value(false)}})});
  Run();
  EXPECT_EQ(b.Displayed(kLocA, "address_1"), Value(std::string("12 rue Secrète")));
  EXPECT_EQ(b.State(), BrokerStateFor(kOrgB, Role::kPartner));
  EXPECT_EQ(a.State(), core().state());
  EXPECT_TRUE(b.sync->status().last_error.empty()) << b.sync->status().last_error;
}

TEST_F(SyncSessionTest, AgentOlderThanTheLogCatchesUpFromASnapshot) {
  BrokerCore::Options o = broker_options();
  o.snapshot_chunk_records = 2;
  RestartBroker(o);
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  b.Apply({NewOrg(kOrgB, "Refugio")});
  Run();
  ASSERT_EQ(b.sync->status().cursor, 2u);
  Disconnect(b);
  // While B is away, A adds a confidential shelter and services; the log is trimmed.
  a.Apply({Edit(kLocA, "location",
                {{"name", std::string("Safe house")},
                 {"address_1", std::string("12 rue Secrète")},
                 {"address_confidential", Value(true)},
                 {"owner", kOrgA}})});
  Run();
  for (unsigned i = 0; i < 4; ++i) {
    a.Apply({Edit(Uuid(0xa300 + i), "service", {{"name", std::string("svc")}, {"owner", kOrgA}})});
    Run();
  }
  a.Apply({Edit(kOrgA, "organization", {{"description", std::string("after the trim")}})});
  Run();
  ASSERT_EQ(core().stats().log_head, 8u);
  ASSERT_TRUE(core().TrimLog(2).ok());
  ASSERT_EQ(core().stats().log_start, 7u);
  b.received.clear();
  Connect(b);
  Run();
  size_t chunks = 0;
  for (const auto& msg : b.received) chunks += std::holds_alternative<proto::SnapshotChunk>(msg);
  EXPECT_EQ(chunks, 5u);  // 7 records, 2 a chunk, and B's own records in its closing chunk
  EXPECT_EQ(b.sync->status().cursor, 8u);
  EXPECT_EQ(b.State(), BrokerStateFor(kOrgB, Role::kPartner));
  EXPECT_FALSE(b.Displayed(kLocA, "address_1").has_value());
  EXPECT_EQ(b.Displayed(kOrgA, "description"), Value(std::string("after the trim")));
  // And it keeps syncing from the log afterwards.
  a.Apply({Edit(kOrgA, "organization", {{"name", std::string("Casa Segura II")}})});
  Run();
  EXPECT_EQ(b.Displayed(kOrgA, "name"), Value(std::string("Casa Segura II")));
  EXPECT_EQ(b.sync->status().cursor, 9u);
}

TEST_F(SyncSessionTest, RevokedAgentIsCutOffAndStaysRefused) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  ASSERT_TRUE(roster().Revoke(kOrgB).ok());
  Run();
  EXPECT_EQ(b.sync->status().state, "refused");
  EXPECT_NE(b.sync->status().last_error.find("revoked"), std::string::npos);
  ASSERT_EQ(core().Sessions().size(), 1u);
  EXPECT_EQ(core().Sessions()[0].org, kOrgA);
  // B's later edits go nowhere; A's still reach the broker.
  b.Apply({NewOrg(kOrgB, "Refugio")});
  a.Apply({NewOrg(kOrgA, "Casa Segura")});
  clock().Advance(60'000);
  Run();
  EXPECT_EQ(core().stats().log_head, 1u);
  EXPECT_EQ(b.dir->outbox_depth(), 1u);
  EXPECT_EQ(b.Displayed(kOrgA, "name"), std::nullopt);
}

TEST_F(SyncSessionTest, ReplicaIdOfAnotherOrgIsRefused) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  // B's agent was (mis)configured with A's replica id.
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xa1);
  Connect(b);
  Run();
  EXPECT_EQ(b.sync->status().state, "refused");
  EXPECT_NE(b.sync->status().last_error.find("bound to another organization"), std::string::npos)
      << b.sync->status().last_error;
}

TEST_F(SyncSessionTest, ThrottledItemsGoThroughLater) {
  BrokerCore::Options o = broker_options();
  o.rate_per_s = 1;
  o.rate_burst = 2;
  RestartBroker(o);
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  a.Apply({NewOrg(kOrgA, "v0")});
  for (int i = 1; i < 5; ++i) {
    a.Apply({Edit(kOrgA, "organization", {{"description", "v" + std::to_string(i)}})});
  }
  Run(200);
  EXPECT_EQ(core().stats().log_head, 2u);
  EXPECT_EQ(core().stats().rejected, 0u);
  EXPECT_EQ(a.sync->status().refused, 0u);
  // The bucket refills at one delta a second. (Steps shorter than resend_after_ms, so that no
  // push is repeated while its answer is still on the way.)
  for (int i = 0; i < 30 && a.dir->outbox_depth() > 0; ++i) {
    clock().Advance(1'000);
    Run(200);
  }
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(core().stats().log_head, 5u);
  EXPECT_EQ(a.sync->status().refused, 0u);
}

// When the broker leaves items out of an ack (rate limit), the agent should not push them
// again at once: with no backoff it re-sends its whole outbox batch on every ack, a busy loop
// of pushes (each up to max_push_items deltas) for as long as the bucket is empty.
TEST_F(SyncSessionTest, ThrottledAgentDoesNotPushAgainAtOnce) {
  BrokerCore::Options o = broker_options();
  o.rate_per_s = 1;
  o.rate_burst = 2;
  RestartBroker(o);
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Connect(a);
  Run();
  a.Apply({NewOrg(kOrgA, "v0")});
  for (int i = 1; i < 5; ++i) {
    a.Apply({Edit(kOrgA, "organization", {{"description", "v" + std::to_string(i)}})});
  }
  size_t pushes = 0;
  intercept_up = [&](Agent&, const std::string& bytes) {
    auto m = proto::DecodeEnvelope(bytes);
    if (m.ok() && std::holds_alternative<proto::Push>(*m)) ++pushes;
    return false;  // delivered
  };
  Run(200);  // no time passes: the bucket stays empty
  EXPECT_LE(pushes, 2u) << "the agent pushed " << pushes
                        << " times without any time passing (the run was cut at 200 messages)";
}

}  // namespace
}  // namespace sb

namespace sb {
namespace {

// Issue 10: a log entry the agent cannot use (its signature does not verify, its bytes do not
// decode) is quarantined with the reason and stepped over; the entries around it apply, the
// cursor moves past it, and it is never asked for again.
TEST_F(SyncSessionTest, AnEntryThatCannotBeUsedIsQuarantinedAndSteppedOver) {
  Agent& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  Agent& b = AddAgent(kOrgB, Role::kPartner, 0xb1);
  Connect(a);
  Connect(b);
  Run();
  uint64_t cursor = a.dir->sync_cursor();
  auto entry = [&](uint64_t seq, const std::string& org, const std::string& name,
                   const Identity& signer, const std::string& signer_name) {
    Record r(org, "organization");
    Record d = r.WriteDelta("name", Value(name), 0xb1, Hlc::Make(kStart, 1));
    r.Join(d);
    r.Join(r.WriteDelta("owner", Value(org), 0xb1, Hlc::Make(kStart, 1)));
    std::string bytes = EncodeDelta(Delta{0xb1, Hlc::Make(kStart, 2), {r}});
    return proto::LogEntry{seq, proto::SignedDelta{bytes, kOrgB, signer_name, Sign(signer, bytes)}};
  };
  Identity impostor = Gen(kOrgB);  // another key claiming B
  proto::Updates u;
  u.entries.push_back(entry(cursor + 1, kOrgB, "forged", impostor, kOrgB));
  u.entries.push_back(proto::LogEntry{
      cursor + 2,
      proto::SignedDelta{"SBD\x01junk", kOrgB, "broker", Sign(broker_identity(), "SBD\x01junk")}});
  u.entries.push_back(entry(cursor + 3, kOrgB, "genuine", broker_identity(), "broker"));
  u.head = cursor + 3;
  std::vector<std::string> out = a.sync->OnMessage(proto::EncodeEnvelope(u));
  EXPECT_EQ(a.dir->sync_cursor(), cursor + 3);
  ASSERT_EQ(out.size(), 1u);
  Result<proto::Message> credit = proto::DecodeEnvelope(out[0]);
  ASSERT_TRUE(credit.ok());
  ASSERT_TRUE(std::holds_alternative<proto::Credit>(*credit));
  EXPECT_EQ(std::get<proto::Credit>(*credit).cursor, cursor + 3);
  EXPECT_EQ(a.Displayed(kOrgB, "name"), Value(std::string("genuine")));
  auto kept = a.quarantine->List(10);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ(kept->at(1).ref, std::to_string(cursor + 1));
  EXPECT_NE(kept->at(1).reason.find("signature does not verify"), std::string::npos);
  EXPECT_EQ(kept->at(0).ref, std::to_string(cursor + 2));
  EXPECT_NE(kept->at(0).reason.find("cannot decode"), std::string::npos) << kept->at(0).reason;
  EXPECT_EQ(a.sync->status().quarantined, 2u);
  // Sent again (a resend after a reconnect): nothing more is kept, nothing changes.
  (void)a.sync->OnMessage(proto::EncodeEnvelope(u));
  EXPECT_EQ(a.quarantine->kept(), 2u);
}

}  // namespace
}  // namespace sb

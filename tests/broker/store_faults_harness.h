// A broker and two agents (each with its directory, referral book and sync session) wired
// together without sockets, where any one of them may run on a fault-injecting store
// (store/fault_injection.h). Used by the recovery tests of the agent
// (tests/agents/store_faults_test.cpp) and the broker (tests/broker/store_faults_test.cpp).
//
// When a store commit of the faulty node fails, the harness checks at once that what the node
// holds in memory equals what its store holds durably:
//   - kCommit (the commit fails before RocksDB sees it; the store stays usable): a second copy
//     of the node's components is loaded from the same store and compared; the node then goes on
//     in the same process, and the next operations must succeed;
//   - kPowerLoss (the write-ahead log sync fails, RocksDB stops, the power goes): the node is
//     cut off, restarted on what survived, and compared with what it held before.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agents/referral_book.h"
#include "agents/sync_session.h"
#include "broker/broker_core.h"
#include "broker/loop_tasks.h"
#include "broker/review_service.h"
#include "conflict/views.h"
#include "store/audit.h"
#include "store/fault_injection.h"
#include "testing/edits.h"
#include "tests/integration/agent_process.h"

namespace sb::faults {

using testing::Edit;
using testing::Gen;

constexpr uint64_t kStart = 1'790'000'000'000;
const std::string kOrgA = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kOrgB = "bbbbbbbb-0000-4000-8000-000000000002";
const std::string kOrgC = "cccccccc-0000-4000-8000-000000000003";
const std::string kPhoneA = "aaaaaaaa-0000-4000-8000-0000000000f1";
const std::string kPayload = R"({"alias":"R.","language":"es","needs":["legal"]})";

enum class Mode { kCommit, kPowerLoss };
enum class Node { kNone, kAgentA, kAgentB, kBroker };

inline const char* ModeName(Mode m) {
  return m == Mode::kCommit ? "Commit" : "PowerLoss";
}

inline Value T(const std::string& s) {
  return Value(s);
}

// What an agent shows, in memory; compared with what it shows once loaded from its store.
struct AgentView {
  std::map<std::string, RecordView> records;
  uint64_t cursor = 0, outbox_depth = 0;
  std::vector<std::string> orgs;  // the referral roster
  std::string referrals;          // every referral as listed
  uint64_t referral_cursor = 0;
  size_t referral_queue = 0;
  friend bool operator==(const AgentView&, const AgentView&) = default;
};

// The same for the broker.
struct BrokerView {
  std::map<std::string, RecordView> records;
  uint64_t log_head = 0, log_start = 0;
  std::string roster;  // org, role, revoked of each member; replica bindings
  std::string referrals;
  friend bool operator==(const BrokerView&, const BrokerView&) = default;
};

inline std::string Describe(const std::map<std::string, RecordView>& records) {
  std::ostringstream s;
  for (const auto& [id, r] : records) {
    s << "  " << id << (r.deleted ? " (deleted)" : "") << ":";
    for (const auto& [f, v] : r.fields) {
      s << " " << f << "=" << (v.value ? ValueToString(*v.value) : "-") << (v.pending ? "*" : "");
      for (const std::string& e : v.elements) s << e << ",";
    }
    s << "\n";
  }
  return s.str();
}

inline std::string Describe(const AgentView& v) {
  std::ostringstream s;
  s << "cursor " << v.cursor << ", outbox " << v.outbox_depth << ", referral cursor "
    << v.referral_cursor << ", referral queue " << v.referral_queue << ", roster " << v.orgs.size()
    << " orgs\n"
    << Describe(v.records) << "  referrals: " << v.referrals;
  return s.str();
}

inline std::string Describe(const BrokerView& v) {
  std::ostringstream s;
  s << "log " << v.log_start << ".." << v.log_head << "\n  roster: " << v.roster << "\n"
    << Describe(v.records) << "  referrals: " << v.referrals;
  return s.str();
}

inline std::map<std::string, RecordView> Views(const Directory& d) {
  std::map<std::string, RecordView> out;
  for (const auto& [id, r] : d.records()) out[id] = ProposedView(r, FieldSchema::Hsds());
  return out;
}

struct Agent {
  std::string name, peer, path;
  Identity id;
  ReplicaId replica = 0;
  FaultInjector* fault = nullptr;  // when this agent's store injects faults
  std::unique_ptr<Store> store;
  std::unique_ptr<LocalDirectory> dir;
  std::unique_ptr<Quarantine> quarantine;
  std::unique_ptr<ReferralBook> book;
  std::unique_ptr<AgentSync> sync;
  bool connected = false;
  bool down = false;  // crashed, waiting for a restart

  Directory State() const {
    return dir->Read([](const Directory& d) { return d; });
  }
  std::optional<Value> Displayed(const std::string& rid, const std::string& field) const {
    return dir->Read([&](const Directory& d) -> std::optional<Value> {
      const Record* r = d.Find(rid);
      return r ? r->Displayed(field) : std::nullopt;
    });
  }
  std::string ReferralStatus(const std::string& rid) const {
    Result<ReferralInfo> r = book->Get(rid);
    return r.ok() ? r->status : "(" + r.status().message() + ")";
  }
};

inline std::string ListReferrals(const ReferralBook& book) {
  Result<std::vector<ReferralInfo>> all = book.List("", "");
  if (!all.ok()) return "(" + all.status().ToString() + ")";
  std::ostringstream s;
  for (const ReferralInfo& r : *all) {
    s << r.id << " " << r.box << " " << r.status << (r.at_broker ? " at-broker" : "")
      << (r.purged ? " purged" : "") << " steps:";
    for (const ReferralStep& st : r.steps) s << st.action << ",";
    s << " waiting:";
    for (const std::string& w : r.waiting) s << w << ",";
    s << " refused:" << r.refused << "; ";
  }
  return s.str();
}

inline AgentView AgentViewOf(const LocalDirectory& dir, const ReferralBook& book) {
  AgentView v;
  v.records = dir.Read([](const Directory& d) { return Views(d); });
  v.cursor = dir.sync_cursor();
  v.outbox_depth = dir.outbox_depth();
  v.orgs = book.KnownOrganizations();
  v.referrals = ListReferrals(book);
  v.referral_cursor = book.cursor();
  v.referral_queue = book.queue_depth();
  return v;
}

// Not a ::testing::Test: a loop test makes one per fault it injects.
class StoreFaults {
 public:
  // Node `faulty` runs on a fault-injecting store; faults are armed by the test.
  // B is a partner, or the coordinator's maintainer agent when `b_role` says so.
  void Init(Node faulty, Mode mode, Role b_role = Role::kPartner) {
    faulty_ = faulty;
    mode_ = mode;
    OpenBroker();
    a_ = &AddAgent("A", kOrgA, 0xa1, faulty == Node::kAgentA);
    b_ = &AddAgent("B", kOrgB, 0xb1, faulty == Node::kAgentB, b_role);
  }

  // Arms the n-th commit (kCommit) or WAL sync (kPowerLoss) of the faulty node from now.
  void Arm(uint64_t n) {
    if (mode_ == Mode::kCommit) {
      fault_.FailCommit(n);
    } else {
      fault_.FailWalSync(n);
    }
  }
  // What the faulty node has done that the armed fault counts.
  uint64_t Counted() const {
    return mode_ == Mode::kCommit ? fault_.commits() : fault_.wal_syncs();
  }

  StoreOptions Options(bool faulty) {
    StoreOptions o;
    o.create_if_missing = true;
    if (faulty) o.fault = &fault_;
    return o;
  }

  // ---------- the broker ----------
  void OpenBroker() {
    auto s = Store::Open(tmp_ / "broker", Options(faulty_ == Node::kBroker));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    broker_store_ = std::move(s).value();
    roster_ = std::make_unique<Roster>(broker_store_.get());
    ASSERT_TRUE(roster_->Load().ok());
    core_ = std::make_unique<BrokerCore>(broker_store_.get(), &clock_, broker_, roster_.get(),
                                         BrokerCore::Options());
    Status st = core_->Load();
    ASSERT_TRUE(st.ok()) << st.ToString();
    service_ = std::make_unique<ReviewService>(core_.get(), &tasks_, "coordinator");
    broker_down_ = false;
  }

  static BrokerView BrokerViewOf(const BrokerCore& core, const Roster& roster,
                                 const std::vector<ReplicaId>& replicas) {
    BrokerView v;
    v.records = Views(core.state());
    v.log_head = core.stats().log_head;
    v.log_start = core.stats().log_start;
    std::ostringstream r;
    for (const Member& m : roster.List()) {
      r << m.identity.org << "/" << RoleName(m.role) << (m.revoked ? "/revoked" : "") << " ";
    }
    for (ReplicaId id : replicas) r << ReplicaHex(id) << "->" << roster.OrgOfReplica(id) << " ";
    v.roster = r.str();
    auto counts = core.ReferralCountsByStatus();
    if (counts.ok()) {
      for (const auto& [status, n] : *counts) v.referrals += status + "=" + std::to_string(n) + " ";
    }
    return v;
  }
  BrokerView BrokerMemory() { return BrokerViewOf(*core_, *roster_, Replicas()); }
  std::vector<ReplicaId> Replicas() const { return {a_->replica, b_->replica}; }

  void RestartBroker(bool power_loss) {
    for (auto* a : {a_, b_}) {
      if (a->connected) {
        a->connected = false;
        a->sync->OnDisconnected("broker restart");
      }
    }
    service_.reset();
    core_.reset();
    roster_.reset();
    if (power_loss) fault_.Crash();
    broker_store_.reset();
    if (power_loss) {
      ASSERT_TRUE(fault_.DropUnsyncedData().ok());
    }
    OpenBroker();
    for (auto* a : {a_, b_}) {
      if (!a->down) Connect(*a);
    }
  }

  // ---------- agents ----------
  Agent& AddAgent(const std::string& name, const std::string& org, ReplicaId replica, bool faulty,
                  Role role = Role::kPartner) {
    auto a = std::make_unique<Agent>();
    a->name = name;
    a->peer = "peer-" + name;
    a->path = tmp_ / ("agent-" + name);
    a->id = Gen(org);
    a->replica = replica;
    a->fault = faulty ? &fault_ : nullptr;
    EXPECT_TRUE(roster_->Enroll(a->id.pub, role, kStart).ok());
    agents_.push_back(std::move(a));
    OpenAgent(*agents_.back());
    return *agents_.back();
  }

  void OpenAgent(Agent& a) {
    auto s = Store::Open(a.path, Options(a.fault != nullptr));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    a.store = std::move(s).value();
    auto d = LocalDirectory::Open(a.store.get(), &clock_, {a.replica, 60'000});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    a.dir = std::move(d).value();
    a.quarantine = std::make_unique<Quarantine>(a.store.get());
    ASSERT_TRUE(a.quarantine->Load().ok());
    a.book = std::make_unique<ReferralBook>(a.store.get(), &clock_, a.id, broker_.pub.sign_public);
    a.book->set_quarantine(a.quarantine.get());
    ASSERT_TRUE(a.book->Load().ok());
    a.sync = std::make_unique<AgentSync>(a.dir.get(), &clock_, a.id, broker_.pub.sign_public,
                                         AgentSync::Options());
    a.sync->set_referrals(a.book.get());
    a.sync->set_quarantine(a.quarantine.get());
    a.down = false;
  }

  void RestartAgent(Agent& a, bool power_loss) {
    if (a.connected) {
      a.connected = false;
      core_->OnDisconnected(a.peer);
    }
    a.sync.reset();
    a.book.reset();
    a.quarantine.reset();
    a.dir.reset();
    if (power_loss) fault_.Crash();
    a.store.reset();
    if (power_loss) {
      ASSERT_TRUE(fault_.DropUnsyncedData().ok());
    }
    OpenAgent(a);
    Connect(a);
  }

  void Connect(Agent& a) {
    a.connected = true;
    for (std::string& m : a.sync->OnConnected()) up_.emplace_back(&a, std::move(m));
  }

  // ---------- faults ----------
  // Called right after a fault fired at the faulty node: checks that memory equals the store.
  void OnFault(const std::string& where) {
    ++faults_seen_;
    fault_where_.push_back(where);
    SCOPED_TRACE("fault at " + where);
    if (faulty_ == Node::kBroker) {
      BrokerView memory = BrokerMemory();
      if (mode_ == Mode::kCommit) {
        Roster roster(broker_store_.get());
        ASSERT_TRUE(roster.Load().ok());
        BrokerCore twin(broker_store_.get(), &clock_, broker_, &roster, BrokerCore::Options());
        ASSERT_TRUE(twin.Load().ok());
        BrokerView durable = BrokerViewOf(twin, roster, Replicas());
        EXPECT_TRUE(memory == durable) << "in memory:\n"
                                       << Describe(memory) << "\nin the store:\n"
                                       << Describe(durable);
      } else {
        broker_down_ = true;
        broker_memory_ = memory;
      }
      return;
    }
    Agent& a = faulty_ == Node::kAgentA ? *a_ : *b_;
    AgentView memory = AgentViewOf(*a.dir, *a.book);
    if (mode_ == Mode::kCommit) {
      auto dir = LocalDirectory::Open(a.store.get(), &clock_, {a.replica, 60'000});
      ASSERT_TRUE(dir.ok()) << dir.status().ToString();
      ReferralBook book(a.store.get(), &clock_, a.id, broker_.pub.sign_public);
      ASSERT_TRUE(book.Load().ok());
      AgentView durable = AgentViewOf(**dir, book);
      EXPECT_TRUE(memory == durable) << "in memory:\n"
                                     << Describe(memory) << "\nin the store:\n"
                                     << Describe(durable);
    } else {
      a.down = true;
      agent_memory_ = memory;
    }
  }

  // kPowerLoss: restarts the crashed node on what survived and compares.
  void RecoverCrashed() {
    if (broker_down_) {
      RestartBroker(/*power_loss=*/true);
      BrokerView durable = BrokerMemory();
      EXPECT_TRUE(broker_memory_ == durable) << "before the crash:\n"
                                             << Describe(broker_memory_) << "\nafter it:\n"
                                             << Describe(durable);
    }
    for (auto* a : {a_, b_}) {
      if (!a->down) continue;
      RestartAgent(*a, /*power_loss=*/true);
      AgentView durable = AgentViewOf(*a->dir, *a->book);
      EXPECT_TRUE(agent_memory_ == durable) << "before the crash:\n"
                                            << Describe(agent_memory_) << "\nafter it:\n"
                                            << Describe(durable);
    }
  }

  // A user's operation on the faulty node (or another): when the fault fires in it, it must
  // fail with IoError; the harness checks memory against the store, and the same operation
  // is then tried again and must succeed.
  static Status StatusOf(const Status& s) { return s; }
  template <typename T>
  static Status StatusOf(const Result<T>& r) {
    return r.status();
  }
  template <typename Op>
  auto UserOp(const std::string& what, const Op& op) {
    uint64_t before = fault_.injected();
    auto r = op();
    if (fault_.injected() == before) {
      EXPECT_TRUE(r.ok()) << what << ": " << StatusOf(r).ToString();
      return r;
    }
    EXPECT_FALSE(r.ok()) << what << " reported success although a commit of it failed";
    EXPECT_EQ(StatusOf(r).code(), Code::kIoError) << what << ": " << StatusOf(r).ToString();
    OnFault(what);
    RecoverCrashed();
    r = op();
    EXPECT_TRUE(r.ok()) << what << " failed again after the fault: " << StatusOf(r).ToString();
    return r;
  }

  // Delivers messages both ways until nothing moves. A node whose fault fires while handling a
  // message is checked at once (OnFault); in kPowerLoss it is then down (what is sent to it is
  // lost) until Settle restarts it.
  // Also restarts what crashed (kPowerLoss); and while an agent still waits for its Welcome
  // or has something unacknowledged, lets time pass for its retries.
  void Run() {
    for (int i = 0; i < 6; ++i) {
      RunOnce();
      if (broker_down_ || a_->down || b_->down) {
        RecoverCrashed();
        continue;
      }
      bool waiting = false;
      for (Agent* a : {a_, b_}) {
        waiting |= a->connected && (a->sync->status().state == "connecting" ||
                                    a->dir->outbox_depth() > 0 || a->book->queue_depth() > 0);
      }
      if (!waiting) return;
      clock_.Advance(AgentSync::Options().resend_after_ms + 1);
    }
  }

  void RunOnce() {
    for (int round = 0; round < 400; ++round) {
      for (auto* a : {a_, b_}) {
        if (!a->connected || a->down) continue;
        Watch(a->name + " tick", [&] {
          for (std::string& m : a->sync->Tick()) up_.emplace_back(a, std::move(m));
        });
      }
      std::vector<Outgoing> down;
      for (auto& [from, message] : up_) {
        Agent* a = from;  // a lambda cannot capture a structured binding (C++20, clang 14)
        const std::string& bytes = message;
        if (broker_down_ || a->down) continue;
        Watch("broker on a message from " + a->name,
              [&] { core_->OnMessage(a->peer, a->id.pub.org, bytes, &down); });
      }
      up_.clear();
      if (!broker_down_) Watch("broker pump", [&] { core_->Pump(&down); });
      if (broker_down_) down.clear();
      if (down.empty() && up_.empty()) return;
      for (Outgoing& o : down) {
        Agent* a = o.peer == a_->peer ? a_ : o.peer == b_->peer ? b_ : nullptr;
        if (!a || !a->connected || a->down) continue;
        Watch(a->name + " on a broker message", [&] {
          for (std::string& m : a->sync->OnMessage(o.bytes())) up_.emplace_back(a, std::move(m));
        });
      }
    }
    ADD_FAILURE() << "the network did not settle";
  }

  void Watch(const std::string& what, const std::function<void()>& fn) {
    uint64_t before = fault_.injected();
    fn();
    if (fault_.injected() != before) OnFault(what);
  }

  // Lets every recovery run: sessions that stalled resume, pushes that were not acknowledged
  // go again.
  void Settle() {
    for (int i = 0; i < 4; ++i) {
      Run();
      clock_.Advance(AgentSync::Options().stall_ms + 1);
    }
    Run();
  }

  template <typename Op>
  void Do(const std::string& what, const Op& op) {
    (void)UserOp(what, op);
  }

  // ---------- the realistic sequence ----------
  // Local edits, remote updates, acks, a refused edit taken back, a referral's whole life and
  // a second one cancelled, a purge, a roster change and two review decisions.
  void Sequence() {
    Connect(*a_);
    Connect(*b_);
    Run();
    Do("A creates its organization", [&] {
      return a_->dir->Apply(
          {Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})},
          "test");
    });
    Run();
    Do("B creates its organization", [&] {
      return b_->dir->Apply(
          {Edit(kOrgB, "organization", {{"name", T("Tumaini")}, {"owner", T(kOrgB)}})}, "test");
    });
    Run();
    Do("A adds a phone (moderated)", [&] {
      return a_->dir->Apply(
          {Edit(kPhoneA, "phone", {{"owner", T(kOrgA)}, {"number", T("+14155550123")}})}, "test");
    });
    Run();
    Result<ReferralInfo> sent =
        UserOp("A sends a referral", [&] { return a_->book->Send(Request(kOrgB)); });
    ASSERT_TRUE(sent.ok());
    id1_ = sent->id;
    Run();
    Do("B accepts", [&] { return b_->book->Act(id1_, "accept", ""); });
    Run();
    Do("A renames B (refused by the broker)", [&] {
      return a_->dir->Apply({Edit(kOrgB, "organization", {{"name", T("Hijacked")}})}, "test");
    });
    Run();
    Do("the broker enrolls C",
       [&] { return roster_->Enroll(Gen(kOrgC).pub, Role::kPartner, clock_.NowMillis()); });
    Run();
    Do("a maintainer approves the phone number",
       [&] { return Decide(ReviewKind::kModeratedChange, ReviewAction::kApprove, ""); });
    Run();
    Do("a maintainer dismisses the refused push",
       [&] { return Decide(ReviewKind::kRefusedPush, ReviewAction::kReject, "not theirs"); });
    Run();
    Do("B starts", [&] { return b_->book->Act(id1_, "start", ""); });
    Do("B completes", [&] { return b_->book->Act(id1_, "complete", ""); });
    Run();
    Do("A purges", [&] { return a_->book->Purge(id1_); });
    Result<ReferralInfo> second =
        UserOp("A sends another referral", [&] { return a_->book->Send(Request(kOrgB)); });
    ASSERT_TRUE(second.ok());
    id2_ = second->id;
    Run();
    Do("A cancels it", [&] { return a_->book->Act(id2_, "cancel", ""); });
    Run();
    Do("A adds an email", [&] {
      return a_->dir->Apply({Edit(kOrgA, "organization", {{"email", T("help@harbor.example")}})},
                            "test");
    });
    Do("B adds an email", [&] {
      return b_->dir->Apply({Edit(kOrgB, "organization", {{"email", T("hi@tumaini.example")}})},
                            "test");
    });
    Settle();
  }

  // Decides the first review item of `kind`.
  Result<nlohmann::json> Decide(ReviewKind kind, ReviewAction action, const std::string& reason) {
    ReviewFilter filter;
    filter.kind = kind;
    ASSIGN_OR_RETURN(nlohmann::json list, service_->List(filter, 10));
    if (list["items"].empty()) return Status::NotFound("no review item of that kind");
    return service_->Decide(list["items"][0]["id"], Decision{action, reason, nullptr}, "test");
  }

  // Where the sequence must end, whatever failed on the way.
  void ExpectOutcome() {
    EXPECT_FALSE(broker_down_ || a_->down || b_->down);
    for (Agent* a : {a_, b_}) {
      SCOPED_TRACE(a->name);
      EXPECT_EQ(a->sync->status().state, "ready");
      EXPECT_EQ(Views(a->State()), Views(BrokerStateFor(a->id.pub.org))) << "not converged";
      EXPECT_EQ(a->dir->outbox_depth(), 0u);
      EXPECT_EQ(a->book->queue_depth(), 0u);
      EXPECT_EQ(a->Displayed(kOrgA, "name"), T("Harbor Light"));
      EXPECT_EQ(a->Displayed(kOrgB, "name"), T("Tumaini"));
      EXPECT_EQ(a->Displayed(kOrgA, "email"), T("help@harbor.example"));
      EXPECT_EQ(a->Displayed(kOrgB, "email"), T("hi@tumaini.example"));
      EXPECT_EQ(a->ReferralStatus(id1_), "completed");
      EXPECT_EQ(a->ReferralStatus(id2_), "cancelled");
      std::vector<std::string> orgs = a->book->KnownOrganizations();
      EXPECT_NE(std::find(orgs.begin(), orgs.end(), kOrgC), orgs.end()) << "C is not known";
      auto chain = AuditLog::Verify(*a->store);
      ASSERT_TRUE(chain.ok()) << chain.status().ToString();
      EXPECT_TRUE(chain->ok) << chain->problem;
    }
    EXPECT_EQ(a_->Displayed(kPhoneA, "number@published"), T("+14155550123"));
    EXPECT_EQ(core_->state().Find(kPhoneA)->Displayed("number@published"), T("+14155550123"));
    Result<ReferralInfo> purged = a_->book->Get(id1_);
    ASSERT_TRUE(purged.ok());
    EXPECT_TRUE(purged->purged);
    auto refusals = core_->journal().Refusals();
    ASSERT_TRUE(refusals.ok());
    // A's refused rename, and its repeats: an agent that could not settle a refusal pushes
    // the edit again, and the broker refuses (and keeps) it again.
    ASSERT_GE(refusals->size(), 1u);
    for (const RefusedPush& p : *refusals) {
      EXPECT_EQ(p.org, kOrgA);
      ASSERT_EQ(p.changes.size(), 1u);
      EXPECT_EQ(p.changes[0].record, kOrgB);
    }
    EXPECT_TRUE((*refusals)[0].settled);
    EXPECT_EQ((*refusals)[0].decision, "dismissed");
    repeated_refusals_ = refusals->size() - 1;
    auto chain = AuditLog::Verify(*broker_store_);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    EXPECT_TRUE(chain->ok) << chain->problem;
  }

  Directory BrokerStateFor(const std::string& org) {
    bool filtered = false;
    Delta d = FilterFor(
        core_->state().AsDelta(1, Hlc{}), org, Role::kPartner,
        [&](const std::string& id) { return core_->state().Find(id); }, &filtered);
    Directory out;
    out.Join(d);
    return out;
  }

  std::string id1_, id2_;
  size_t repeated_refusals_ = 0;

  ReferralRequest Request(const std::string& to) {
    ReferralRequest r;
    r.to = to;
    r.urgency = "urgent";
    r.consent_scope = "share with legal aid";
    r.consent_by = "A. Advocate";
    r.payload_json = kPayload;
    return r;
  }

  testing::TempDir tmp_;
  ManualClock clock_{kStart};
  Identity broker_ = Gen("coordinator");
  FaultInjector fault_;
  Node faulty_ = Node::kNone;
  Mode mode_ = Mode::kCommit;
  std::unique_ptr<Store> broker_store_;
  std::unique_ptr<Roster> roster_;
  std::unique_ptr<BrokerCore> core_;
  LoopTasks tasks_;  // no loop runs: the service's work runs on the calling thread
  std::unique_ptr<ReviewService> service_;
  bool broker_down_ = false;
  std::vector<std::unique_ptr<Agent>> agents_;
  Agent* a_ = nullptr;
  Agent* b_ = nullptr;
  std::vector<std::pair<Agent*, std::string>> up_;  // agent -> broker, waiting
  int faults_seen_ = 0;
  std::vector<std::string> fault_where_;
  AgentView agent_memory_;
  BrokerView broker_memory_;
};

// Fails `node`'s n-th commit for every n the sequence makes, one run each; stops at the first
// n whose outcome is wrong and names where the fault was injected.
inline void FailEachCommitInTurn(Node node, Mode mode) {
  uint64_t total = 0;
  {
    StoreFaults dry;
    dry.Init(node, mode);
    uint64_t at_start = dry.Counted();
    dry.Sequence();
    dry.ExpectOutcome();
    total = dry.Counted() - at_start;
    ASSERT_EQ(dry.faults_seen_, 0);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "the sequence fails without faults";
  }
  ASSERT_GT(total, 10u);
  for (uint64_t n = 1; n <= total; ++n) {
    SCOPED_TRACE(std::string(ModeName(mode)) + " fault at " + std::to_string(n) + " of " +
                 std::to_string(total));
    StoreFaults h;
    h.Init(node, mode);
    h.Arm(n);
    h.Sequence();
    EXPECT_EQ(h.faults_seen_, 1);
    h.ExpectOutcome();
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "the fault was injected at: "
                    << (h.fault_where_.empty() ? "(nowhere)" : h.fault_where_[0]);
      return;
    }
  }
}

}  // namespace sb::faults

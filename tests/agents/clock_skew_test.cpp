// Clock skew between agents and their broker, each agent with its own clock (a ManualClock the
// broker reads, offset by hours for the agent), wired without sockets:
//   - an agent hours behind converges, its edits apply, and an edit it makes after seeing
//     another supersedes it (no conflict) and is stamped after it; concurrent edits order by
//     the hybrid clock the same way everywhere;
//   - an agent hours ahead learns the skew from the broker's Welcome, refuses local edits with
//     a message that names the skew, holds its outbox, and still receives updates; once its
//     clock is set right, its future-stamped edits are refused by the broker with that message
//     (nothing stamped in the future wins there), its hybrid clock comes back, and its new
//     edits are taken.
#include <gtest/gtest.h>

#include <atomic>

#include "agents/local_directory.h"
#include "agents/sync_session.h"
#include "broker/broker_core.h"
#include "conflict/views.h"
#include "testing/edits.h"
#include "tests/integration/agent_process.h"

namespace sb {
namespace {

using testing::Edit;
using testing::Gen;

constexpr uint64_t kStart = 1'790'000'000'000;
constexpr int64_t kHour = 3600'000;
const std::string kOrgM = "00000000-0000-4000-8000-0000000000aa";
const std::string kOrgA = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kOrgF = "ffffffff-0000-4000-8000-000000000006";
const std::string kOrgC = "cccccccc-0000-4000-8000-000000000003";

// An agent's wall clock: the broker's, off by `offset`; its monotonic clock runs with the
// broker's (setting a wall clock right does not move a monotonic one).
class SkewedClock final : public Clock {
 public:
  SkewedClock(Clock* base, int64_t offset) : base_(base), offset_(offset) {}
  uint64_t NowMillis() override { return base_->NowMillis() + offset_.load(); }
  uint64_t MonotonicMillis() override { return base_->MonotonicMillis(); }
  void set_offset(int64_t ms) { offset_ = ms; }

 private:
  Clock* base_;
  std::atomic<int64_t> offset_;
};

struct Node {
  std::string name, peer;
  Identity id;
  std::unique_ptr<SkewedClock> clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<LocalDirectory> dir;
  std::unique_ptr<AgentSync> sync;
  bool connected = false;

  std::optional<Value> Displayed(const std::string& rid, const std::string& field) const {
    return dir->Read([&](const Directory& d) -> std::optional<Value> {
      const Record* r = d.Find(rid);
      return r ? r->Displayed(field) : std::nullopt;
    });
  }
  FieldView Field(const std::string& rid, const std::string& field) const {
    return dir->Read([&](const Directory& d) {
      const Record* r = d.Find(rid);
      return r ? ProposedView(*r, FieldSchema::Hsds()).fields[field] : FieldView{};
    });
  }
  Result<std::vector<EditOutcome>> Apply(RecordEdit e) {
    return dir->Apply({std::move(e)}, "test");
  }
};

class ClockSkew : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(tmp_ / "broker", Opts());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    broker_store_ = std::move(s).value();
    roster_ = std::make_unique<Roster>(broker_store_.get());
    ASSERT_TRUE(roster_->Load().ok());
    core_ = std::make_unique<BrokerCore>(broker_store_.get(), &clock_, broker_, roster_.get(),
                                         BrokerCore::Options());
    ASSERT_TRUE(core_->Load().ok());
  }

  static StoreOptions Opts() {
    StoreOptions o;
    o.create_if_missing = true;
    return o;
  }

  Node& Add(const std::string& name, const std::string& org, ReplicaId replica, Role role,
            int64_t offset) {
    auto n = std::make_unique<Node>();
    n->name = name;
    n->peer = "peer-" + name;
    n->id = Gen(org);
    n->clock = std::make_unique<SkewedClock>(&clock_, offset);
    EXPECT_TRUE(roster_->Enroll(n->id.pub, role, kStart).ok());
    auto s = Store::Open(tmp_ / name, Opts());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    n->store = std::move(s).value();
    auto d = LocalDirectory::Open(n->store.get(), n->clock.get(), {replica, 60'000});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    n->dir = std::move(d).value();
    n->sync = std::make_unique<AgentSync>(n->dir.get(), n->clock.get(), n->id,
                                          broker_.pub.sign_public, AgentSync::Options());
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }

  void Connect(Node& n) {
    n.connected = true;
    for (std::string& m : n.sync->OnConnected()) up_.emplace_back(&n, std::move(m));
  }

  // Delivers messages both ways until nothing moves; lets time pass (10 s steps) while an
  // agent still waits for its Welcome or for a push to be acknowledged.
  void Run() {
    for (int i = 0; i < 6; ++i) {
      RunOnce();
      bool waiting = false;
      for (auto& n : nodes_) {
        waiting |= n->connected && (n->sync->status().state == "connecting" ||
                                    (n->dir->outbox_depth() > 0 && n->dir->ClockAhead().empty()));
      }
      if (!waiting) return;
      clock_.Advance(AgentSync::Options().resend_after_ms + 1);
    }
  }

  void RunOnce() {
    for (int round = 0; round < 400; ++round) {
      for (auto& n : nodes_) {
        if (!n->connected) continue;
        for (std::string& m : n->sync->Tick()) up_.emplace_back(n.get(), std::move(m));
      }
      std::vector<Outgoing> down;
      for (auto& [from, message] : up_)
        core_->OnMessage(from->peer, from->id.pub.org, message, &down);
      up_.clear();
      core_->Pump(&down);
      if (down.empty()) return;
      for (Outgoing& o : down) {
        for (auto& n : nodes_) {
          if (n->peer != o.peer || !n->connected) continue;
          for (std::string& m : n->sync->OnMessage(o.bytes()))
            up_.emplace_back(n.get(), std::move(m));
        }
      }
    }
    ADD_FAILURE() << "the network did not settle";
  }

  const Record* AtBroker(const std::string& id) { return core_->state().Find(id); }

  // Stops the broker and starts it again on its store; the agents reconnect.
  void RestartBroker() {
    for (auto& n : nodes_) {
      if (n->connected) n->sync->OnDisconnected("broker restart");
    }
    up_.clear();
    core_.reset();
    roster_.reset();
    broker_store_.reset();
    SetUp();
    for (auto& n : nodes_) {
      if (n->connected) Connect(*n);
    }
  }

  testing::TempDir tmp_;
  ManualClock clock_{kStart};  // the broker's clock, and the base of every agent's
  Identity broker_ = Gen("coordinator");
  std::unique_ptr<Store> broker_store_;
  std::unique_ptr<Roster> roster_;
  std::unique_ptr<BrokerCore> core_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::pair<Node*, std::string>> up_;
};

TEST_F(ClockSkew, AnAgentHoursBehindConvergesAndItsEditsAreOrderedAsTheHlcPromises) {
  Node& m = Add("M", kOrgM, 0x11, Role::kMaintainer, 0);
  Node& a = Add("A", kOrgA, 0xa1, Role::kPartner, -3 * kHour);
  Connect(m);
  Connect(a);
  Run();
  ASSERT_EQ(a.sync->status().state, "ready");
  ASSERT_TRUE(a.sync->status().clock_skew_known);
  EXPECT_NEAR(static_cast<double>(a.sync->status().clock_skew_ms), -3.0 * kHour, 1000);
  EXPECT_EQ(a.sync->status().clock_ahead, "");

  // Behind is no reason to refuse: A's edits apply.
  ASSERT_TRUE(a.Apply(Edit(kOrgA, "organization",
                           {{"name", Value("Harbor Light")}, {"owner", Value(kOrgA)}}))
                  .ok());
  Run();
  ASSERT_NE(AtBroker(kOrgA), nullptr);
  EXPECT_EQ(AtBroker(kOrgA)->Displayed("name"), Value("Harbor Light"));
  EXPECT_EQ(m.Displayed(kOrgA, "name"), Value("Harbor Light"));

  // M renames it; A sees that, then renames it: A's edit supersedes M's (no conflict) and is
  // stamped after it although A's clock is three hours behind M's (A's clock observed M's stamp).
  clock_.Advance(5'000);
  ASSERT_TRUE(m.Apply(Edit(kOrgA, "organization", {{"name", Value("Harbor Light (M)")}})).ok());
  Run();
  ASSERT_EQ(a.Displayed(kOrgA, "name"), Value("Harbor Light (M)"));
  Hlc m_stamp = a.Field(kOrgA, "name").siblings.at(0).stamp;
  ASSERT_TRUE(a.Apply(Edit(kOrgA, "organization", {{"name", Value("Harbor Light Shelter")}})).ok());
  Run();
  for (Node* n : {&m, &a}) {
    SCOPED_TRACE(n->name);
    FieldView f = n->Field(kOrgA, "name");
    ASSERT_EQ(f.siblings.size(), 1u) << "an edit made after seeing another became a conflict";
    EXPECT_EQ(f.value, Value("Harbor Light Shelter"));
    EXPECT_GT(f.siblings[0].stamp, m_stamp);
  }
  EXPECT_EQ(AtBroker(kOrgA)->Displayed("name"), Value("Harbor Light Shelter"));

  // Concurrent edits (neither saw the other): siblings everywhere, the same one displayed
  // everywhere — the greater hybrid timestamp, M's, made a minute later by the broker's time.
  clock_.Advance(60'000);
  ASSERT_TRUE(m.Apply(Edit(kOrgA, "organization", {{"name", Value("From M")}})).ok());
  ASSERT_TRUE(a.Apply(Edit(kOrgA, "organization", {{"name", Value("From A")}})).ok());
  Run();
  for (Node* n : {&m, &a}) {
    SCOPED_TRACE(n->name);
    FieldView f = n->Field(kOrgA, "name");
    ASSERT_EQ(f.siblings.size(), 2u);
    EXPECT_EQ(f.value, Value("From M"));
    EXPECT_GT(f.siblings[0].stamp, f.siblings[1].stamp);
  }
  EXPECT_EQ(AtBroker(kOrgA)->Displayed("name"), Value("From M"));
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(m.dir->outbox_depth(), 0u);
  auto rejections = a.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  EXPECT_TRUE(rejections->empty());
}

// Regression (issue 16): the broker's hybrid clock started from its wall clock after a restart,
// below stamps it had accepted up to the skew allowed ahead of it. The state it sends back
// with a refused push was then stamped below the entries in it; the agent could not decode it
// ("entry stamped after its delta") and took the refused record back to nothing.
TEST_F(ClockSkew, ARestartedBrokerStampsWhatItSendsAfterTheStampsItHolds) {
  Node& p = Add("P", kOrgA, 0xa1, Role::kPartner, 45'000);  // 45 s ahead: allowed
  Node& c = Add("C", kOrgC, 0xc1, Role::kPartner, 0);
  Connect(p);
  Connect(c);
  Run();
  ASSERT_TRUE(p.Apply(Edit(kOrgA, "organization",
                           {{"name", Value("Harbor Light")}, {"owner", Value(kOrgA)}}))
                  .ok());
  Run();
  ASSERT_EQ(c.Displayed(kOrgA, "name"), Value("Harbor Light"));
  RestartBroker();
  Run();
  ASSERT_EQ(c.sync->status().state, "ready");
  // C renames P's organization: refused (not C's), and taken back to the broker's state.
  ASSERT_TRUE(c.Apply(Edit(kOrgA, "organization", {{"name", Value("Hijacked")}})).ok());
  Run();
  EXPECT_EQ(c.dir->outbox_depth(), 0u);
  auto rejections = c.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  EXPECT_EQ(rejections->size(), 1u);
  EXPECT_EQ(c.Displayed(kOrgA, "name"), Value("Harbor Light"));
  EXPECT_EQ(AtBroker(kOrgA)->Displayed("name"), Value("Harbor Light"));
}

TEST_F(ClockSkew, AnAgentHoursAheadIsRefusedWithTheSkewAndNothingItStampedInTheFutureWins) {
  constexpr int64_t kAhead = 3 * kHour + 2 * 60'000 + 30'000;  // 3 h 2 min 30 s
  Node& m = Add("M", kOrgM, 0x11, Role::kMaintainer, 0);
  Node& f = Add("F", kOrgF, 0xf1, Role::kPartner, kAhead);
  // Before F ever met its broker it knows no skew: its edit is taken (stamped 3 h ahead).
  ASSERT_TRUE(f.Apply(Edit(kOrgF, "organization",
                           {{"name", Value("Future House")}, {"owner", Value(kOrgF)}}))
                  .ok());
  Hlc future = f.dir->hlc_last();
  EXPECT_GT(future.millis(), kStart + 3 * kHour);
  Connect(m);
  Connect(f);
  Run();
  SyncStatus st = f.sync->status();
  ASSERT_EQ(st.state, "ready");
  ASSERT_TRUE(st.clock_skew_known);
  EXPECT_NEAR(static_cast<double>(st.clock_skew_ms), static_cast<double>(kAhead), 1000);
  EXPECT_EQ(st.clock_ahead.rfind("this agent's clock is 3 h 2 min ahead of the broker's; at "
                                 "most 60 s is allowed: set the clock of ",
                                 0),
            0u)
      << st.clock_ahead;
  // Held, not pushed: the broker never saw it.
  EXPECT_GT(st.pushes_held, 0u);
  EXPECT_EQ(st.pushed, 0u);
  EXPECT_EQ(AtBroker(kOrgF), nullptr);
  // Local edits are refused with the message while the skew lasts.
  auto refused = f.Apply(Edit(kOrgF, "organization", {{"name", Value("Future House 2")}}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("3 h 2 min ahead of the broker's"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(f.dir->hlc_last(), future);  // nothing new stamped
  // Updates still arrive.
  ASSERT_TRUE(m.Apply(Edit(kOrgC, "organization",
                           {{"name", Value("Listed by M")}, {"owner", Value(kOrgC)}}))
                  .ok());
  Run();
  EXPECT_EQ(f.Displayed(kOrgC, "name"), Value("Listed by M"));

  // The clock is set right. F's outbox goes: the broker refuses the future-stamped edit with
  // the skew named, and F takes it back out of its view.
  f.clock->set_offset(0);
  EXPECT_EQ(f.dir->ClockAhead(), "");
  Run();
  EXPECT_EQ(f.dir->outbox_depth(), 0u);
  EXPECT_EQ(AtBroker(kOrgF), nullptr);
  auto rejections = f.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  ASSERT_EQ(rejections->size(), 1u);
  EXPECT_NE(rejections->at(0).reason.find("this agent's clock is 3 h "), std::string::npos)
      << rejections->at(0).reason;
  EXPECT_NE(rejections->at(0).reason.find("ahead of the broker's; at most 60 s is allowed"),
            std::string::npos)
      << rejections->at(0).reason;
  EXPECT_EQ(f.Displayed(kOrgF, "name"), std::nullopt);

  // Its hybrid clock, persisted three hours ahead, comes back: the next edit is stamped now
  // and taken.
  ASSERT_TRUE(f.Apply(Edit(kOrgF, "organization",
                           {{"name", Value("Present House")}, {"owner", Value(kOrgF)}}))
                  .ok());
  EXPECT_LE(f.dir->hlc_last().millis(), clock_.NowMillis() + 60'000);
  Run();
  ASSERT_NE(AtBroker(kOrgF), nullptr);
  EXPECT_EQ(AtBroker(kOrgF)->Displayed("name"), Value("Present House"));
  EXPECT_EQ(m.Displayed(kOrgF, "name"), Value("Present House"));
  // Nothing at the broker is stamped in the future.
  for (const auto& [id, r] : core_->state().records()) {
    for (const auto& [name, field] : r.fields()) {
      if (const auto* reg = std::get_if<MvRegister>(&field)) {
        for (const auto& [dot, e] : reg->entries()) {
          EXPECT_LE(e.stamp.millis(), clock_.NowMillis() + 60'000) << id << " " << name;
        }
      }
    }
  }
  EXPECT_EQ(f.dir->outbox_depth(), 0u);
}

}  // namespace
}  // namespace sb

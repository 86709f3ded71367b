// A broker and agents' sync sessions wired together without sockets, for the session tests: a
// real BrokerCore over a real RocksDB store, N agents composed by agents/agent.h (each over
// its own store, driven through the sans-IO AgentSync of OpenSession), one ManualClock, and
// the messages both ways carried by sim/network.h — no loss, no duplicates, no reordering
// unless Options::faults says otherwise.
//
//   testing::SessionFixture net;                      // SetUp: Status st = net.Start();
//   testing::SessionAgent& a = net.AddAgent({.org = kOrgA, .replica = 0xa1});
//   net.Connect(a);
//   a.Apply({...});
//   net.Run();                                        // until nothing moves
//
// A round (Pump) is: connected agents Tick; what is in flight up reaches the broker; the
// broker pumps; what it sends goes down and each agent's answers go up, to arrive next round.
// Network time is the fixture's own (a phase is longer than any delay the network draws), so
// carrying messages never moves the ManualClock: only the test advances it.
//
// Setup failures (a store that cannot open, an agent that cannot load) throw
// std::runtime_error, which a test framework reports as a failure of the test. Not
// thread-safe; everything lives in one temporary directory removed with the fixture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agents/agent.h"
#include "base/clock.h"
#include "broker/broker_core.h"
#include "broker/roster.h"
#include "conflict/replica.h"
#include "crypto/identity.h"
#include "sim/network.h"
#include "sim/sim_random.h"
#include "store/store.h"
#include "testing/temp_dir.h"
#include "transport/protocol.h"

namespace sb::testing {

// One agent of the fixture: its store and composed Agent, the parts tests reach into (views
// of the Agent's, valid until RestartAgent), whether it is connected, and every broker message
// delivered to it.
struct SessionAgent {
  size_t node = 0;   // on the network (the broker is node 0)
  std::string peer;  // the broker's name for its connection
  Identity id;
  std::unique_ptr<Store> store;
  std::unique_ptr<Agent> agent;
  AgentSync* sync = nullptr;
  LocalDirectory* dir = nullptr;
  Quarantine* quarantine = nullptr;
  ReferralBook* book = nullptr;  // null when the agent keeps no referral book
  bool connected = false;
  std::vector<proto::Message> received;  // decoded, in delivery order

  // Reads of the directory, and edits that must succeed (else std::runtime_error).
  std::optional<Value> Displayed(const std::string& record, const std::string& field) const;
  Directory State() const;
  void Apply(std::vector<RecordEdit> edits);
};

class SessionFixture {
 public:
  struct Options {
    uint64_t start_ms = 1'790'000'000'000;  // the ManualClock's first reading
    std::string broker_org = "broker";      // the broker's identity's organization
    BrokerCore::Options broker;
    sim::NetworkFaults faults;  // none by default
    uint64_t seed = 1;          // for the network's draws, when there are faults
    size_t max_agents = 32;     // nodes the network has room for
  };

  struct AgentSpec {
    std::string org;
    Role role = Role::kPartner;
    ReplicaId replica = 0;
    AgentSync::Options session;
    bool referrals = true;  // keep a referral book
  };

  SessionFixture() : SessionFixture(Options()) {}
  explicit SessionFixture(Options options);
  ~SessionFixture();
  SessionFixture(const SessionFixture&) = delete;
  SessionFixture& operator=(const SessionFixture&) = delete;

  // Opens the broker's store and roster and starts its core. Call once, before anything else.
  Status Start();

  // A new agent with fresh keys, enrolled in the roster, not yet connected.
  SessionAgent& AddAgent(const AgentSpec& spec);
  // Opens the connection: the session's Hello goes up next round.
  void Connect(SessionAgent& a);
  // Closes it on both sides; what is in flight to or from the agent is lost.
  void Disconnect(SessionAgent& a);

  // One round (see the top of the file). Returns the messages delivered; `moved` says whether
  // anything was sent or is still in flight.
  size_t Pump(bool* moved = nullptr);
  // Rounds until nothing moves, or more than `max_messages` were delivered, or `max_rounds`.
  // Returns the messages delivered; settled() says whether it ended because nothing moved.
  size_t Run(size_t max_messages = 10'000, int max_rounds = 1000);
  bool settled() const { return settled_; }

  // Hooks, both optional: see (and return true to discard) each message as it arrives at the
  // broker, or at an agent (a discarded message is not recorded in `received`). A message
  // down that does not decode is not shown to the hook and is delivered.
  std::function<bool(SessionAgent& from, const std::string& bytes)> intercept_up;
  std::function<bool(SessionAgent& to, const proto::Message& message)> intercept_down;

  // For tests that play a peer speaking raw messages (no AgentSync), past the network and the
  // hooks: hands `bytes` to the broker as from connection `peer`, authenticated as `org`, and
  // pumps the broker once when `pump`. Returns everything the broker sent, to anyone.
  std::vector<Outgoing> SendRaw(const std::string& peer, const std::string& org,
                                std::string_view bytes, bool pump = true);
  // Pumps the broker once; returns what it sent.
  std::vector<Outgoing> PumpBroker();

  // Loses everything in flight, both ways.
  void DiscardInFlight();
  // Sends `bytes` up from `a` as its session would (through the network and the hooks).
  void SendUp(SessionAgent& a, std::string bytes);
  // Hands `bytes` straight to `a`'s session, past the network and the hooks (not recorded in
  // `received`), and sends its answers up.
  void DeliverDown(SessionAgent& a, std::string_view bytes);

  // The broker process restarts: its core, roster and store are closed and reopened from the
  // directory with `options`; sessions are forgotten, agents do not notice.
  void RestartBroker(BrokerCore::Options options);
  void RestartBroker() { RestartBroker(broker_options_); }
  // The agent's process restarts: its Agent is destroyed and reopened from its store, with a
  // new session, disconnected (the broker sees the connection close).
  void RestartAgent(SessionAgent& a);

  BrokerCore& core() { return *core_; }
  Roster& roster() { return *roster_; }
  Store& broker_store() { return *broker_store_; }
  const Identity& broker_identity() const { return broker_; }
  const BrokerCore::Options& broker_options() const { return broker_options_; }
  ManualClock& clock() { return clock_; }
  const std::string& dir() const { return tmp_.path(); }
  const std::vector<std::unique_ptr<SessionAgent>>& agents() const { return agents_; }
  SessionAgent* Find(const std::string& peer);
  const sim::NetworkStats& network_stats() const { return network_.stats(); }
  // The broker's state as `org` with `role` may read it.
  Directory BrokerStateFor(const std::string& org, Role role);

 private:
  static constexpr size_t kBroker = 0;
  void OpenAgent(SessionAgent& a, const AgentSpec& spec);
  std::vector<sim::Network<std::string>::Message> TakeDue();

  Options options_;
  TempDir tmp_;
  ManualClock clock_;
  Identity broker_;
  BrokerCore::Options broker_options_;
  std::unique_ptr<Store> broker_store_;
  std::unique_ptr<Roster> roster_;
  std::unique_ptr<BrokerCore> core_;
  std::vector<std::unique_ptr<SessionAgent>> agents_;
  std::vector<AgentSpec> specs_;  // by agent, for RestartAgent
  sim::Rng rng_;
  sim::Network<std::string> network_;
  uint64_t net_now_ = 0;  // the network's time, apart from the clock
  bool settled_ = false;
};

}  // namespace sb::testing

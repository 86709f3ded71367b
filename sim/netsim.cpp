// The network simulator: the nodes (each with its own store), faults, and the run that drives
// the real BrokerCore and agents (agents/agent.h: LocalDirectory, AgentSync) over the simulators'
// lossy network (network.h) with their workload (workload.h); see netsim.h for the contract.
//
// Determinism: every random choice comes from the one Rng, consumed in a fixed order on the
// driving thread; containers are ordered; time is an integer the simulator sets on every
// node's ManualClock. Identity keys are random, but nothing that reaches the digest depends on
// them (signatures are deterministic Ed25519 and never stored in records).
#include "sim/netsim.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "agents/agent.h"
#include "base/clock.h"
#include "broker/broker_core.h"
#include "broker/ingest.h"
#include "broker/roster.h"
#include "conflict/codec.h"
#include "conflict/field_schema.h"
#include "conflict/views.h"
#include "crypto/identity.h"
#include "sim/network.h"
#include "sim/sim_random.h"
#include "sim/workload.h"
#include "store/store.h"
#include "transport/protocol.h"

namespace sb::sim {
namespace {

// ---------- The simulated world ----------
constexpr uint64_t kEpochMs = 1'700'000'000'000;  // simulated wall time when a run starts
constexpr uint64_t kMaxStepMs = 10;               // time between operations: 0 to 10 ms
constexpr uint64_t kMaxClockSkewMs = 40;          // each node's clock is off by at most this
constexpr uint64_t kTickMs = 50;                  // agents' Tick and the broker's Pump (as the
                                                  // real event loops poll)
constexpr uint64_t kReconnectMinMs = 100;         // an agent reconnects 100..500 ms after a loss
constexpr uint64_t kReconnectJitterMs = 400;
constexpr uint64_t kReconnectRetryMs = 250;     // while the broker is unreachable
constexpr uint64_t kBrokerDowntimeMinMs = 200;  // a crashed broker is back after 200..1000 ms
constexpr uint64_t kBrokerDowntimeMaxMs = 1000;
constexpr uint64_t kDrainLimitMs = 20 * 60 * 1000;  // simulated; not quiet by then: DIVERGED
constexpr char kActor[] = "sim";

std::string HexDigest(const std::string& bytes) {
  static const bool kReady = sodium_init() >= 0;
  (void)kReady;  // BLAKE2b needs no initialised state to be correct
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : hash) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

// ---------- Network ----------

// Node i of the network is agent i's connection to the broker: down while the agent has no
// connection (a crash of either end or a partition breaks it). Node `agents` is the broker.
using Bytes = std::shared_ptr<const std::string>;
using NodeNetwork = Network<Bytes>;

// ---------- Nodes ----------

struct AgentNode {
  size_t index = 0;
  std::string org;
  Role role = Role::kPartner;
  ReplicaId replica = 0;
  std::string path;
  uint64_t skew = 0;
  Identity identity;
  ManualClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<Agent> agent;     // agents/agent.h: its directory and a sans-IO session
  LocalDirectory* local = nullptr;  // agent's, while open
  AgentSync* sync = nullptr;        // agent's, while open
  bool connected = false;
  uint64_t epoch = 0;  // connections opened: names the current (or last) one
  std::string peer;    // the broker's name for the connection (a ZeroMQ routing id)
  uint64_t reconnect_at = std::numeric_limits<uint64_t>::max();

  std::optional<Record> Find(const std::string& id) const {
    return local->Read([&](const Directory& d) -> std::optional<Record> {
      const Record* r = d.Find(id);
      return r ? std::optional<Record>(*r) : std::nullopt;
    });
  }
};

struct BrokerNode {
  std::string path;
  uint64_t skew = 0;
  Identity identity;
  ManualClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<Roster> roster;
  std::unique_ptr<BrokerCore> core;
  uint64_t down_until = 0;  // restarting after a crash: unreachable until then
};

// What differs between two states of a record, for failure messages: the fields, and the
// causal contexts.
std::string Difference(const Record& want, const Record& have) {
  std::set<std::string> names;
  for (const auto& [name, f] : want.fields()) names.insert(name);
  for (const auto& [name, f] : have.fields()) names.insert(name);
  std::string out;
  for (const std::string& name : names) {
    auto w = want.fields().find(name);
    auto h = have.fields().find(name);
    bool same = w != want.fields().end() && h != have.fields().end() && w->second == h->second;
    if (same) continue;
    out += out.empty() ? "field " : ", ";
    out += name;
    auto show = [&](const Record& r) {
      if (const AwSet* set = r.Set(name)) {
        std::string e;
        for (const std::string& el : set->Elements()) e += (e.empty() ? "" : ",") + el;
        return "{" + e + "}";
      }
      std::optional<Value> v = r.Displayed(name);
      return v ? ValueToString(*v) : std::string("none");
    };
    out += " (" + show(want) + " vs " + show(have) + ")";
  }
  if (want.context() != have.context()) {
    out += (out.empty() ? "" : "; ") + std::string("context ") +
           want.context().ToString().substr(0, 160) + " vs " +
           have.context().ToString().substr(0, 160);
  }
  return out.empty() ? "no difference" : out;
}

// Silences the libraries' logging while the simulation runs (refusals are expected).
class QuietLogs {
 public:
  QuietLogs() : level_(spdlog::get_level()) { spdlog::set_level(spdlog::level::off); }
  ~QuietLogs() { spdlog::set_level(level_); }
  QuietLogs(const QuietLogs&) = delete;
  QuietLogs& operator=(const QuietLogs&) = delete;

 private:
  spdlog::level::level_enum level_;
};

// ---------- The run ----------

class NetSimulation {
 public:
  NetSimulation(const NetSimOptions& options, std::ostream* progress)
      : options_(options),
        progress_(progress),
        rng_(options.seed),
        network_(Agents(options) + 1, NetworkFaults{options.drop, options.dup, options.reorder},
                 rng_),
        workload_(rng_, ProtocolProfile(),
                  Workload::Options{options.planted_refusals, options.set_removals}) {}

  ~NetSimulation() {
    for (auto& a : agents_) CloseAgent(*a);
    CloseBroker();
    if (!root_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    }
  }
  NetSimulation(const NetSimulation&) = delete;
  NetSimulation& operator=(const NetSimulation&) = delete;

  NetSimReport Run() {
    Status s = Setup();
    if (!s.ok()) {
      Fail("setup: " + s.ToString());
    } else {
      RunEdits();
      if (report_.failure.empty()) {
        network_.Partition({});
        network_.StopDropping();
        Drain();
        Check();
      }
    }
    const NetworkStats& net = network_.stats();
    report_.messages_sent = net.sent + unroutable_;
    report_.bytes_sent = net.bytes;
    report_.messages_delivered = net.delivered;
    report_.messages_dropped = net.dropped;
    report_.messages_cut = net.cut + unroutable_;
    report_.messages_duplicated = net.duplicated;
    return report_;
  }

 private:
  static size_t Agents(const NetSimOptions& options) {
    return static_cast<size_t>(std::max(1, options.agents));
  }
  size_t broker_node() const { return agents_.size(); }

  // --- Setup ---
  Status Setup() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/sb-netsim-XXXXXX";
    if (!mkdtemp(tmpl.data())) return Status::IoError("cannot create a directory in " + tmpl);
    root_ = tmpl;

    size_t n = Agents(options_);
    broker_.path = root_ + "/broker";
    broker_.skew = rng_.Between(0, 2 * kMaxClockSkewMs);
    ASSIGN_OR_RETURN(broker_.identity, Identity::Generate("switchboard-broker"));
    // The broker's review replica id derives from its signing key: make that key come from
    // the seed, so the run stays deterministic (from a generator of its own, so the run's
    // stream of events is the same as without it).
    {
      Rng key_rng(options_.seed ^ 0x6b65792d62726f6bULL);
      unsigned char seed[crypto_sign_SEEDBYTES];
      for (size_t i = 0; i < sizeof seed; i += 8) {
        uint64_t r = key_rng.Next();
        std::memcpy(seed + i, &r, std::min<size_t>(8, sizeof seed - i));
      }
      std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
      crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                               reinterpret_cast<unsigned char*>(sk.data()), seed);
      broker_.identity.pub.sign_public = pk;
      broker_.identity.sign_secret = sk;
    }
    for (size_t i = 0; i < n; ++i) {
      auto a = std::make_unique<AgentNode>();
      a->index = i;
      a->org = NewId(rng_);
      a->role = i == 0 ? Role::kMaintainer : Role::kPartner;
      a->replica = rng_.Next() | 1;
      a->path = root_ + "/agent" + std::to_string(i);
      a->skew = rng_.Between(0, 2 * kMaxClockSkewMs);
      ASSIGN_OR_RETURN(a->identity, Identity::Generate(a->org));
      network_.Crash(i);  // no connection yet
      agents_.push_back(std::move(a));
    }
    SetTime(kEpochMs);
    RETURN_IF_ERROR(OpenBroker());
    for (auto& a : agents_) {
      RETURN_IF_ERROR(broker_.roster->Enroll(a->identity.pub, a->role, broker_.clock.NowMillis()));
    }
    for (auto& a : agents_) {
      RETURN_IF_ERROR(OpenAgent(*a));
      RETURN_IF_ERROR(a->local->Apply({workload_.OrgRecord(a->org)}, kActor).status());
      workload_.AddRecord(a->org, "organization", a->index);
      a->reconnect_at = now_ + rng_.Below(kReconnectJitterMs);
    }
    PlanEvents();
    return Status::Ok();
  }

  Status OpenBroker() {
    ASSIGN_OR_RETURN(
        broker_.store,
        Store::Open(broker_.path, StoreOptions{.sync = false, .create_if_missing = true}));
    broker_.roster = std::make_unique<Roster>(broker_.store.get());
    RETURN_IF_ERROR(broker_.roster->Load());
    broker_.core =
        std::make_unique<BrokerCore>(broker_.store.get(), &broker_.clock, broker_.identity,
                                     broker_.roster.get(), BrokerCore::Options());
    return broker_.core->Load();
  }

  void CloseBroker() {
    broker_.core.reset();
    broker_.roster.reset();
    broker_.store.reset();
  }

  Status OpenAgent(AgentNode& a) {
    ASSIGN_OR_RETURN(a.store,
                     Store::Open(a.path, StoreOptions{.sync = false, .create_if_missing = true}));
    Agent::Options options;
    options.replica = a.replica;
    options.identity = a.identity;
    options.broker = broker_.identity.pub;
    options.referrals = false;  // the simulator carries directory sync only
    options.quarantine = false;
    ASSIGN_OR_RETURN(a.agent, Agent::Open(a.store.get(), &a.clock, std::move(options)));
    a.local = a.agent->directory();
    ASSIGN_OR_RETURN(a.sync, a.agent->OpenSession());
    return Status::Ok();
  }

  static void CloseAgent(AgentNode& a) {
    a.sync = nullptr;
    a.local = nullptr;
    a.agent.reset();
    a.store.reset();
  }

  // Partition episodes, one per equal slot of operations, each cutting some agents off the
  // broker; crashes of an agent or the broker (victim agents_.size()) at random operations.
  void PlanEvents() {
    episodes_ = PlanPartitions(options_.ops, options_.partitions, agents_.size(), rng_);
    crashes_ = PlanCrashes(options_.ops, options_.crashes, agents_.size() + 1, rng_);
  }

  // --- Time and events ---
  void SetTime(uint64_t t) {
    now_ = t;
    broker_.clock.Set(t + broker_.skew - kMaxClockSkewMs);
    for (auto& a : agents_) a->clock.Set(t + a->skew - kMaxClockSkewMs);
  }

  // Runs every event due until `to` in time order: deliveries, reconnects, periodic ticks.
  void AdvanceTo(uint64_t to) {
    for (;;) {
      uint64_t next = std::min(to, next_tick_);
      if (!network_.idle()) next = std::min(next, network_.next_due());
      for (auto& a : agents_) next = std::min(next, a->reconnect_at);
      SetTime(std::max(next, now_));
      while (std::optional<NodeNetwork::Message> m = network_.PopDue(now_)) Deliver(*m);
      Reconnects();
      if (now_ >= next_tick_) {
        TickAll();
        next_tick_ = now_ + kTickMs;
      }
      if (now_ >= to) return;
    }
  }

  // A message on a live connection (the network cuts those of a broken one).
  void Deliver(const NodeNetwork::Message& m) {
    bool to_broker = m.to == broker_node();
    AgentNode& a = *agents_[to_broker ? m.from : m.to];
    if (to_broker) {
      std::vector<Outgoing> out;
      broker_.core->OnMessage(a.peer, a.org, *m.payload, &out);
      broker_.core->Pump(&out);
      Route(std::move(out));
    } else {
      NoteGaps(a, *m.payload);
      SendFrom(a, a.sync->OnMessage(*m.payload));
      SendFrom(a, a.sync->Tick());
    }
  }

  // Counts Updates that arrive past the agent's cursor + 1 (an earlier one was lost or is
  // late): the agent applies nothing beyond the gap and starts its session over.
  void NoteGaps(const AgentNode& a, const std::string& bytes) {
    if (!a.sync->ready()) return;
    Result<proto::Message> m = proto::DecodeEnvelope(bytes);
    const auto* u = m.ok() ? std::get_if<proto::Updates>(&*m) : nullptr;
    if (!u) return;
    uint64_t cursor = a.local->sync_cursor();
    for (const proto::LogEntry& e : u->entries) {
      if (e.seq > cursor + 1) {
        ++report_.log_gaps;
        return;
      }
      cursor = std::max(cursor, e.seq);
    }
  }

  // Sends the broker's messages on the connections they name; a gone peer loses them.
  void Route(std::vector<Outgoing> out) {
    for (Outgoing& o : out) {
      auto it = peers_.find(o.peer);
      if (it == peers_.end()) {
        ++unroutable_;
        continue;
      }
      Send(broker_node(), it->second, std::string(o.bytes()));
    }
  }

  // Sends an agent's messages; without a connection they are lost (ZeroMQ's immediate mode).
  void SendFrom(AgentNode& a, std::vector<std::string> out) {
    for (std::string& m : out) Send(a.index, broker_node(), std::move(m));
  }

  void Send(size_t from, size_t to, std::string bytes) {
    size_t size = bytes.size();
    network_.Send(from, to, std::make_shared<const std::string>(std::move(bytes)), size, now_);
  }

  void TickAll() {
    for (auto& a : agents_) SendFrom(*a, a->sync->Tick());
    std::vector<Outgoing> out;
    broker_.core->Pump(&out);
    Route(std::move(out));
  }

  void Reconnects() {
    for (auto& a : agents_) {
      if (a->connected || a->reconnect_at > now_) continue;
      if (!network_.Reachable(a->index, broker_node()) || now_ < broker_.down_until) {
        a->reconnect_at = now_ + kReconnectRetryMs;
        continue;
      }
      ++a->epoch;
      a->peer = "agent" + std::to_string(a->index) + "#" + std::to_string(a->epoch);
      a->connected = true;
      network_.Recover(a->index);
      a->reconnect_at = std::numeric_limits<uint64_t>::max();
      peers_[a->peer] = a->index;
      ++report_.connects;
      SendFrom(*a, a->sync->OnConnected());
    }
  }

  // Both ends learn that the connection is gone; the agent tries again later.
  void Disconnect(AgentNode& a, const std::string& why) {
    if (!a.connected) return;
    a.connected = false;
    network_.Crash(a.index);
    peers_.erase(a.peer);
    a.sync->OnDisconnected(why);
    broker_.core->OnDisconnected(a.peer);
    a.reconnect_at = now_ + kReconnectMinMs + rng_.Below(kReconnectJitterMs);
  }

  // --- Faults ---
  void StartPartition(const PartitionEpisode& e) {
    network_.Partition(e.Sides(agents_.size() + 1));
    for (size_t i : e.group) Disconnect(*agents_[i], "partition");
  }

  void CrashAgent(AgentNode& a) {
    ++report_.crashes_agents;
    Disconnect(a, "crash");
    CloseAgent(a);
    Status s = OpenAgent(a);
    if (!s.ok()) Fail("agent " + std::to_string(a.index) + " cannot restart: " + s.ToString());
  }

  void CrashBroker() {
    ++report_.crashes_broker;
    for (auto& a : agents_) Disconnect(*a, "the broker crashed");
    CloseBroker();
    Status s = OpenBroker();
    if (!s.ok()) Fail("the broker cannot restart: " + s.ToString());
    broker_.down_until = now_ + rng_.Between(kBrokerDowntimeMinMs, kBrokerDowntimeMaxMs);
  }

  // --- The workload ---
  void RunEdits() {
    PartitionSchedule partitions(episodes_);
    size_t crash = 0;
    for (uint64_t op = 0; op < options_.ops && report_.failure.empty(); ++op) {
      PartitionSchedule::Step step = partitions.At(op);
      if (step.ended) network_.Partition({});
      if (step.started) {
        StartPartition(*step.started);
        Say("partition " + std::to_string(step.number) + " at op " + std::to_string(op) + ": " +
            std::to_string(step.started->group.size()) + " agent(s) cut off");
      }
      for (; crash < crashes_.size() && crashes_[crash].op <= op; ++crash) {
        size_t victim = crashes_[crash].victim;
        Say("crash of " +
            (victim < agents_.size() ? "agent " + std::to_string(victim)
                                     : std::string("the broker")) +
            " at op " + std::to_string(op));
        if (victim < agents_.size()) {
          CrashAgent(*agents_[victim]);
        } else {
          CrashBroker();
        }
      }
      AdvanceTo(now_ + rng_.Below(kMaxStepMs + 1));
      Edit(*agents_[rng_.Below(agents_.size())]);
      if (options_.ops >= 4 && (op + 1) % (options_.ops / 4) == 0) {
        Say(std::to_string(op + 1) + "/" + std::to_string(options_.ops) + " ops, " +
            std::to_string(network_.in_flight()) + " messages in flight");
      }
    }
  }

  void Edit(AgentNode& a) {
    LocalLookup local = [&a](const std::string& id) { return a.Find(id); };
    Op op = a.role == Role::kMaintainer ? workload_.Maintainer(a.index, local)
                                        : workload_.Partner(a.index, a.org, local);
    ++report_.ops;
    Result<std::vector<EditOutcome>> done = a.local->Apply({op.edit}, kActor);
    if (!done.ok()) {
      ++report_.refused_locally;
      return;
    }
    if (op.creates) workload_.AddRecord(op.edit.id, op.edit.kind, a.index);
    if (op.planted && !done->empty() && done->front().op != "unchanged") {
      ++report_.planted_refusals;
      planted_.insert({a.index, op.edit.id});
    }
    SendFrom(a, a.sync->Tick());
  }

  // --- The end ---
  bool Quiet() const {
    if (!network_.idle()) return false;
    uint64_t head = broker_.core->stats().log_head;
    for (const auto& a : agents_) {
      if (!a->connected || !a->sync->ready() || a->local->outbox_depth() != 0 ||
          a->local->sync_cursor() != head) {
        return false;
      }
    }
    return true;
  }

  void Drain() {
    uint64_t start = now_;
    Say("edits done; draining");
    while (now_ - start < kDrainLimitMs) {
      AdvanceTo(now_ + kTickMs);
      if (Quiet()) {
        report_.quiet = true;
        break;
      }
    }
    report_.drain_ms = now_ - start;
    if (!report_.quiet) {
      std::string why = "not quiet after " + std::to_string(report_.drain_ms / 1000) +
                        " s of simulated drain: log head " +
                        std::to_string(broker_.core->stats().log_head);
      for (const auto& a : agents_) {
        why += "; agent " + std::to_string(a->index) + " " + a->sync->status().state + " cursor " +
               std::to_string(a->local->sync_cursor()) + " outbox " +
               std::to_string(a->local->outbox_depth());
      }
      Fail(why);
    }
  }

  void Check() {
    const Directory& truth = broker_.core->state();
    std::string encoded = EncodeDirectory(truth);
    report_.digest_hex = HexDigest(encoded);
    report_.records = truth.size();
    report_.log_head = broker_.core->stats().log_head;
    for (const auto& a : agents_) {
      Result<std::vector<Rejection>> rejections =
          a->local->Rejections(std::numeric_limits<size_t>::max());
      if (!rejections.ok()) {
        Fail("agent " + std::to_string(a->index) + ": " + rejections.status().ToString());
        continue;
      }
      for (const Rejection& r : *rejections) {
        ++report_.refused_by_broker;
        bool planted = !r.records.empty() && planted_.count({a->index, r.records.front()});
        if (!planted && report_.unexpected_refusals++ == 0) {
          report_.first_unexpected_refusal = "agent " + std::to_string(a->index) + ": " + r.reason;
        }
      }
      size_t differing = a->role == Role::kMaintainer ? CompareMaintainer(*a, truth, encoded)
                                                      : ComparePartner(*a, truth);
      report_.differing_records += differing;
      if (differing > 0) ++report_.diverged_agents;
    }
    report_.converged = report_.quiet && report_.failure.empty();
  }

  // The maintainer sees everything: its state must equal the broker's byte for byte. Returns
  // the number of records that differ (missing, extra or different); Fail describes the first.
  size_t CompareMaintainer(const AgentNode& a, const Directory& truth, const std::string& encoded) {
    return a.local->Read([&](const Directory& mine) -> size_t {
      if (EncodeDirectory(mine) == encoded) return 0;
      size_t differing = 0;
      for (const auto& [id, r] : truth.records()) {
        const Record* m = mine.Find(id);
        if (m && EncodeRecord(*m) == EncodeRecord(r)) continue;
        if (differing++ == 0) {
          Fail(m ? "maintainer: record " + id + " differs from the broker's: " + Difference(r, *m)
                 : "maintainer: lacks record " + id);
        }
      }
      for (const auto& [id, r] : mine.records()) {
        if (truth.Find(id)) continue;
        if (differing++ == 0) Fail("maintainer: holds record " + id + " the broker does not");
      }
      return differing;
    });
  }

  // A partner sees the broker's records filtered for it. Compared on the views, since its
  // causal contexts also hold the dots of its refused edits. The address fields a location
  // may make confidential are compared apart (confidential_diffs): the broker filters them by
  // the record's state when it sends, so a partner keeps a value sent before the address
  // became confidential, and never gets one written while it was. Returns the number of
  // records that differ; Fail describes the first.
  size_t ComparePartner(const AgentNode& a, const Directory& truth) {
    static const std::set<std::string> kConfidential = {"address_1", "address_2", "postal_code",
                                                        "latitude", "longitude"};
    const FieldSchema& schema = FieldSchema::Hsds();
    bool filtered = false;
    Delta visible = FilterFor(
        truth.AsDelta(1, Hlc{}), a.org, a.role,
        [&](const std::string& id) { return truth.Find(id); }, &filtered);
    std::map<std::string, const Record*> expected;
    for (const Record& r : visible.records) expected[r.id()] = &r;
    // Moves the confidential address fields of a location's view into `confidential`.
    auto split = [&](RecordView v, RecordView* confidential) {
      if (v.kind != "location") return v;
      for (const std::string& f : kConfidential) {
        if (auto it = v.fields.find(f); it != v.fields.end()) {
          confidential->fields.insert(*it);
          v.fields.erase(it);
        }
      }
      return v;
    };
    std::string who = "partner agent " + std::to_string(a.index);
    return a.local->Read([&](const Directory& mine) -> size_t {
      size_t differing = 0;
      for (const auto& [id, want] : expected) {
        const Record* have = mine.Find(id);
        if (!have) {
          if (differing++ == 0) Fail(who + ": lacks record " + id);
          continue;
        }
        bool same = true, confidential_same = true, leak = false;
        for (auto view : {&ProposedView, &PublishedView}) {
          RecordView conf_want, conf_have;
          same = same &&
                 split(view(*want, schema), &conf_want) == split(view(*have, schema), &conf_have);
          confidential_same = confidential_same && conf_want == conf_have;
          for (const auto& [name, f] : conf_have.fields) {
            leak = leak || (f.value && !conf_want.fields.count(name));
          }
        }
        if (!confidential_same) ++report_.confidential_diffs;
        if (leak) ++report_.confidential_leaks;
        if (!same && differing++ == 0) {
          Fail(who + ": record " + id + " (" + want->kind() +
               ") differs from the broker's: " + Difference(*want, *have));
        }
      }
      // A refused creation leaves an empty record (no fields) behind: not shown, not counted.
      for (const auto& [id, r] : mine.records()) {
        if (expected.count(id) || r.fields().empty()) continue;
        if (differing++ == 0) Fail(who + ": holds record " + id + " the broker does not show it");
      }
      return differing;
    });
  }

  void Fail(const std::string& why) {
    if (report_.failure.empty()) report_.failure = why;
  }

  void Say(const std::string& line) {
    if (progress_) *progress_ << "sim: " << line << "\n" << std::flush;
  }

  const NetSimOptions options_;
  std::ostream* progress_;
  NetSimReport report_;
  Rng rng_;
  NodeNetwork network_;
  Workload workload_;
  std::string root_;
  BrokerNode broker_;
  std::vector<std::unique_ptr<AgentNode>> agents_;
  std::map<std::string, size_t> peers_;  // live connections: routing id -> agent
  std::vector<PartitionEpisode> episodes_;
  std::vector<PlannedCrash> crashes_;
  uint64_t unroutable_ = 0;  // broker messages for a connection already gone
  std::set<std::pair<size_t, std::string>> planted_;  // (agent, record) edits meant to be refused
  uint64_t now_ = kEpochMs;
  uint64_t next_tick_ = kEpochMs;
};

}  // namespace

NetSimReport RunNetworkSimulation(const NetSimOptions& options, std::ostream* progress) {
  QuietLogs quiet;
  return NetSimulation(options, progress).Run();
}

void PrintNetReport(const NetSimOptions& options, const NetSimReport& report, std::ostream& out) {
  out << "network sim: agents " << options.agents << " (1 maintainer, "
      << std::max(0, options.agents - 1) << " partners), ops " << report.ops << ", seed "
      << options.seed << "\n";
  out << "edits: refused locally " << report.refused_locally << ", refused by the broker "
      << report.refused_by_broker << " (planted " << report.planted_refusals << ", unexpected "
      << report.unexpected_refusals << ")\n";
  out << "faults: drop " << options.drop << ", dup " << options.dup << ", reorder "
      << (options.reorder ? "on" : "off") << ", partitions " << options.partitions << ", crashes "
      << report.crashes_broker + report.crashes_agents << " (broker " << report.crashes_broker
      << ", agents " << report.crashes_agents << ")\n";
  out << "messages: sent " << report.messages_sent << " (" << (report.bytes_sent + 512) / 1024
      << " KiB), delivered " << report.messages_delivered << ", dropped " << report.messages_dropped
      << ", cut with their connection " << report.messages_cut << ", duplicated "
      << report.messages_duplicated << "; connections " << report.connects << "\n";
  out << "log: head " << report.log_head << ", gaps seen (agents resynchronised) "
      << report.log_gaps << "; records " << report.records << "; confidential address differences "
      << report.confidential_diffs
      << " (held by partners since before the address became confidential, hidden from their "
         "views: "
      << report.confidential_leaks << ")\n";
  out << "drain: " << (report.quiet ? "quiet" : "NOT quiet") << " after " << report.drain_ms
      << " ms simulated; agents differing from the broker " << report.diverged_agents << " ("
      << report.differing_records << " records)\n";
  if (!report.first_unexpected_refusal.empty()) {
    out << "first unexpected refusal: " << report.first_unexpected_refusal << "\n";
  }
  if (!report.failure.empty()) out << "failure: " << report.failure << "\n";
  out << (report.converged ? "converged " : "DIVERGED ") << report.digest_hex << "\n";
}

}  // namespace sb::sim

#include "testing/session_fixture.h"

#include <stdexcept>

#include "broker/ingest.h"

namespace sb::testing {
namespace {

// A phase of a round lasts longer than any delay the network draws, so everything sent before
// a phase arrives in it, and what is sent during it arrives in the next.
constexpr uint64_t kPhaseMs = sim::kMaxJitterMs + 1;

void Check(const Status& st, const std::string& what) {
  if (!st.ok()) throw std::runtime_error(what + ": " + st.ToString());
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  StoreOptions so;
  so.create_if_missing = true;
  Result<std::unique_ptr<Store>> s = Store::Open(path, so);
  Check(s.status(), "cannot open the store at " + path);
  return std::move(s).value();
}

}  // namespace

std::optional<Value> SessionAgent::Displayed(const std::string& record,
                                             const std::string& field) const {
  return dir->Read([&](const Directory& d) -> std::optional<Value> {
    const Record* r = d.Find(record);
    return r ? r->Displayed(field) : std::nullopt;
  });
}

Directory SessionAgent::State() const {
  return dir->Read([](const Directory& d) { return d; });
}

void SessionAgent::Apply(std::vector<RecordEdit> edits) {
  auto out = dir->Apply(std::move(edits), "test");
  Check(out.status(), "the edit was refused");
}

SessionFixture::SessionFixture(Options options)
    : options_(std::move(options)),
      tmp_("sb-session"),
      clock_(options_.start_ms),
      broker_options_(options_.broker),
      rng_(options_.seed),
      network_(options_.max_agents + 1, options_.faults, rng_) {
  Result<Identity> id = Identity::Generate(options_.broker_org);
  Check(id.status(), "cannot make the broker's keys");
  broker_ = std::move(id).value();
}

SessionFixture::~SessionFixture() {
  // Agents first: their sessions hold nothing of the broker's, but their stores are theirs.
  agents_.clear();
  core_.reset();
  roster_.reset();
  broker_store_.reset();
}

Status SessionFixture::Start() {
  core_.reset();
  roster_.reset();
  broker_store_.reset();
  StoreOptions so;
  so.create_if_missing = true;
  ASSIGN_OR_RETURN(broker_store_, Store::Open(tmp_ / "broker", so));
  roster_ = std::make_unique<Roster>(broker_store_.get());
  RETURN_IF_ERROR(roster_->Load());
  core_ = std::make_unique<BrokerCore>(broker_store_.get(), &clock_, broker_, roster_.get(),
                                       broker_options_);
  return core_->Load();
}

void SessionFixture::RestartBroker(BrokerCore::Options options) {
  broker_options_ = std::move(options);
  Check(Start(), "the broker did not restart");
}

void SessionFixture::OpenAgent(SessionAgent& a, const AgentSpec& spec) {
  a.sync = nullptr;
  a.agent.reset();
  Agent::Options o;
  o.replica = spec.replica;
  o.identity = a.id;
  o.broker = broker_.pub;
  o.referrals = spec.referrals;
  o.session = spec.session;
  Result<std::unique_ptr<Agent>> opened = Agent::Open(a.store.get(), &clock_, std::move(o));
  Check(opened.status(), "cannot open agent " + a.peer);
  a.agent = std::move(opened).value();
  Result<AgentSync*> session = a.agent->OpenSession();
  Check(session.status(), "no session for agent " + a.peer);
  a.sync = *session;
  a.dir = a.agent->directory();
  a.quarantine = a.agent->quarantine();
  a.book = a.agent->referrals();
}

SessionAgent& SessionFixture::AddAgent(const AgentSpec& spec) {
  if (agents_.size() >= options_.max_agents) {
    throw std::runtime_error("more agents than Options::max_agents");
  }
  auto a = std::make_unique<SessionAgent>();
  a->node = agents_.size() + 1;
  a->peer = "peer-" + std::to_string(agents_.size());
  Result<Identity> id = Identity::Generate(spec.org);
  Check(id.status(), "cannot make keys for " + spec.org);
  a->id = std::move(id).value();
  Check(roster_->Enroll(a->id.pub, spec.role, options_.start_ms), "cannot enroll " + spec.org);
  a->store = OpenStore(tmp_ / ("agent-" + std::to_string(agents_.size())));
  OpenAgent(*a, spec);
  specs_.push_back(spec);
  agents_.push_back(std::move(a));
  return *agents_.back();
}

void SessionFixture::RestartAgent(SessionAgent& a) {
  if (a.connected) Disconnect(a);
  OpenAgent(a, specs_[a.node - 1]);
}

void SessionFixture::Connect(SessionAgent& a) {
  a.connected = true;
  network_.Recover(a.node);
  for (std::string& b : a.sync->OnConnected()) SendUp(a, std::move(b));
}

void SessionFixture::Disconnect(SessionAgent& a) {
  a.connected = false;
  network_.Crash(a.node);
  a.sync->OnDisconnected("test");
  core_->OnDisconnected(a.peer);
}

void SessionFixture::SendUp(SessionAgent& a, std::string bytes) {
  size_t n = bytes.size();
  network_.Send(a.node, kBroker, std::move(bytes), n, net_now_);
}

void SessionFixture::DeliverDown(SessionAgent& a, std::string_view bytes) {
  for (std::string& b : a.sync->OnMessage(bytes)) SendUp(a, std::move(b));
}

std::vector<Outgoing> SessionFixture::SendRaw(const std::string& peer, const std::string& org,
                                              std::string_view bytes, bool pump) {
  std::vector<Outgoing> out;
  core_->OnMessage(peer, org, bytes, &out);
  if (pump) core_->Pump(&out);
  return out;
}

std::vector<Outgoing> SessionFixture::PumpBroker() {
  std::vector<Outgoing> out;
  core_->Pump(&out);
  return out;
}

void SessionFixture::DiscardInFlight() {
  while (network_.PopDue(UINT64_MAX)) {
  }
}

std::vector<sim::Network<std::string>::Message> SessionFixture::TakeDue() {
  net_now_ += kPhaseMs;
  std::vector<sim::Network<std::string>::Message> due;
  while (auto m = network_.PopDue(net_now_)) due.push_back(std::move(*m));
  return due;
}

SessionAgent* SessionFixture::Find(const std::string& peer) {
  for (auto& a : agents_) {
    if (a->peer == peer) return a.get();
  }
  return nullptr;
}

size_t SessionFixture::Pump(bool* moved) {
  size_t delivered = 0;
  for (auto& a : agents_) {
    if (!a->connected) continue;
    for (std::string& b : a->sync->Tick()) SendUp(*a, std::move(b));
  }
  std::vector<Outgoing> down;
  for (auto& m : TakeDue()) {
    SessionAgent& a = *agents_[m.from - 1];
    if (intercept_up && intercept_up(a, m.payload)) continue;
    core_->OnMessage(a.peer, a.id.pub.org, m.payload, &down);
    ++delivered;
  }
  core_->Pump(&down);
  for (const Outgoing& o : down) {
    SessionAgent* a = Find(o.peer);
    if (!a || !a->connected) continue;
    network_.Send(kBroker, a->node, o.bytes(), o.bytes().size(), net_now_);
  }
  for (auto& m : TakeDue()) {
    SessionAgent& a = *agents_[m.to - 1];
    if (!a.connected) continue;
    if (auto decoded = proto::DecodeEnvelope(m.payload); decoded.ok()) {
      if (intercept_down && intercept_down(a, *decoded)) continue;
      a.received.push_back(*decoded);
    }
    DeliverDown(a, m.payload);
    ++delivered;
  }
  if (moved) *moved = !down.empty() || !network_.idle();
  return delivered;
}

size_t SessionFixture::Run(size_t max_messages, int max_rounds) {
  settled_ = false;
  size_t delivered = 0;
  for (int round = 0; round < max_rounds; ++round) {
    bool moved = false;
    delivered += Pump(&moved);
    if (!moved) {
      settled_ = true;
      return delivered;
    }
    if (delivered > max_messages) return delivered;
  }
  return delivered;
}

Directory SessionFixture::BrokerStateFor(const std::string& org, Role role) {
  bool filtered = false;
  Delta d = FilterFor(
      core_->state().AsDelta(1, Hlc{}), org, role,
      [&](const std::string& id) { return core_->state().Find(id); }, &filtered);
  Directory out;
  out.Join(d);
  return out;
}

}  // namespace sb::testing

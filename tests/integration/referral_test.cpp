// Referral handoffs with real processes (issue 5, point 7): a `switchboard broker` and three
// partner agents A, B and C on loopback, driven through the agents' HTTP API and the CLI,
// stopped, killed and restarted; stores are read beside (or after) their processes to check
// what is on disk. Nothing sleeps to synchronize: every wait polls a condition with a deadline,
// and every "it did not arrive" is checked after a later message that must arrive behind it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>

#include <zmq.hpp>

#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "base/hex.h"
#include "base/ids.h"
#include "crypto/identity.h"
#include "store/store.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"
#include "transport/protocol.h"
#include "transport/sealed.h"
#include "transport/sockets.h"

namespace sb::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgB = "22222222-2222-4222-8222-222222222222";
const std::string kOrgC = "33333333-3333-4333-8333-333333333333";
const std::string kOrgX = "55555555-5555-4555-8555-555555555555";  // never enrolled

// A string no test writes twice: put in a payload, then looked for on disk.
std::string Canary() {
  std::random_device rd;
  char buf[48];
  std::snprintf(buf, sizeof buf, "canary-%08x%08x%08x", rd(), rd(), rd());
  return buf;
}

json Payload(const std::string& notes) {
  return {{"alias", "R."},
          {"contact", "text +1 555 0100, say it is the pharmacy"},
          {"contact_times", "weekdays after 18:00"},
          {"language", "es"},
          {"needs", {"shelter", "legal"}},
          {"notes", notes}};
}

json Request(const std::string& to, const json& payload, double expires_in_hours = 0) {
  json r = {{"to", to},
            {"urgency", "urgent"},
            {"consent",
             {{"scope", "shelter and legal intake with the recipient"}, {"by", "advocate J."}}},
            {"payload", payload}};
  if (expires_in_hours > 0) r["expires_in_hours"] = expires_in_hours;
  return r;
}

std::vector<std::string> Actions(const json& referral) {
  std::vector<std::string> out;
  if (!referral.is_object()) return out;
  for (const auto& s : referral["steps"]) out.push_back(s.value("action", ""));
  return out;
}

// ---------- stores, opened beside (or after) their processes ----------

Result<std::unique_ptr<Store>> OpenStore(const std::string& dir, bool read_only) {
  StoreOptions o;
  o.read_only = read_only;
  return Store::Open(dir + "/db", o);
}

// One value; nullopt when absent or when the store cannot be opened right now.
std::optional<std::string> StoreGet(const std::string& dir, Cf cf, const std::string& key) {
  auto store = OpenStore(dir, /*read_only=*/true);
  if (!store.ok()) return std::nullopt;
  auto v = (*store)->Get(cf, key);
  return v.ok() ? *v : std::nullopt;
}

// Every audit entry of a data directory (JSON objects), in order.
std::vector<json> AuditEntries(const std::string& dir) {
  std::vector<json> out;
  auto store = OpenStore(dir, /*read_only=*/true);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return out;
  Status s = (*store)->Scan(Cf::kAudit, "", "", [&](std::string_view k, std::string_view v) {
    if (k.size() == 8) out.push_back(json::parse(v, nullptr, false));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

int CountAudit(const std::vector<json>& entries, const std::string& action,
               const std::string& subject) {
  int n = 0;
  for (const json& e : entries) {
    if (e.is_object() && e.value("action", "") == action && e.value("subject", "") == subject) ++n;
  }
  return n;
}

// Rewrites every file of the store (the process must be stopped).
void Compact(const std::string& dir) {
  auto store = OpenStore(dir, /*read_only=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Status s = (*store)->CompactAll();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// The sealed body of a referral as its sender stores it (r/<id> in A's store).
std::optional<proto::ReferralBody> SealedBody(const std::string& sender_dir,
                                              const std::string& id) {
  std::optional<std::string> bytes = StoreGet(sender_dir, Cf::kReferrals, "r/" + id);
  if (!bytes) return std::nullopt;
  json j = json::parse(*bytes, nullptr, false);
  if (!j.is_object() || !j["body"].is_string()) return std::nullopt;
  auto body = FromHex(j["body"].get<std::string>());
  if (!body.ok()) return std::nullopt;
  auto decoded = proto::DecodeReferralBody(*body);
  if (!decoded.ok()) return std::nullopt;
  return *decoded;
}

// Every key a data directory holds, as a finder would take it from a backup: each 32-byte
// window of every value in every column family (raw, and decoded from any run of 64 hex
// characters), and the organization's long-term secret keys from its identity files.
std::vector<std::string> KeysHeldIn(const std::string& dir) {
  std::set<std::string> keys;
  auto take = [&keys](std::string_view bytes) {
    for (size_t at = 0; at + 32 <= bytes.size(); ++at)
      keys.insert(std::string(bytes.substr(at, 32)));
  };
  auto store = OpenStore(dir, /*read_only=*/true);
  EXPECT_TRUE(store.ok()) << dir << ": " << store.status().ToString();
  if (store.ok()) {
    for (int c = 0; c < kCfCount; ++c) {
      Status st =
          (*store)->Scan(static_cast<Cf>(c), "", "", [&](std::string_view k, std::string_view v) {
            for (std::string_view part : {k, v}) {
              take(part);
              size_t run = 0;
              for (size_t i = 0; i <= part.size(); ++i) {
                bool hex = i < part.size() && std::isxdigit(static_cast<unsigned char>(part[i]));
                if (hex) {
                  ++run;
                  continue;
                }
                for (size_t at = i - run; run >= 64 && at + 64 <= i; at += 2) {
                  if (auto raw = FromHex(part.substr(at, 64)); raw.ok()) keys.insert(*raw);
                }
                run = 0;
              }
            }
            return true;
          });
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }
  if (auto id = Identity::Load(dir); id.ok()) {
    keys.insert(id->box_secret);
    keys.insert(id->sign_secret.substr(0, 32));
    if (auto curve = Z85Decode32(id->curve_secret); curve.ok()) keys.insert(*curve);
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

// The keys in `keys` that open `body` at all: as its data key (the payload decrypts), or as
// the pre-key secret its data key was sealed to.
std::vector<std::string> KeysThatOpen(const proto::ReferralBody& body,
                                      const std::vector<std::string>& keys,
                                      std::set<std::string>* raw = nullptr) {
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    if (OpenPayload(body, k).ok()) {
      out.push_back("data key " + ToHex(k).substr(0, 12));
      if (raw) raw->insert(k);
      continue;
    }
    PreKeyPair pair{body.pre_key_id, std::string(32, '\0'), k};
    crypto_scalarmult_base(reinterpret_cast<unsigned char*>(pair.public_key.data()),
                           reinterpret_cast<const unsigned char*>(k.data()));
    if (OpenDataKeyWithPreKey(body, pair).ok()) {
      out.push_back("pre-key " + ToHex(k).substr(0, 12));
      if (raw) raw->insert(k);
    }
  }
  return out;
}

// Pieces of `secret` to look for on disk: 10-byte windows, short enough that LZ4 in a table
// file leaves most of them whole when present, long enough never to occur by chance.
std::vector<std::string> Fragments(const std::string& secret, size_t step = 37) {
  std::vector<std::string> out;
  for (size_t at = 0; at + 10 <= secret.size() && out.size() < 60; at += step) {
    out.push_back(secret.substr(at, 10));
  }
  return out;
}

// The same pieces as the stores keep binary fields in their JSON.
std::vector<std::string> Hexed(const std::vector<std::string>& fragments) {
  std::vector<std::string> out;
  for (const std::string& f : fragments) out.push_back(ToHex(f));
  return out;
}

int FragmentsFound(const std::string& dir, const std::vector<std::string>& fragments) {
  int n = 0;
  for (const std::string& f : fragments) n += FileContaining(dir, f).empty() ? 0 : 1;
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------- the network ----------

class ReferralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = BrokerProcess::Create(tmp_ / "broker");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    // The crash test sends 105 referrals to one recipient without answers (more than an
    // agent posts at once): above the default quota of unanswered referrals per pair.
    broker_->set_default_args({"--referral-quota", "1000"});
    Status started = broker_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    // Everyone is enrolled before any agent connects, so the first roster names them all.
    for (const auto& [name, org] : orgs_) {
      Status made = InitDataDir(Dir(name), org);
      ASSERT_TRUE(made.ok()) << made.ToString();
      Status enrolled = broker_->Enroll(Dir(name), "partner");
      ASSERT_TRUE(enrolled.ok()) << enrolled.ToString();
    }
    for (const auto& [name, org] : orgs_) ASSERT_NO_FATAL_FAILURE(StartAgent(name));
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (broker_) std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
    for (const auto& [name, org] : orgs_) {
      std::cerr << "--- " << name << ".log ---\n" << Tail(tmp_ / (name + ".log"), 3000) << "\n";
    }
  }

  std::string Dir(const std::string& name) const { return tmp_ / name; }
  AgentProcess& Agent(const std::string& name) { return *agents_.at(name); }

  // Starts (or restarts) agent `name`; returns once it is connected and has the roster
  // (its store names the other two partners, so it can seal for them and verify them).
  void StartAgent(const std::string& name, const std::vector<std::string>& extra_args = {}) {
    auto a = StartSyncingAgent(Dir(name), *broker_, extra_args);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agents_[name] = std::move(a).value();
    ASSERT_TRUE(WaitUntilSyncReady(Agent(name))) << name << ": " << AgentStatus(Agent(name)).dump();
    ASSERT_TRUE(WaitFor([&] {
      for (const auto& [other, org] : orgs_) {
        if (other != name && !StoreGet(Dir(name), Cf::kRoster, org)) return false;
      }
      return true;
    })) << name
        << " never received the roster";
  }

  void StopAgent(const std::string& name) {
    std::string log = Agent(name).LogPath();
    Result<int> code = Agent(name).Stop();
    ASSERT_TRUE(code.ok() && *code == 0)
        << name << " did not stop cleanly: "
        << (code.ok() ? "exit status " + std::to_string(*code) : code.status().ToString())
        << "; log:\n"
        << Tail(log);
    agents_.erase(name);
  }

  // Sends from agent `from`; the referral's id ("" on failure, which is reported).
  std::string Send(const std::string& from, const std::string& to, const json& payload,
                   double expires_in_hours = 0) {
    Reply r = Agent(from).Post("/v1/referrals", Request(to, payload, expires_in_hours));
    EXPECT_EQ(r.status, 201) << from << " could not send: " << r.Describe();
    return r.status == 201 ? r.body.value("id", "") : "";
  }

  // GET /v1/referrals/{id} on `name`: the referral with its payload, or null when absent.
  json Show(const std::string& name, const std::string& id) {
    Reply r = Agent(name).Get("/v1/referrals/" + id);
    return r.status == 200 ? r.body : json(nullptr);
  }

  std::string StatusOf(const std::string& name, const std::string& id) {
    json r = Show(name, id);
    return r.is_object() ? r.value("status", "") : "";
  }

  // Until `name` shows the referral in `status` with none of its own steps unconfirmed.
  bool WaitForStatus(const std::string& name, const std::string& id, const std::string& status,
                     milliseconds deadline = seconds(15)) {
    return WaitFor(
        [&] {
          json r = Show(name, id);
          return r.is_object() && r["status"] == status && r["waiting"].empty();
        },
        deadline);
  }

  Reply Act(const std::string& name, const std::string& id, const std::string& action,
            const json& body = json::object()) {
    return Agent(name).Post("/v1/referrals/" + id + "/" + action, body);
  }

  void ExpectAct(const std::string& name, const std::string& id, const std::string& action,
                 const std::string& then, const json& body = json::object()) {
    Reply r = Act(name, id, action, body);
    ASSERT_EQ(r.status, 200) << name << " " << action << ": " << r.Describe();
    EXPECT_TRUE(WaitForStatus(name, id, then))
        << name << " never confirmed " << action << ": " << Show(name, id).dump();
  }

  // The ids in one box of `name` ("" for both boxes); a multiset, so a duplicate would show.
  std::multiset<std::string> Ids(const std::string& name, const std::string& box) {
    Reply r = Agent(name).Get("/v1/referrals" + (box.empty() ? "" : "?box=" + box));
    EXPECT_EQ(r.status, 200) << r.Describe();
    std::multiset<std::string> out;
    if (r.status != 200) return out;
    for (const auto& x : r.body["referrals"]) out.insert(x.value("id", ""));
    return out;
  }

  // The agent's own view of its audit log (GET /v1/audit).
  std::vector<json> AgentAudit(const std::string& name) {
    Reply r = Agent(name).Get("/v1/audit?limit=10000");
    EXPECT_EQ(r.status, 200) << r.Describe();
    std::vector<json> out;
    if (r.status == 200) {
      for (const auto& e : r.body["entries"]) out.push_back(e);
    }
    return out;
  }

  // Sends A -> B and waits until B holds it and A knows it was delivered.
  std::string Delivered(const json& payload) {
    std::string id = Send("a", kOrgB, payload);
    if (id.empty()) return id;
    EXPECT_TRUE(WaitForStatus("a", id, "delivered")) << Show("a", id).dump();
    EXPECT_TRUE(WaitForStatus("b", id, "delivered")) << Show("b", id).dump();
    return id;
  }

  Result<CommandOutput> Cli(const std::vector<std::string>& args) { return RunSwitchboard(args); }

  TempDir tmp_;
  const std::map<std::string, std::string> orgs_ = {{"a", kOrgA}, {"b", kOrgB}, {"c", kOrgC}};
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
};

// ---------- 1. the whole loop ----------

TEST_F(ReferralTest, FullLifecycleIsSeenStepByStepByBothSides) {
  std::string canary = Canary();
  std::string id = Delivered(Payload(canary));
  ASSERT_FALSE(id.empty());

  json at_b = Show("b", id);
  ASSERT_TRUE(at_b["payload"].is_object()) << "B cannot open it: " << at_b.dump();
  EXPECT_EQ(at_b["payload"], Payload(canary));
  EXPECT_EQ(at_b["box"], "inbox");
  EXPECT_EQ(at_b["sender"], kOrgA);
  EXPECT_EQ(at_b["urgency"], "urgent");
  EXPECT_EQ(at_b["consent"]["by"], "advocate J.");
  EXPECT_EQ(at_b["consent"]["scope"], "shelter and legal intake with the recipient");

  for (const auto& [action, status] : std::vector<std::pair<std::string, std::string>>{
           {"accept", "accepted"}, {"start", "in_progress"}, {"complete", "completed"}}) {
    ASSERT_NO_FATAL_FAILURE(ExpectAct("b", id, action, status));
    EXPECT_TRUE(WaitForStatus("a", id, status))
        << "A never saw " << status << ": " << Show("a", id).dump();
  }
  json a = Show("a", id), b = Show("b", id);
  const std::vector<std::string> expected = {"deliver", "accept", "start", "complete"};
  EXPECT_EQ(Actions(a), expected);
  EXPECT_EQ(a["steps"], b["steps"]) << "the two sides disagree on the history";
  for (const auto& s : a["steps"]) EXPECT_EQ(s["actor"], kOrgB);
  EXPECT_EQ(a["payload"], Payload(canary)) << "the sender can still read what it sent";

  // A closed referral takes no more steps, on either side.
  EXPECT_EQ(Act("b", id, "start").status, 409);
  EXPECT_EQ(Act("a", id, "cancel").status, 409);
}

// ---------- 2. store and forward ----------

TEST_F(ReferralTest, AnOfflineRecipientGetsItOnceWhenItComesBack) {
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  std::string id = Send("a", kOrgB, Payload("while B was away"));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return Show("a", id)["at_broker"] == true; }))
      << "the broker never confirmed it: " << Show("a", id).dump();
  EXPECT_EQ(StatusOf("a", id), "sent");

  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  EXPECT_TRUE(WaitForStatus("a", id, "delivered")) << Show("a", id).dump();
  ASSERT_TRUE(WaitForStatus("b", id, "delivered")) << Show("b", id).dump();
  EXPECT_EQ(Show("b", id)["payload"], Payload("while B was away"));

  // Back again: nothing is handed over twice. A later referral that B must receive marks the
  // point by which a second copy of the first would have arrived.
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  std::string later = Delivered(Payload("later"));
  ASSERT_FALSE(later.empty());
  EXPECT_EQ(Ids("b", "inbox"), (std::multiset<std::string>{id, later}));
  EXPECT_EQ(CountAudit(AgentAudit("b"), "referral.received", id), 1);
  EXPECT_EQ(Actions(Show("a", id)), std::vector<std::string>{"deliver"});
  EXPECT_EQ(Actions(Show("b", id)), std::vector<std::string>{"deliver"});
}

TEST_F(ReferralTest, StepsTakenWhileTheBrokerIsDownReachTheSenderInOrder) {
  std::string id = Delivered(Payload("answered offline"));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(broker_->Stop().ok());
  for (const char* action : {"accept", "start", "complete"}) {
    Reply r = Act("b", id, action);
    ASSERT_EQ(r.status, 200) << action << ": " << r.Describe();
  }
  json b = Show("b", id);
  EXPECT_EQ(b["status"], "delivered") << "nothing is confirmed while the broker is down";
  EXPECT_EQ(b["waiting"], json::array({"accept", "start", "complete"}));
  EXPECT_EQ(Act("b", id, "decline", {{"reason", "changed my mind"}}).status, 409)
      << "declining after a (queued) accept";

  ASSERT_TRUE(broker_->Start().ok());
  ASSERT_TRUE(WaitForStatus("a", id, "completed")) << Show("a", id).dump();
  ASSERT_TRUE(WaitForStatus("b", id, "completed")) << Show("b", id).dump();
  EXPECT_EQ(Actions(Show("a", id)),
            (std::vector<std::string>{"deliver", "accept", "start", "complete"}));
  EXPECT_EQ(Show("a", id)["steps"], Show("b", id)["steps"]);
}

// ---------- 3. a crash in the middle ----------

TEST_F(ReferralTest, BrokerKilledMidFlightLosesNothingAndDeliversNothingTwice) {
  std::vector<std::string> ids;
  std::map<std::string, std::string> notes;  // id -> what its payload says
  auto send = [&](int n, const std::function<void(int)>& between) {
    for (int i = 0; i < n; ++i) {
      std::string note = "batch item " + std::to_string(ids.size());
      std::string id = Send("a", kOrgB, Payload(note));
      ASSERT_FALSE(id.empty());
      ids.push_back(id);
      notes[id] = note;
      between(i);
    }
  };
  auto restart = [&] {
    broker_->Kill();
    Status s = broker_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  auto all_delivered = [&] {
    for (const auto& id : ids) {
      EXPECT_TRUE(WaitForStatus("a", id, "delivered", seconds(30))) << Show("a", id).dump();
    }
  };

  // (1) Killed while a stream of referrals comes in, and restarted while it goes on.
  ASSERT_NO_FATAL_FAILURE(send(20, [&](int i) {
    if (i == 7) broker_->Kill();
    if (i == 13) {
      ASSERT_TRUE(broker_->Start().ok());
    }
  }));
  ASSERT_NO_FATAL_FAILURE(all_delivered());

  // (2) Killed with posts on the wire: frozen, sent to, then killed.
  json runtime = json::parse(ReadFile(broker_->data_dir() + "/broker.json"), nullptr, false);
  ASSERT_TRUE(runtime.is_object() && runtime["pid"].is_number_integer()) << runtime.dump();
  ASSERT_EQ(::kill(runtime["pid"].get<pid_t>(), SIGSTOP), 0);
  ASSERT_NO_FATAL_FAILURE(send(70, [](int) {}));  // more than an agent posts at once (64)
  ASSERT_NO_FATAL_FAILURE(restart());
  ASSERT_NO_FATAL_FAILURE(all_delivered());

  // (3) Killed with B's acknowledgements on the wire: B frozen while the broker hands it 10
  // referrals, then the broker frozen while B takes them and acknowledges; both killed.
  Agent("b").Signal(SIGSTOP);
  std::vector<std::string> third;
  ASSERT_NO_FATAL_FAILURE(send(10, [&](int) { third.push_back(ids.back()); }));
  for (const auto& id : third) {
    EXPECT_TRUE(WaitFor([&] { return Show("a", id)["at_broker"] == true; }))
        << Show("a", id).dump();
  }
  runtime = json::parse(ReadFile(broker_->data_dir() + "/broker.json"), nullptr, false);
  ASSERT_TRUE(runtime.is_object() && runtime["pid"].is_number_integer()) << runtime.dump();
  ASSERT_EQ(::kill(runtime["pid"].get<pid_t>(), SIGSTOP), 0);
  Agent("b").Signal(SIGCONT);
  // (All of them, unless the broker froze before it had written them all to B's connection.)
  size_t taken = 0;
  WaitFor(
      [&] {
        taken = 0;
        for (const auto& id : third) taken += Show("b", id)["waiting"] == json::array({"deliver"});
        return taken == third.size();
      },
      seconds(5));
  ASSERT_GE(taken, 1u) << "B took nothing from the frozen broker; the case is not exercised";
  Agent("b").Kill();
  ASSERT_NO_FATAL_FAILURE(restart());
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  ASSERT_NO_FATAL_FAILURE(all_delivered());

  // (4) The sender killed with referrals it has not handed over yet.
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_NO_FATAL_FAILURE(send(5, [](int) {}));
  Agent("a").Kill();
  ASSERT_TRUE(broker_->Start().ok());
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  ASSERT_NO_FATAL_FAILURE(all_delivered());

  const std::multiset<std::string> all(ids.begin(), ids.end());
  ASSERT_EQ(all.size(), 105u);
  EXPECT_EQ(Ids("b", "inbox"), all);
  EXPECT_EQ(Ids("a", "outbox"), all);
  std::vector<json> b_audit = AgentAudit("b");
  std::vector<json> broker_audit = AuditEntries(broker_->data_dir());
  for (const auto& id : ids) {
    json at_b = Show("b", id);
    EXPECT_EQ(at_b["payload"], Payload(notes[id])) << id;
    EXPECT_EQ(Actions(at_b), std::vector<std::string>{"deliver"}) << id;
    EXPECT_EQ(Actions(Show("a", id)), std::vector<std::string>{"deliver"}) << id;
    EXPECT_EQ(CountAudit(b_audit, "referral.received", id), 1) << id;
    EXPECT_EQ(CountAudit(broker_audit, "referral.sent", id), 1) << id;
    EXPECT_EQ(CountAudit(broker_audit, "referral.deliver", id), 1) << id;
  }
  EXPECT_EQ(AgentStatus(Agent("a"))["sync"]["referral_queue"], 0);
  EXPECT_EQ(AgentStatus(Agent("b"))["sync"]["referral_queue"], 0);
  auto verified = Cli({"audit", "verify", "--data", broker_->data_dir()});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->exit_code, 0) << verified->output;
}

// ---------- 4. decline ----------

TEST_F(ReferralTest, ADeclineReachesTheSenderWithItsReason) {
  std::string id = Delivered(Payload("decline me"));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Act("b", id, "decline").status, 400) << "declining without a reason";
  const std::string reason = "no family rooms until the 14th";
  ASSERT_NO_FATAL_FAILURE(ExpectAct("b", id, "decline", "declined", {{"reason", reason}}));
  ASSERT_TRUE(WaitForStatus("a", id, "declined")) << Show("a", id).dump();
  json a = Show("a", id);
  ASSERT_EQ(Actions(a), (std::vector<std::string>{"deliver", "decline"}));
  EXPECT_EQ(a["steps"][1]["reason"], reason);
  EXPECT_EQ(a["steps"][1]["actor"], kOrgB);
  EXPECT_EQ(Act("b", id, "accept").status, 409) << "accepting after declining";
  // The audit logs say who did what, never why.
  EXPECT_EQ(CountAudit(AgentAudit("a"), "referral.decline", id), 1);
  for (const json& e : AgentAudit("a")) EXPECT_EQ(e.dump().find("family rooms"), std::string::npos);
  for (const json& e : AgentAudit("b")) EXPECT_EQ(e.dump().find("family rooms"), std::string::npos);
  for (const json& e : AuditEntries(broker_->data_dir())) {
    EXPECT_EQ(e.dump().find("family rooms"), std::string::npos);
  }
}

// ---------- 5. expiry ----------

TEST_F(ReferralTest, AnUnansweredReferralExpiresAndIsNeverHandedOver) {
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  std::string id = Send("a", kOrgB, Payload("too late"), /*expires_in_hours=*/0.001);  // 3.6 s
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitForStatus("a", id, "expired", seconds(15))) << Show("a", id).dump();
  json a = Show("a", id);
  ASSERT_EQ(Actions(a), std::vector<std::string>{"expire"});
  EXPECT_EQ(a["steps"][0]["actor"], "broker");

  // B comes back; a later referral marks the point by which the expired one would have come.
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  std::string later = Delivered(Payload("in time"));
  ASSERT_FALSE(later.empty());
  EXPECT_EQ(Ids("b", "inbox"), std::multiset<std::string>{later});
  json at_b = Show("b", id);
  EXPECT_TRUE(at_b.is_null() || (at_b["status"] == "expired" && at_b["payload"].is_null()))
      << "B got a readable expired referral: " << at_b.dump();
  EXPECT_EQ(StatusOf("a", id), "expired");
  EXPECT_EQ(Act("a", id, "cancel").status, 409) << "cancelling an expired referral";
}

TEST_F(ReferralTest, ADeliveredButUnansweredReferralExpiresForBothEvenWithTheSenderAway) {
  std::string id = Send("a", kOrgC, Payload("answer soon"), /*expires_in_hours=*/0.001);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return Show("a", id)["at_broker"] == true; })) << Show("a", id).dump();
  ASSERT_NO_FATAL_FAILURE(StopAgent("a"));
  ASSERT_TRUE(WaitForStatus("c", id, "expired", seconds(15))) << Show("c", id).dump();
  EXPECT_EQ(Actions(Show("c", id)).back(), "expire");
  EXPECT_EQ(Act("c", id, "accept").status, 409) << "accepting an expired referral";
  EXPECT_EQ(CountAudit(AuditEntries(broker_->data_dir()), "referral.expire", id), 1);

  // A learns it when it comes back.
  ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
  ASSERT_TRUE(WaitForStatus("a", id, "expired")) << Show("a", id).dump();
  EXPECT_EQ(Show("a", id)["steps"], Show("c", id)["steps"]);
}

// ---------- 6. cancel ----------

TEST_F(ReferralTest, OnlyTheSenderCanCancel) {
  std::string id = Delivered(Payload("cancel me"));
  ASSERT_FALSE(id.empty());
  ASSERT_NO_FATAL_FAILURE(ExpectAct("b", id, "accept", "accepted"));
  Reply by_b = Act("b", id, "cancel");
  EXPECT_EQ(by_b.status, 403) << "the recipient cancelled: " << by_b.Describe();
  Reply a_accepts = Act("a", id, "start");
  EXPECT_EQ(a_accepts.status, 403)
      << "the sender took the recipient's step: " << a_accepts.Describe();
  EXPECT_EQ(Act("a", id, "purge").status, 409) << "purging before closure";

  ASSERT_NO_FATAL_FAILURE(ExpectAct("a", id, "cancel", "cancelled"));
  EXPECT_TRUE(WaitForStatus("b", id, "cancelled")) << Show("b", id).dump();
  EXPECT_EQ(Actions(Show("b", id)), (std::vector<std::string>{"deliver", "accept", "cancel"}));
  EXPECT_EQ(Show("a", id)["steps"], Show("b", id)["steps"]);
  EXPECT_EQ(Act("b", id, "start").status, 409) << "starting a cancelled referral";
}

TEST_F(ReferralTest, ACancelBeforeDeliveryMeansItIsNeverHandedOver) {
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  std::string id = Send("a", kOrgB, Payload("never mind"));
  ASSERT_FALSE(id.empty());
  ASSERT_NO_FATAL_FAILURE(ExpectAct("a", id, "cancel", "cancelled"));
  EXPECT_EQ(Actions(Show("a", id)), std::vector<std::string>{"cancel"});

  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  std::string later = Delivered(Payload("this one stands"));
  ASSERT_FALSE(later.empty());
  EXPECT_EQ(Ids("b", "inbox"), std::multiset<std::string>{later});
  json at_b = Show("b", id);
  EXPECT_TRUE(at_b.is_null() || (at_b["status"] == "cancelled" && at_b["payload"].is_null()))
      << "B got a readable cancelled referral: " << at_b.dump();
}

// ---------- 7. a third organization ----------

// A raw agent connection with an organization's own keys: what a modified agent could send.
class RawAgent {
 public:
  RawAgent(const std::string& dir, const BrokerProcess& broker) {
    auto id = Identity::Load(dir);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    auto broker_id = ReadPublicIdentity(broker.key_path());
    EXPECT_TRUE(broker_id.ok()) << broker_id.status().ToString();
    if (!id.ok() || !broker_id.ok()) return;
    id_ = std::move(id).value();
    auto s = MakeAgentSocket(ctx_, id_, broker_id->curve_public, broker.endpoint(), SocketLimits{});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) socket_ = std::move(s).value();
    socket_.set(zmq::sockopt::sndtimeo, 5000);
  }

  bool Send(const proto::Message& m) {
    std::string bytes = proto::EncodeEnvelope(m);
    try {
      return socket_.send(zmq::buffer(bytes), zmq::send_flags::none).has_value();
    } catch (const zmq::error_t&) {
      return false;
    }
  }

  // Messages until `stop` holds for one (returned), or the deadline; all of them are kept.
  std::optional<proto::Message> Until(const std::function<bool(const proto::Message&)>& stop,
                                      milliseconds deadline = seconds(10)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    while (std::chrono::steady_clock::now() < until) {
      if (zmq::poll(&item, 1, milliseconds(100)) <= 0) continue;
      zmq::message_t m;
      if (!socket_.recv(m, zmq::recv_flags::dontwait)) continue;
      auto msg =
          proto::DecodeEnvelope(std::string_view(static_cast<const char*>(m.data()), m.size()));
      if (!msg.ok()) continue;
      seen_.push_back(*msg);
      if (stop(*msg)) return *msg;
    }
    return std::nullopt;
  }

  std::optional<proto::ReferralPostAck> Post(const proto::ReferralPost& p) {
    if (!Send(p)) return std::nullopt;
    auto m = Until([&](const proto::Message& m) {
      auto* a = std::get_if<proto::ReferralPostAck>(&m);
      return a && a->seq == p.seq;
    });
    if (!m) return std::nullopt;
    return std::get<proto::ReferralPostAck>(*m);
  }

  const Identity& id() const { return id_; }
  const std::vector<proto::Message>& seen() const { return seen_; }

 private:
  zmq::context_t ctx_;
  Identity id_;
  zmq::socket_t socket_;
  std::vector<proto::Message> seen_;
};

TEST_F(ReferralTest, AThirdOrganizationCanNeitherReadNorChangeIt) {
  std::string canary = Canary();
  std::string id = Delivered(Payload(canary));
  ASSERT_FALSE(id.empty());
  std::optional<proto::ReferralBody> sealed = SealedBody(Dir("a"), id);
  ASSERT_TRUE(sealed.has_value()) << "cannot read A's copy of the sealed body";
  // A referral C must receive marks the point by which anything about the first would have come.
  std::string for_c = Send("a", kOrgC, Payload("for C"));
  ASSERT_TRUE(WaitForStatus("c", for_c, "delivered")) << Show("c", for_c).dump();

  // Through its own agent, C knows nothing of it.
  EXPECT_EQ(Ids("c", ""), std::multiset<std::string>{for_c});
  EXPECT_EQ(Agent("c").Get("/v1/referrals/" + id).status, 404);
  for (const char* action : {"accept", "decline", "cancel"}) {
    EXPECT_EQ(Act("c", id, action, {{"reason", "mine now"}}).status, 404) << action;
  }

  // A modified agent with C's keys asks the broker for everything and tries to change it.
  RawAgent raw(Dir("c"), *broker_);
  ASSERT_TRUE(raw.Send(proto::Hello{proto::kProtocolVersion, 0x5eed0000c0ffeeull, 0, 64, 0}));
  ASSERT_TRUE(
      raw.Until([](const proto::Message& m) { return std::holds_alternative<proto::Welcome>(m); })
          .has_value())
      << "no Welcome for C's keys";
  uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  uint64_t seq = 1;
  for (const char* action : {"accept", "decline", "complete", "cancel"}) {
    proto::TransitionBody t{id, action, kOrgC, now, "mine now"};
    auto ack = raw.Post(proto::ReferralPost{seq++, {}, SignBody(raw.id(), t)});
    ASSERT_TRUE(ack.has_value()) << "no ack for C's " << action;
    EXPECT_FALSE(ack->accepted) << "the broker let C " << action;
    EXPECT_EQ(ack->code, proto::PostRefusalCode::kUnknownReferral) << action << ": " << ack->reason;
  }
  // C signing a step in B's name, and re-sending A's sealed referral as its own.
  proto::TransitionBody forged{id, "complete", kOrgB, now, ""};
  auto ack = raw.Post(proto::ReferralPost{seq++, {}, SignBody(raw.id(), forged)});
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->accepted) << "a step forged in B's name was accepted";
  ack = raw.Post(proto::ReferralPost{seq++, SignBody(raw.id(), *sealed), {}});
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->accepted) << "C re-sent A's referral as its own";
  for (const proto::Message& m : raw.seen()) {
    auto* u = std::get_if<proto::ReferralUpdate>(&m);
    EXPECT_FALSE(u && u->id == id) << "the broker told C about A's referral to B";
  }

  // Nothing changed for the two parties, and C holds nothing of it on disk.
  EXPECT_EQ(Actions(Show("a", id)), std::vector<std::string>{"deliver"});
  EXPECT_EQ(Actions(Show("b", id)), std::vector<std::string>{"deliver"});
  EXPECT_EQ(FileContaining(Dir("c"), canary), "");
  std::vector<std::string> fragments = Fragments(sealed->ciphertext);
  EXPECT_EQ(FragmentsFound(Dir("c"), fragments) + FragmentsFound(Dir("c"), Hexed(fragments)), 0)
      << "C's data directory holds pieces of A's sealed payload for B";
}

// A modified agent with C's keys sends its own referrals to B: replayed posts change nothing,
// and a sealed payload altered after signing never reaches B as a referral.
TEST_F(ReferralTest, ReplayedAndTamperedPostsFromAPartnerChangeNothing) {
  auto b_pub = ReadPublicIdentity(Dir("b") + "/identity.pub");
  ASSERT_TRUE(b_pub.ok()) << b_pub.status().ToString();
  ASSERT_NO_FATAL_FAILURE(StopAgent("c"));  // the raw connection is C's only one
  RawAgent raw(Dir("c"), *broker_);
  ASSERT_TRUE(raw.Send(proto::Hello{proto::kProtocolVersion, 0x5eed0000c0ffeeull, 0, 64, 0}));
  ASSERT_TRUE(
      raw.Until([](const proto::Message& m) { return std::holds_alternative<proto::Welcome>(m); })
          .has_value())
      << "no Welcome for C's keys";
  uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  auto seal = [&](const std::string& notes) {
    proto::ReferralBody body;
    body.id = NewUuid();
    body.sender = kOrgC;
    body.recipient = kOrgB;
    body.urgency = "routine";
    body.created_ms = now;
    body.expires_ms = now + 3600'000;
    body.consent_scope = "intake";
    body.consent_by = "advocate K.";
    body.consent_at_ms = now;
    Status sealed =
        SealPayload(&body, Payload(notes).dump(), NewDataKey(), raw.id(), b_pub->box_public);
    EXPECT_TRUE(sealed.ok()) << sealed.ToString();
    return body;
  };

  // A referral posted three times (the same post twice, then under a new sequence number).
  proto::ReferralBody once = seal("sent three times");
  proto::Signed once_signed = SignBody(raw.id(), once);
  for (uint64_t seq : {1, 1, 2}) {
    auto ack = raw.Post(proto::ReferralPost{seq, once_signed, {}});
    ASSERT_TRUE(ack.has_value()) << "no ack for post " << seq;
    EXPECT_TRUE(ack->accepted) << ack->code << ": " << ack->reason;
  }
  // One whose ciphertext was altered after sealing (then signed: the broker cannot tell).
  proto::ReferralBody altered = seal("altered");
  altered.ciphertext[altered.ciphertext.size() / 2] ^= 0x01;
  auto ack = raw.Post(proto::ReferralPost{3, SignBody(raw.id(), altered), {}});
  ASSERT_TRUE(ack.has_value());
  // One sealed with C's keys but signed as if by A: refused by the broker.
  proto::ReferralBody as_a = seal("as A");
  as_a.sender = kOrgA;
  ack = raw.Post(proto::ReferralPost{4, SignBody(raw.id(), as_a), {}});
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->accepted) << "a referral claiming to be from A was accepted from C";
  // A good one last: once B has it, B has seen everything before it.
  proto::ReferralBody last = seal("last");
  ack = raw.Post(proto::ReferralPost{5, SignBody(raw.id(), last), {}});
  ASSERT_TRUE(ack.has_value() && ack->accepted);

  ASSERT_TRUE(WaitForStatus("b", last.id, "delivered")) << Show("b", last.id).dump();
  ASSERT_TRUE(WaitForStatus("b", once.id, "delivered")) << Show("b", once.id).dump();
  EXPECT_EQ(Ids("b", "inbox"), (std::multiset<std::string>{once.id, last.id}));
  EXPECT_EQ(Show("b", once.id)["payload"], Payload("sent three times"));
  EXPECT_EQ(Actions(Show("b", once.id)), std::vector<std::string>{"deliver"});
  EXPECT_EQ(CountAudit(AgentAudit("b"), "referral.received", once.id), 1);
  EXPECT_EQ(Agent("b").Get("/v1/referrals/" + altered.id).status, 404)
      << "B kept a referral whose payload does not open: " << Show("b", altered.id).dump();
  EXPECT_EQ(CountAudit(AuditEntries(broker_->data_dir()), "referral.sent", once.id), 1);

  // A step replayed: C cancels its own referral, then sends the same signed step again.
  proto::Signed cancel =
      SignBody(raw.id(), proto::TransitionBody{last.id, "cancel", kOrgC, now, ""});
  for (uint64_t seq : {6, 7}) {
    ack = raw.Post(proto::ReferralPost{seq, {}, cancel});
    ASSERT_TRUE(ack.has_value());
    EXPECT_TRUE(ack->accepted) << ack->code << ": " << ack->reason;
  }
  ASSERT_TRUE(WaitForStatus("b", last.id, "cancelled")) << Show("b", last.id).dump();
  EXPECT_EQ(Actions(Show("b", last.id)), (std::vector<std::string>{"deliver", "cancel"}));
}

// ---------- the command line ----------

TEST_F(ReferralTest, TheCommandLineClosesTheLoop) {
  std::string file = tmp_ / "payload.json";
  std::ofstream(file) << Payload("from the command line").dump();
  auto no_consent = Cli({"refer", "send", "--data", Dir("a"), "--to", kOrgB, "--payload", file});
  ASSERT_TRUE(no_consent.ok());
  EXPECT_EQ(no_consent->exit_code, 1) << no_consent->output;
  EXPECT_NE(no_consent->output.find("consent"), std::string::npos) << no_consent->output;

  auto sent = Cli({"refer", "send", "--data", Dir("a"), "--to", kOrgB, "--urgency", "emergency",
                   "--consent", "shelter intake", "--consent-by", "advocate J.", "--expires-in",
                   "2", "--payload", file, "--json"});
  ASSERT_TRUE(sent.ok());
  ASSERT_EQ(sent->exit_code, 0) << sent->output;
  json r = json::parse(sent->output, nullptr, false);
  ASSERT_TRUE(r.is_object()) << sent->output;
  std::string id = r.value("id", "");
  EXPECT_EQ(r["urgency"], "emergency");
  ASSERT_TRUE(WaitForStatus("b", id, "delivered")) << Show("b", id).dump();

  auto listed = Cli({"refer", "list", "--data", Dir("b"), "--inbox", "--status", "delivered"});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->exit_code, 0) << listed->output;
  EXPECT_NE(listed->output.find(id), std::string::npos) << listed->output;
  auto shown = Cli({"refer", "show", "--data", Dir("b"), id});
  ASSERT_TRUE(shown.ok());
  EXPECT_NE(shown->output.find("from the command line"), std::string::npos) << shown->output;

  auto no_reason = Cli({"refer", "decline", "--data", Dir("b"), id});
  ASSERT_TRUE(no_reason.ok());
  EXPECT_NE(no_reason->exit_code, 0) << no_reason->output;
  auto by_b = Cli({"refer", "cancel", "--data", Dir("b"), id});
  ASSERT_TRUE(by_b.ok());
  EXPECT_EQ(by_b->exit_code, 1) << "the recipient cancelled from the command line: "
                                << by_b->output;
  for (const char* action : {"accept", "start", "complete"}) {
    auto done = Cli({"refer", action, "--data", Dir("b"), id});
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(done->exit_code, 0) << action << ": " << done->output;
  }
  EXPECT_TRUE(WaitForStatus("a", id, "completed")) << Show("a", id).dump();
  auto outbox =
      Cli({"refer", "list", "--data", Dir("a"), "--outbox", "--status", "completed", "--json"});
  ASSERT_TRUE(outbox.ok());
  json list = json::parse(outbox->output, nullptr, false);
  ASSERT_TRUE(list.is_object()) << outbox->output;
  ASSERT_EQ(list["referrals"].size(), 1u) << outbox->output;
  EXPECT_EQ(list["referrals"][0]["id"], id);
}

// ---------- 7b. forward secrecy: after purge and rotation, nothing opens the case ----------

// The bullet "erasure that is not": a referral is sealed to the recipient's short-lived signed
// pre-key, not its long-term key. Once both parties purged it and the recipient rotated its
// pre-key past the grace period, every key held in every file of the broker and of both parties
// (every 32-byte window of every stored value, hex runs decoded, and the identity files' secret
// keys) fails to open the sealed body — while before the purge the same search finds the keys
// that do (so the search is not blind).
TEST_F(ReferralTest, AfterPurgeAndRotationNoKeyAnywhereOpensTheCase) {
  // B keeps a retired pre-key's secret for no time at all, so rotating destroys the old one.
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("b", {"--prekey-grace-hours", "0"}));
  Reply keys = Agent("b").Get("/v1/prekeys");
  ASSERT_EQ(keys.status, 200) << keys.Describe();
  uint64_t pre_key = keys.body["current"];
  ASSERT_NE(pre_key, 0u);
  // A has B's signed pre-key from the roster before it seals.
  ASSERT_TRUE(WaitFor([&] {
    Reply r = Agent("a").Get("/v1/prekeys");
    return r.status == 200 && r.body["roster"].value(kOrgB, uint64_t{0}) == pre_key;
  })) << Agent("a").Get("/v1/prekeys").raw;

  std::string canary = Canary();
  std::string id = Delivered(Payload(canary));
  ASSERT_FALSE(id.empty());
  std::optional<proto::ReferralBody> sealed = SealedBody(Dir("a"), id);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->pre_key_id, pre_key) << "sealed to B's long-term key, not its pre-key";
  EXPECT_TRUE(sealed->key_nonce.empty());
  for (const auto& [action, status] : std::vector<std::pair<std::string, std::string>>{
           {"accept", "accepted"}, {"start", "in_progress"}, {"complete", "completed"}}) {
    ASSERT_NO_FATAL_FAILURE(ExpectAct("b", id, action, status));
  }
  ASSERT_TRUE(WaitForStatus("a", id, "completed"));

  std::set<std::string> opening_keys;  // the raw keys the search found before the purge
  auto search = [&](const char* when) {
    std::map<std::string, std::vector<std::string>> found;
    size_t tried = 0;
    for (const std::string& who : {std::string("broker"), std::string("a"), std::string("b")}) {
      std::string dir = who == "broker" ? broker_->data_dir() : Dir(who);
      std::vector<std::string> keys = KeysHeldIn(dir);
      tried += keys.size();
      std::vector<std::string> opening = KeysThatOpen(*sealed, keys, &opening_keys);
      if (!opening.empty()) found[who] = opening;
      EXPECT_EQ(FileContaining(dir, canary), "") << who << " holds the payload in plaintext";
    }
    std::printf("%s: %zu keys tried across the broker, A and B; ", when, tried);
    for (const auto& [who, what] : found)
      std::printf("%s opens it (%s) ", who.c_str(), what[0].c_str());
    std::printf("%s\n", found.empty() ? "none opens the case" : "");
    return found;
  };
  auto stop_all = [&] {
    ASSERT_NO_FATAL_FAILURE(StopAgent("a"));
    ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
    ASSERT_TRUE(broker_->Stop().ok());
  };
  auto start_all = [&] {
    ASSERT_TRUE(broker_->Start().ok());
    ASSERT_NO_FATAL_FAILURE(StartAgent("a"));
    ASSERT_NO_FATAL_FAILURE(StartAgent("b", {"--prekey-grace-hours", "0"}));
  };

  // Control: before purging, the search finds what opens it at A (the data key) and at B
  // (the data key and the pre-key secret).
  ASSERT_NO_FATAL_FAILURE(stop_all());
  auto before = search("before purge");
  EXPECT_TRUE(before.count("a")) << "the search does not find A's data key: it proves nothing";
  EXPECT_TRUE(before.count("b")) << "the search does not find B's keys: it proves nothing";
  ASSERT_NO_FATAL_FAILURE(start_all());

  // Purge at both parties; B rotates its pre-key, and the old secret is destroyed.
  for (const char* who : {"a", "b"}) {
    Reply purged = Agent(who).Post("/v1/referrals/" + id + "/purge", json::object());
    ASSERT_EQ(purged.status, 200) << who << ": " << purged.Describe();
  }
  Reply rotated = Agent("b").Post("/v1/prekeys/rotate", json::object());
  ASSERT_EQ(rotated.status, 200) << rotated.Describe();
  EXPECT_EQ(rotated.body["destroyed"], 1) << rotated.raw;
  for (const json& held : rotated.body["held"]) EXPECT_NE(held.get<uint64_t>(), pre_key);

  ASSERT_NO_FATAL_FAILURE(stop_all());
  auto after = search("after purge and rotation");
  EXPECT_TRUE(after.empty()) << "a key still opens the case";
  // Below the stores: no file of the three (table files, write-ahead logs, manifests) holds a
  // piece of the keys that opened it before, raw or as hex.
  ASSERT_FALSE(opening_keys.empty());
  std::vector<std::string> pieces;
  for (const std::string& k : opening_keys) {
    for (const std::string& p : Fragments(k, 11)) pieces.push_back(p);
    for (const std::string& p : Fragments(ToHex(k), 22)) pieces.push_back(p);
  }
  for (const std::string& who : {std::string("broker"), std::string("a"), std::string("b")}) {
    std::string dir = who == "broker" ? broker_->data_dir() : Dir(who);
    for (const std::string& p : pieces) {
      EXPECT_EQ(FileContaining(dir, p), "")
          << who << " still holds a piece of a key that opened it";
    }
  }
  std::printf(
      "after purge and rotation: no file of the broker, A or B holds any of %zu pieces of "
      "the %zu keys that opened the case before\n",
      pieces.size(), opening_keys.size());
  ASSERT_NO_FATAL_FAILURE(start_all());
}

// ---------- 8. the broker never holds plaintext, and drops the ciphertext ----------

TEST_F(ReferralTest, TheBrokerNeverHoldsThePayloadAndDropsTheCiphertextOnceDelivered) {
  std::string canary = Canary();
  std::string notes = canary + " " + std::string(3000, '.');  // a long ciphertext to look for
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  std::string id = Send("a", kOrgB, Payload(notes));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return Show("a", id)["at_broker"] == true; })) << Show("a", id).dump();
  std::optional<proto::ReferralBody> sealed = SealedBody(Dir("a"), id);
  ASSERT_TRUE(sealed.has_value());
  std::vector<std::string> raw = Fragments(sealed->ciphertext), hex = Hexed(raw);
  ASSERT_GE(raw.size(), 50u);

  // While it waits for B: the broker holds the ciphertext, never the words. (This also shows
  // the search finds what is in compacted table files.)
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_NO_FATAL_FAILURE(Compact(broker_->data_dir()));
  EXPECT_EQ(FileContaining(broker_->data_dir(), canary), "");
  // The consent travels sealed too: the broker learns that it was given, and when, but not for
  // what or by whom (the recipient reads both: test 1).
  EXPECT_TRUE(sealed->consent_scope.empty() && sealed->consent_by.empty());
  EXPECT_FALSE(sealed->consent_sealed.empty());
  EXPECT_GT(sealed->consent_at_ms, 0u);
  EXPECT_EQ(FileContaining(broker_->data_dir(), "shelter and legal intake"), "");
  EXPECT_EQ(FileContaining(broker_->data_dir(), "advocate J."), "");
  EXPECT_GE(FragmentsFound(broker_->data_dir(), hex), static_cast<int>(hex.size()) * 3 / 4)
      << "the search does not find the ciphertext the broker holds; it would prove nothing";

  // Delivered: the broker's copy goes, and the broker itself erases it from its files (no
  // table file or write-ahead log keeps it; nobody compacts for it here).
  ASSERT_TRUE(broker_->Start().ok());
  ASSERT_NO_FATAL_FAILURE(StartAgent("b"));
  ASSERT_TRUE(WaitForStatus("a", id, "delivered")) << Show("a", id).dump();
  EXPECT_EQ(Show("b", id)["payload"], Payload(notes));
  auto delivered = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor(
      [&] {
        return FragmentsFound(broker_->data_dir(), raw) +
                   FragmentsFound(broker_->data_dir(), hex) ==
               0;
      },
      seconds(30)))
      << "the running broker's files still hold the ciphertext, e.g. "
      << FileContaining(broker_->data_dir(), hex[0]);
  std::printf("the broker's files held no piece of the ciphertext %.1f s after delivery\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - delivered).count());
  ASSERT_TRUE(broker_->Stop().ok());
  EXPECT_EQ(FileContaining(broker_->data_dir(), canary), "");
  EXPECT_EQ(FragmentsFound(broker_->data_dir(), raw) + FragmentsFound(broker_->data_dir(), hex), 0)
      << "the broker still holds pieces of the ciphertext after delivery, e.g. in "
      << FileContaining(broker_->data_dir(), hex[0]);
  for (const std::string& log : {broker_->LogPath(), tmp_ / "a.log", tmp_ / "b.log"}) {
    EXPECT_EQ(ReadFile(log).find(canary), std::string::npos) << log << " logs the payload";
  }
}

// ---------- 9. audit ----------

TEST_F(ReferralTest, AuditChainsVerifyAndATamperedEntryIsNamed) {
  std::string id = Delivered(Payload("audited"));
  ASSERT_FALSE(id.empty());
  for (const auto& [action, status] : std::vector<std::pair<std::string, std::string>>{
           {"accept", "accepted"}, {"start", "in_progress"}, {"complete", "completed"}}) {
    ASSERT_NO_FATAL_FAILURE(ExpectAct("b", id, action, status));
  }
  ASSERT_TRUE(WaitForStatus("a", id, "completed"));
  for (const std::string& dir : {broker_->data_dir(), Dir("a"), Dir("b")}) {
    auto v = Cli({"audit", "verify", "--data", dir});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->exit_code, 0) << dir << ": " << v->output;
  }
  std::vector<json> b_audit = AuditEntries(Dir("b"));
  for (const char* action : {"referral.received", "referral.deliver", "referral.accept",
                             "referral.start", "referral.complete"}) {
    EXPECT_EQ(CountAudit(b_audit, action, id), 1) << action;
  }
  std::vector<json> broker_audit = AuditEntries(broker_->data_dir());
  EXPECT_EQ(CountAudit(broker_audit, "referral.sent", id), 1);
  EXPECT_EQ(CountAudit(broker_audit, "referral.complete", id), 1);

  // Someone with B's disk rewrites what B did: "accept" becomes "decline".
  ASSERT_NO_FATAL_FAILURE(StopAgent("b"));
  uint64_t tampered = 0;
  {
    auto store = OpenStore(Dir("b"), /*read_only=*/false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::string key, value;
    Status s = (*store)->Scan(Cf::kAudit, "", "", [&](std::string_view k, std::string_view v) {
      json e = json::parse(v, nullptr, false);
      if (k.size() != 8 || !e.is_object() || e.value("action", "") != "referral.accept") {
        return true;
      }
      key = k;
      value = v;
      tampered = e["seq"].get<uint64_t>();
      return false;
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NE(tampered, 0u) << "B's audit log has no accept entry";
    size_t at = value.find("referral.accept");
    value.replace(at, 15, "referral.acxept");
    WriteBatch b;
    b.Put(Cf::kAudit, key, value);
    ASSERT_TRUE((*store)->Commit(std::move(b)).ok());
  }
  auto v = Cli({"audit", "verify", "--data", Dir("b")});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->exit_code, 1) << v->output;
  EXPECT_NE(v->output.find("BROKEN at entry " + std::to_string(tampered) + ":"), std::string::npos)
      << "entry " << tampered << " was altered; verify said: " << v->output;
  // The others are untouched.
  auto a = Cli({"audit", "verify", "--data", Dir("a")});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->exit_code, 0) << a->output;
}

// ---------- 10. purge ----------

TEST_F(ReferralTest, PurgeDestroysTheDataKeyOnThatAgent) {
  std::string id = Delivered(Payload("purge me"));
  ASSERT_FALSE(id.empty());
  for (const auto& [action, status] : std::vector<std::pair<std::string, std::string>>{
           {"accept", "accepted"}, {"start", "in_progress"}, {"complete", "completed"}}) {
    ASSERT_NO_FATAL_FAILURE(ExpectAct("b", id, action, status));
  }
  ASSERT_TRUE(WaitForStatus("a", id, "completed")) << Show("a", id).dump();
  // What would open the payload on each side: its data key, and the sealed body (whose key
  // either party can unseal again with its own box key).
  std::map<std::string, std::string> key;
  for (const char* name : {"a", "b"}) {
    std::optional<std::string> k = StoreGet(Dir(name), Cf::kReferrals, "k/" + id);
    ASSERT_TRUE(k.has_value()) << name << "'s store has no data key for " << id;
    ASSERT_EQ(k->size(), 32u);
    ASSERT_NE(FileContaining(Dir(name), *k), "") << "the search does not find the key";
    key[name] = *k;
  }
  std::optional<proto::ReferralBody> sealed = SealedBody(Dir("a"), id);
  ASSERT_TRUE(sealed.has_value());
  std::vector<std::string> sealed_key = Hexed(Fragments(sealed->sealed_key, 4));
  ASSERT_GE(sealed_key.size(), 8u);
  ASSERT_GE(FragmentsFound(Dir("b"), sealed_key), 1) << "the search does not find B's sealed copy";

  auto purged = Cli({"refer", "purge", "--data", Dir("b"), id});
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  ASSERT_EQ(purged->exit_code, 0) << purged->output;
  auto shown = Cli({"refer", "show", "--data", Dir("b"), id});
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->exit_code, 0) << shown->output;
  EXPECT_NE(shown->output.find("payload   unavailable"), std::string::npos) << shown->output;
  EXPECT_EQ(shown->output.find("purge me"), std::string::npos) << shown->output;
  json at_b = Show("b", id);
  EXPECT_TRUE(at_b["payload"].is_null()) << at_b.dump();
  EXPECT_EQ(at_b["purged"], true);
  EXPECT_EQ(at_b["status"], "completed") << "purging keeps the history";
  EXPECT_EQ(Actions(at_b), (std::vector<std::string>{"deliver", "accept", "start", "complete"}));
  // Purge is per agent: A, the sender, still reads its own copy.
  EXPECT_EQ(Show("a", id)["payload"], Payload("purge me"));

  auto by_a = Cli({"refer", "purge", "--data", Dir("a"), id});
  ASSERT_TRUE(by_a.ok()) << by_a.status().ToString();
  ASSERT_EQ(by_a->exit_code, 0) << by_a->output;
  EXPECT_TRUE(Show("a", id)["payload"].is_null()) << Show("a", id).dump();

  // On disk, while running and once stopped (files closed): no key, no sealed copy.
  for (bool stopped : {false, true}) {
    for (const char* name : {"a", "b"}) {
      if (stopped) {
        ASSERT_NO_FATAL_FAILURE(StopAgent(name));
      }
      std::string where = stopped ? " (stopped)" : " (running)";
      EXPECT_EQ(StoreGet(Dir(name), Cf::kReferrals, "k/" + id), std::nullopt) << name;
      std::string holder = FileContaining(Dir(name), key[name]);
      EXPECT_EQ(holder, "") << name << where << ": the purged data key is still in " << holder;
      EXPECT_EQ(FragmentsFound(Dir(name), sealed_key), 0)
          << name << where << ": the sealed data key is still on disk, in "
          << FileContaining(Dir(name), sealed_key[0]);
    }
  }
}

// A referral that the broker refuses (here: its recipient was revoked while the sender was
// away) goes nowhere; its sender must still be able to close it and destroy its payload.
TEST_F(ReferralTest, AReferralTheBrokerRefusedCanStillBePurgedBySender) {
  ASSERT_TRUE(broker_->Stop().ok());
  std::string id = Send("a", kOrgB, Payload("to a revoked partner"));
  ASSERT_FALSE(id.empty());
  Agent("a").Signal(SIGSTOP);  // it cannot reconnect before B's revocation is in place
  Status started = broker_->Start();
  Status revoked = started.ok() ? broker_->Revoke(kOrgB) : started;
  Agent("a").Signal(SIGCONT);
  ASSERT_TRUE(revoked.ok()) << revoked.ToString();
  ASSERT_TRUE(WaitForStatus("a", id, "refused")) << Show("a", id).dump();
  EXPECT_NE(Show("a", id).value("refused", "").find("no enrolled organization"), std::string::npos)
      << Show("a", id).dump();

  Reply purge = Act("a", id, "purge");
  if (purge.status == 409) {  // perhaps it must be cancelled first: then that must work
    Reply cancel = Act("a", id, "cancel");
    EXPECT_EQ(cancel.status, 200) << cancel.Describe();
    WaitFor([&] { return (purge = Act("a", id, "purge")).status == 200; }, seconds(5));
  }
  EXPECT_EQ(purge.status, 200) << "a refused referral's payload can never be purged: "
                               << purge.Describe() << "\n"
                               << Show("a", id).dump();
  EXPECT_TRUE(Show("a", id)["payload"].is_null()) << Show("a", id).dump();
}

// ---------- bad input ----------

TEST_F(ReferralTest, BadRequestsAreRefusedAndQueueNothing) {
  auto refused = [&](const std::string& what, const std::string& body, int status) {
    Reply r = Agent("a").Send("POST", "/v1/referrals", body, "Bearer " + Agent("a").token());
    EXPECT_EQ(r.status, status) << what << ": " << r.Describe();
    EXPECT_TRUE(r.body.is_object() && r.body["error"].is_object()) << what << ": " << r.raw;
  };
  json no_consent = Request(kOrgB, Payload("x"));
  no_consent.erase("consent");
  json consent_without_by = Request(kOrgB, Payload("x"));
  consent_without_by["consent"].erase("by");
  json no_alias = Request(kOrgB, Payload("x"));
  no_alias["payload"].erase("alias");
  json bad_urgency = Request(kOrgB, Payload("x"));
  bad_urgency["urgency"] = "whenever";

  refused("unknown recipient", Request(kOrgX, Payload("x")).dump(), 404);
  refused("to oneself", Request(kOrgA, Payload("x")).dump(), 404);
  refused("no consent", no_consent.dump(), 400);
  refused("consent without who obtained it", consent_without_by.dump(), 400);
  refused("no alias", no_alias.dump(), 400);
  refused("bad urgency", bad_urgency.dump(), 400);
  refused("oversize payload", Request(kOrgB, Payload(std::string(70 << 10, 'n'))).dump(), 413);
  json past = Request(kOrgB, Payload("x"));
  past["expires_in_hours"] = -1;
  refused("expiry in the past", past.dump(), 400);
  json far = Request(kOrgB, Payload("x"));
  far["expires_in_hours"] = 1e300;
  refused("expiry beyond any clock", far.dump(), 400);
  json consent_later = Request(kOrgB, Payload("x"));
  uint64_t tomorrow = static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count()) +
                      24 * 3600 * 1000;
  consent_later["consent"]["at_ms"] = tomorrow;
  refused("consent obtained tomorrow", consent_later.dump(), 400);
  refused("malformed JSON", "{\"to\": \"" + kOrgB + "\", \"payload\": {", 400);
  refused("not an object", "[1, 2, 3]", 400);

  // Nothing was queued, sent or audited, and nothing reached B.
  EXPECT_TRUE(Ids("a", "").empty());
  EXPECT_TRUE(AgentAudit("a").empty());
  EXPECT_EQ(AgentStatus(Agent("a"))["sync"]["referral_queue"], 0);
  std::string good = Delivered(Payload("after the bad ones"));
  ASSERT_FALSE(good.empty());
  EXPECT_EQ(Ids("b", "inbox"), std::multiset<std::string>{good});
  EXPECT_EQ(Agent("b").Get("/v1/referrals?box=sideways").status, 400);
  EXPECT_EQ(Agent("b").Get("/v1/referrals?status=lost").status, 400);
  // An action on a referral that does not exist, or that is not one.
  EXPECT_EQ(Act("b", "00000000-0000-4000-8000-000000000000", "accept").status, 404);
  EXPECT_EQ(Act("b", good, "deliver").status, 404) << "'deliver' is not a route";
  EXPECT_EQ(Act("b", good, "accept", json::array()).status, 400);
  EXPECT_EQ(Agent("b")
                .Send("POST", "/v1/referrals/" + good + "/decline",
                      "{reason:", "Bearer " + Agent("b").token())
                .status,
            400);
  EXPECT_EQ(Act("b", good, "decline", {{"reason", std::string(501, 'r')}}).status, 400);
  EXPECT_EQ(StatusOf("b", good), "delivered") << "a refused request changed the referral";
}

}  // namespace
}  // namespace sb::testing

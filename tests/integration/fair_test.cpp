// Fair sharing of the broker with real processes (issue 14, deliverable 3): one partner (A, a
// raw protocol client with its enrolled keys) pushes valid edits of its own organization record
// as fast as the broker accepts them, while partner B (a real agent) makes one edit a second
// through its local API; the test measures how long each of B's edits takes to show in partner
// C's agent (a real agent, polled through its local API).
//
// The latencies are a figure, printed and recorded as test properties (median, max, A's
// accepted rate); the only assertion is correctness: every one of B's edits reaches C. No
// timing threshold: the machine running the suite may be slow or busy.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "crypto/identity.h"
#include "tests/integration/raw_client.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

const std::string kOrgA = "a0a0a0a0-0000-4000-8000-0000000000aa";  // floods
const std::string kOrgB = "b0b0b0b0-0000-4000-8000-0000000000bb";  // edits once a second
const std::string kOrgC = "c0c0c0c0-0000-4000-8000-0000000000cc";  // watches

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string ServiceId(unsigned n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "b0b0b0b0-5e00-4000-8000-%012x", n);
  return buf;
}

double Seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// What A's flood did.
struct FloodResult {
  uint64_t pushed = 0, accepted = 0, refused = 0;
  uint64_t pushes_refused = 0;  // whole pushes refused (a quota)
  std::string refusal;          // the first such refusal's message
  double seconds = 0;
};

// Pushes edits of A's own organization record (a ~1 KiB description each) for `duration`, as
// fast as the broker acknowledges them: at most `in_flight` pushes of `per_push` edits
// unanswered at a time, like an agent with a deep outbox.
FloodResult Flood(RawClient& a, std::chrono::seconds duration, unsigned records,
                  const std::atomic<bool>& stop) {
  constexpr size_t kPerPush = 32, kInFlight = 8;
  FloodResult r;
  Record state(a.org(), "organization");
  std::vector<Record> services;  // A's services the flood edits in turn
  uint16_t counter = 0;
  uint64_t last_ms = 0;
  auto stamp = [&] {
    uint64_t now = NowMs();
    if (now != last_ms) counter = 0;
    last_ms = now;
    return Hlc::Make(now, ++counter);
  };
  auto write = [&](const std::string& field, const std::string& value) {
    Record d = state.WriteDelta(field, Value(value), a.replica(), stamp());
    state.Join(d);
    return d;
  };
  // The record first, with its owner.
  {
    Record d = write("name", "Flooding Partner");
    d.Join(write("owner", a.org()));
    proto::Push p{1, {proto::PushItem{1, a.Signed(Delta{a.replica(), stamp(), {d}})}}};
    if (!a.Send(p) || !a.Expect<proto::PushAck>(10s)) return r;
  }
  std::string filler(1000, 'x');
  for (size_t i = 0; i < filler.size(); ++i) filler[i] = static_cast<char>('a' + (i * 7) % 26);
  for (unsigned i = 0; i < records; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "a0a0a0a0-5e00-4000-8000-%012x", i);
    services.emplace_back(id, "service");
  }
  auto edit_service = [&](unsigned i, const std::string& text) {
    Record& svc = services[i];
    Record d(svc.id(), "service");
    if (svc.fields().empty()) {
      for (auto [field, value] : {std::pair<std::string, std::string>{"owner", a.org()},
                                  {"organization_id", a.org()},
                                  {"name", "Flood service " + std::to_string(i)}}) {
        Record w = svc.WriteDelta(field, Value(value), a.replica(), stamp());
        svc.Join(w);
        d.Join(w);
      }
    }
    Record w = svc.WriteDelta("description", Value(text), a.replica(), stamp());
    svc.Join(w);
    d.Join(w);
    return d;
  };
  uint64_t batch = 1, outbox = 1;
  size_t unanswered = 0;
  auto start = Steady::now();
  auto until = start + duration;
  while (Steady::now() < until && !stop) {
    while (unanswered < kInFlight) {
      proto::Push p{++batch, {}};
      for (size_t i = 0; i < kPerPush; ++i) {
        std::string text = "edit " + std::to_string(outbox) + " " + filler;
        Record d = records == 0 ? write("description", text)
                                : edit_service(static_cast<unsigned>(outbox % records), text);
        p.items.push_back(proto::PushItem{++outbox, a.Signed(Delta{a.replica(), stamp(), {d}})});
      }
      if (!a.Send(p)) return r;
      r.pushed += kPerPush;
      ++unanswered;
    }
    std::optional<proto::Message> m = a.Recv(1s);
    if (!m) continue;
    if (auto* ack = std::get_if<proto::PushAck>(&*m)) {
      --unanswered;
      for (const proto::PushResult& res : ack->results) (res.accepted ? r.accepted : r.refused)++;
    } else if (auto* refusal = std::get_if<proto::Refusal>(&*m)) {
      --unanswered;  // a refused push (a quota): the edits are not logged; keep going
      if (r.pushes_refused++ == 0) r.refusal = refusal->message;
    }
  }
  r.seconds = Seconds(Steady::now() - start);
  return r;
}

class FairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = BrokerProcess::Create(tmp_ / "broker");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    // SB_FAIR_LOG_BYTES: the broker's --log-bytes-per-hour (default: the broker's default).
    std::vector<std::string> args;
    if (const char* quota = std::getenv("SB_FAIR_LOG_BYTES")) {
      args = {"--log-bytes-per-hour", quota};
    }
    ASSERT_TRUE(broker_->Start(args).ok());
    for (auto [name, org] : {std::pair{"a", kOrgA}, {"b", kOrgB}, {"c", kOrgC}}) {
      ASSERT_TRUE(InitDataDir(tmp_ / name, org).ok());
      ASSERT_TRUE(broker_->Enroll(tmp_ / name, "partner").ok());
    }
    for (auto [name, slot] : {std::pair{"b", &b_}, {"c", &c_}}) {
      auto agent = StartSyncingAgent(tmp_ / name, *broker_);
      ASSERT_TRUE(agent.ok()) << agent.status().ToString();
      *slot = std::move(agent).value();
      ASSERT_TRUE(WaitUntilSyncReady(**slot));
    }
    Result<Identity> a = Identity::Load(tmp_ / "a");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    Result<PublicIdentity> bk = ReadPublicIdentity(broker_->key_path());
    ASSERT_TRUE(bk.ok());
    a_ = std::make_unique<RawClient>(ctx_, *a, bk->curve_public, broker_->endpoint());
    ASSERT_TRUE(a_->Join());
  }

  void TearDown() override {
    if (!HasFailure()) return;
    std::cerr << "--- broker.log ---\n" << Tail(broker_->LogPath(), 3000) << "\n";
    std::cerr << "--- c.log ---\n" << Tail(tmp_ / "c.log", 3000) << "\n";
  }

  TempDir tmp_;
  zmq::context_t ctx_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<AgentProcess> b_, c_;
  std::unique_ptr<RawClient> a_;
};

TEST_F(FairTest, AnotherPartnersEditsReachOthersWhileOnePartnerFloods) {
  // B's organization record, and C seeing it, before the flood.
  Reply put = b_->Put("/v1/records/" + kOrgB,
                      {{"kind", "organization"}, {"fields", {{"name", "Steady Partner"}}}});
  ASSERT_EQ(put.status, 200) << put.Describe();
  ASSERT_TRUE(WaitForValue(*c_, kOrgB, "name", "Steady Partner", 20s));

  // SB_FAIR_SECONDS (default 10): how long A floods; B edits once a second meanwhile.
  const char* env = std::getenv("SB_FAIR_SECONDS");
  const unsigned kEdits = env && std::atoi(env) > 0 ? static_cast<unsigned>(std::atoi(env)) : 10;
  const auto flood_for = std::chrono::seconds(kEdits);
  std::atomic<bool> stop{false};
  FloodResult flood;
  // SB_FAIR_RECORDS (default 0): A's flood edits its organization record (0) or this many
  // services of its own in turn.
  const char* records_env = std::getenv("SB_FAIR_RECORDS");
  unsigned records = records_env ? static_cast<unsigned>(std::atoi(records_env)) : 0;
  // SB_FAIR_FLOOD=0: no flood (the baseline).
  const char* flood_env = std::getenv("SB_FAIR_FLOOD");
  bool flooding = !(flood_env && std::string(flood_env) == "0");
  std::thread flooder([&] {
    if (flooding) flood = Flood(*a_, flood_for, records, stop);
  });
  // SB_FAIR_PAUSE_C=N: C's agent is stopped (SIGSTOP) for N seconds from 2 s into the flood,
  // as a slow or busy agent would be; it then has the flood to catch up with, and B's edits
  // made meanwhile are behind it. The figure: how long after C resumes all of them show.
  const char* pause_env = std::getenv("SB_FAIR_PAUSE_C");
  int pause_s = pause_env ? std::atoi(pause_env) : 0;
  Steady::time_point resumed{};
  std::thread pauser([&] {
    if (pause_s <= 0) return;
    std::this_thread::sleep_for(2s);  // the experiment's schedule, not a synchronization
    c_->Signal(SIGSTOP);
    std::this_thread::sleep_for(std::chrono::seconds(pause_s));
    c_->Signal(SIGCONT);
    resumed = Steady::now();
  });

  // B: one new service a second; C: polled for each until it shows.
  std::vector<Steady::time_point> made(kEdits), seen(kEdits);
  std::vector<bool> arrived(kEdits, false);
  std::atomic<unsigned> made_count{0};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::thread watcher([&] {
    auto deadline = Steady::now() + 180s;
    while (Steady::now() < deadline) {
      unsigned n = made_count.load();
      bool all = n == kEdits;
      for (unsigned i = 0; i < n; ++i) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (arrived[i]) continue;
        }
        json f = FieldOf(*c_, ServiceId(i), "name");
        if (f.is_object() && f["value"] == "Service " + std::to_string(i)) {
          std::lock_guard<std::mutex> lock(mu);
          arrived[i] = true;
          seen[i] = Steady::now();
        } else {
          all = false;
        }
      }
      if (all) break;
      std::this_thread::sleep_for(20ms);  // a polling interval, not a synchronization
    }
    done = true;
  });
  auto next = Steady::now() + 500ms;
  for (unsigned i = 0; i < kEdits; ++i) {
    std::this_thread::sleep_until(next);  // the edits' pace, not a synchronization
    next += 1s;
    {
      std::lock_guard<std::mutex> lock(mu);
      made[i] = Steady::now();
    }
    Reply r = b_->Put(
        "/v1/records/" + ServiceId(i),
        {{"kind", "service"},
         {"fields", {{"organization_id", kOrgB}, {"name", "Service " + std::to_string(i)}}}});
    EXPECT_EQ(r.status, 200) << r.Describe();
    made_count = i + 1;
  }
  flooder.join();
  pauser.join();
  watcher.join();

  std::vector<double> latencies;
  for (unsigned i = 0; i < kEdits; ++i) {
    EXPECT_TRUE(arrived[i]) << "B's edit " << i << " never reached C";
    if (arrived[i]) latencies.push_back(Seconds(seen[i] - made[i]));
  }
  std::sort(latencies.begin(), latencies.end());
  double median = latencies.empty() ? 0 : latencies[latencies.size() / 2];
  double max = latencies.empty() ? 0 : latencies.back();
  double rate = flood.seconds > 0 ? flood.accepted / flood.seconds : 0;
  json st = broker_->ApiStatus();
  std::printf(
      "fair: A pushed %llu edits, %llu accepted in %.1f s (%.0f/s), %llu refused, %llu pushes "
      "refused%s%s; B's edits at C: median %.2f s, max %.2f s (%zu of %u); broker log head "
      "%llu, quota refusals %llu, coalesced %llu\n",
      static_cast<unsigned long long>(flood.pushed),
      static_cast<unsigned long long>(flood.accepted), flood.seconds, rate,
      static_cast<unsigned long long>(flood.refused),
      static_cast<unsigned long long>(flood.pushes_refused), flood.refusal.empty() ? "" : ": ",
      flood.refusal.c_str(), median, max, latencies.size(), kEdits,
      static_cast<unsigned long long>(st.value("log_head", uint64_t{0})),
      static_cast<unsigned long long>(st.value("quota_refusals", uint64_t{0})),
      static_cast<unsigned long long>(st.value("coalesced", uint64_t{0})));
  if (pause_s > 0) {
    double drain = 0;
    unsigned behind = 0;
    for (unsigned i = 0; i < kEdits; ++i) {
      if (arrived[i] && made[i] < resumed) {
        ++behind;
        drain = std::max(drain, Seconds(seen[i] - resumed));
      }
    }
    std::printf(
        "fair: C stopped %d s; the %u edits of B made before it resumed all showed %.2f s "
        "after it resumed\n",
        pause_s, behind, drain);
    RecordProperty("b_to_c_after_resume_ms", static_cast<int>(drain * 1000));
  }
  RecordProperty("flood_accepted_per_s", static_cast<int>(rate));
  RecordProperty("b_to_c_median_ms", static_cast<int>(median * 1000));
  RecordProperty("b_to_c_max_ms", static_cast<int>(max * 1000));
  if (flooding) {
    EXPECT_GT(flood.accepted, 0u) << "A's flood was never accepted";
  }
  if (flood.pushes_refused > 0) {  // only ever for the log quota, and saying so
    EXPECT_NE(flood.refusal.find("of log within the last hour"), std::string::npos)
        << flood.refusal;
  }
}

}  // namespace
}  // namespace sb::testing

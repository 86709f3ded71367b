// What the network benchmarks share (bench sync, bench referrals): a broker and enrolled
// agents in one process over real CURVE and ZAP on 127.0.0.1, each with its own store in a
// temporary directory; the raw CURVE baseline; polling and statistics helpers.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agents/agent.h"
#include "broker/broker_server.h"
#include "crypto/identity.h"

namespace sb::bench {

using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline constexpr int kParallel = 8;  // threads opening and closing agents

double Seconds(Steady::time_point a, Steady::time_point b);
// A new directory under `dir` (empty: $TMPDIR or /tmp); "" when it cannot be made.
std::string TempDir(const std::string& dir, const char* tag);
std::string Uuid(uint32_t prefix, uint64_t n);
std::string OrgId(size_t agent);

// Polls `pred` every `every` until it holds or `timeout` passes.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout, std::chrono::microseconds every = 1ms) {
  auto deadline = Steady::now() + timeout;
  while (!pred()) {
    if (Steady::now() > deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

// Runs fn(i) for i in [0, n) on up to `threads` threads.
template <typename Fn>
void ParallelFor(size_t n, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads && static_cast<size_t>(t) < n; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

// One agent of the network: its keys, its store and the agent composed on the store
// (agents/agent.h). The agent goes before the store it uses.
struct Node {
  Identity id;
  ReplicaId replica = 0;
  std::string path;
  std::unique_ptr<Store> store;
  std::unique_ptr<Agent> agent;

  LocalDirectory* local() const { return agent->directory(); }
  ReferralBook* referrals() const { return agent->referrals(); }  // with Start(n, true)
  SyncClient* client() const { return agent->sync(); }            // null while offline
  bool Ready() const { return client() && client()->status().state == "ready"; }
  bool Shows(const std::string& record, const std::string& text) const {
    return local()->Read([&](const Directory& d) {
      const Record* r = d.Find(record);
      if (!r) return false;
      std::optional<Value> v = r->Displayed("description");
      return v && *v == Value(text);
    });
  }
};

// A broker on its own thread and enrolled agents, all in this process. The destructor stops
// the clients, then the broker, and removes every database.
class Network {
 public:
  Network(std::string dir, Clock* clock) : dir_(std::move(dir)), clock_(clock) {}
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Keys for the broker and `agents` partners, enrollment, the broker, the agents' stores and
  // the agents on them, each with a referral book if `referrals`. Nothing is connected yet.
  Status Start(size_t agents, bool referrals = false);
  // Connects `a` to the broker anew (a new sync client, started).
  Status Connect(Node& a);
  Node& agent(size_t i) { return *agents_[i]; }
  size_t size() const { return agents_.size(); }
  // GET /v1/status on the broker's local API; an empty object when it does not answer.
  nlohmann::json BrokerStatus();
  uint64_t LogHead() { return BrokerStatus().value("log_head", uint64_t{0}); }

 private:
  Status OpenAgent(Node& a, bool referrals);

  std::string dir_;  // where temporary databases go; empty: $TMPDIR or /tmp
  Clock* clock_;
  std::string broker_path_;
  Identity broker_id_;
  std::string token_;
  std::unique_ptr<Store> broker_store_;
  std::unique_ptr<BrokerServer> server_;
  std::thread loop_;
  std::unique_ptr<httplib::Client> api_;
  std::vector<std::unique_ptr<Node>> agents_;
};

// Messages/s from `dealers` DEALERs (each its own key and thread) to one ROUTER over CURVE
// with ZAP, `size` bytes each; the ROUTER acknowledges each DEALER's every `batch` messages
// and a DEALER waits for that before sending on — one Push batch in flight per agent, as in
// the sync protocol.
double RawCurve(size_t size, int dealers = 1, uint64_t batch = 128);

// RocksDB with default options, `batch` Puts of `value_size` bytes per WriteBatch with
// WriteOptions.sync, `writers` threads making `puts` in all: puts/s (-1 on failure).
double RawSyncedPuts(const std::string& dir, int writers, uint64_t puts, size_t value_size,
                     uint64_t batch = 1);

double Median(std::vector<double> v);
// The nearest-rank percentile of `sorted`.
double Percentile(const std::vector<double>& sorted, double p);
// With thousands separators when `decimals` is 0.
std::string Fmt(double v, int decimals = 0);

}  // namespace sb::bench

// Every agent is a partner organization enrolled (through a Roster on the broker's store)
// before the broker starts; the writer owns the records it edits, so the broker runs its full
// ingest checks (signature, schema, ownership, causal context) on every delta. The broker's
// per-organization rate limit is lifted so the figures measure the pipeline, not the limiter.
//
// Throughput: `writers` threads call LocalDirectory::Apply (one edit each, durable) on one
// agent; the clock runs from the first edit until the broker's log_head (GET /v1/status on its
// local API) has grown by `updates`. Baselines, same run: (a) a DEALER streaming messages of
// the delta's size to a ROUTER, both made by the same CURVE socket factories with ZAP
// enforcing the key, the ROUTER acknowledging every 128 messages and the DEALER waiting for
// that before sending on — one Push batch in flight, as in the sync protocol; (b) RocksDB with
// default options, one Put per WriteBatch with WriteOptions.sync, `writers` threads.
//
// Latency: with `agents` agents connected, the writer makes two series of `probes` edits; for
// each edit, the time from the writer's Apply call until each other agent's LocalDirectory
// shows the new value. Isolated edits wait until the broker has recorded every agent's
// acknowledgement of the previous edit; back-to-back edits start as soon as every agent shows
// the previous one. Each edit follows a random 0-50 ms pause, so edits fall at any phase of
// the agents' 50 ms poll loops.
//
// Throughput ratios pair each run's figure with the baselines measured right after it, and
// report the median: fsync latency on a shared disk drifts from one second to the next.
//
// Catch-up: one agent's SyncClient stops; the writer makes `missed` edits (one Apply each);
// a new SyncClient reconnects and receives them. Its SyncStatus.bytes_in is divided by
// `missed`; a reconnect that missed nothing gives the fixed part (Welcome and roster).
#include "bench/sync_bench.h"

#include "bench/internal/bench_net.h"

#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "agents/local_directory.h"
#include "agents/sync_client.h"
#include "broker/broker_server.h"
#include "broker/roster.h"
#include "conflict/codec.h"
#include "conflict/edit.h"
#include "crypto/identity.h"
#include "transport/sockets.h"
#include "transport/zap.h"

namespace sb::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kRecords = 256;  // seeded records: one outbox entry, one log entry

// Agent `agent`'s records: each pushing agent edits its own.
std::string RecordId(uint64_t n, uint32_t agent = 0) {
  return Uuid(agent, n % kRecords);
}

std::string Text(const std::string& tag, uint64_t i) {
  return "Intake line, weekdays 9:00-17:00; after hours call the 24/7 hotline. " + tag + " #" +
         std::to_string(i);
}

RecordEdit Describe(uint64_t record, const std::string& text, uint32_t agent = 0) {
  return RecordEdit{RecordId(record, agent), "phone", {{"description", text}}, {}, false, false};
}

// `kRecords` new phone records owned by `org`.
std::vector<RecordEdit> SeedEdits(const std::string& org, uint32_t agent = 0) {
  std::vector<RecordEdit> seed;
  for (uint64_t i = 0; i < kRecords; ++i) {
    seed.push_back(RecordEdit{RecordId(i, agent),
                              "phone",
                              {{"number", std::string("+14155550100")}, {"owner", org}},
                              {},
                              false,
                              false});
  }
  return seed;
}

// Creates the seed records at `a` (one Apply, one log entry) and waits until the broker has
// them. Returns the log head then, or 0 on failure.
uint64_t Seed(Network& net, Node& a) {
  if (!a.local()->Apply(SeedEdits(a.id.pub.org), "bench").ok()) return 0;
  uint64_t head = 0;
  WaitFor([&] { return (head = net.LogHead()) >= 1; }, 30'000ms);
  return head;
}

// The encoded size of one update's delta, as the agent's outbox holds it.
size_t DeltaSize(Node& a, Clock* clock) {
  Hlc stamp = Hlc::Make(clock->NowMillis(), 0);
  RecordEdit probe = Describe(1, Text("size", 0));
  auto plan = a.local()->Read([&](const Directory& d) {
    return PlanEdit(FieldSchema::Hsds(), d.Find(probe.id), probe, a.replica, stamp);
  });
  return plan.ok() ? EncodeDelta(Delta{a.replica, stamp, {plan->delta}}).size() : 0;
}

// Runs `o.writers` threads that together call fn(i) for i in [0, o.updates); returns calls/s,
// or -1 when a call failed.
template <typename Fn>
double Writers(const SyncBenchOptions& o, Fn fn) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  auto t0 = Steady::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.writers; ++t) {
    threads.emplace_back([&] {
      for (uint64_t i; (i = next++) < o.updates;) {
        if (!fn(i)) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  double rate = o.updates / Seconds(t0, Steady::now());
  return failed ? -1 : rate;
}

// The same edits on an agent with sync off: LocalDirectory::Apply alone, in its own store.
double ApplyOnly(const SyncBenchOptions& o, Clock* clock, const std::string& org) {
  std::string dir = TempDir(o.dir, "apply");
  StoreOptions so;
  so.create_if_missing = true;
  auto store = Store::Open(dir, so);
  if (!store.ok()) return -1;
  auto local = LocalDirectory::Open(store->get(), clock, {.replica = 7, .max_skew_ms = 60'000});
  double rate = -1;
  if (local.ok() && (*local)->Apply(SeedEdits(org), "bench").ok()) {
    rate = Writers(o, [&](uint64_t i) {
      return (*local)->Apply({Describe(i, Text("update", i))}, "bench").ok();
    });
  }
  if (local.ok()) local->reset();
  store->reset();
  fs::remove_all(dir);
  return rate;
}

struct ThroughputRun {
  double e2e = -1;        // updates/s into the broker's durable log
  double local = 0;       // the writers' own durable edits/s meanwhile
  double per_push = 0;    // updates per Push batch
  double per_commit = 0;  // pushes per broker commit (group commit across sessions)
  size_t delta_bytes = 0;
};

ThroughputRun Throughput(const SyncBenchOptions& o, Clock* clock, std::string* error) {
  ThroughputRun run;
  Network net(o.dir, clock);
  size_t pushers = static_cast<size_t>(std::max(1, o.pushers));
  Status st = net.Start(pushers);
  for (size_t i = 0; st.ok() && i < pushers; ++i) st = net.Connect(net.agent(i));
  if (!st.ok()) {
    *error = st.ToString();
    return run;
  }
  for (size_t i = 0; i < pushers; ++i) {
    Node& a = net.agent(i);
    if (!WaitFor([&] { return a.Ready(); }, 30'000ms)) {
      *error =
          "agent " + std::to_string(i) + " did not connect: " + a.client()->status().last_error;
      return run;
    }
  }
  // Each agent creates its records (one Apply, one log entry each); then all are logged.
  for (size_t i = 0; i < pushers; ++i) {
    Node& a = net.agent(i);
    Result<std::vector<EditOutcome>> seeded =
        a.local()->Apply(SeedEdits(a.id.pub.org, static_cast<uint32_t>(i)), "bench");
    if (!seeded.ok()) {
      *error = "seeding failed at agent " + std::to_string(i) + ": " + seeded.status().ToString();
      return run;
    }
  }
  uint64_t head0 = 0;
  if (!WaitFor([&] { return (head0 = net.LogHead()) >= pushers; }, 60'000ms, 2ms)) {
    *error = "the seed records did not all reach the broker (log head " + std::to_string(head0) +
             " of " + std::to_string(pushers) + "): " + net.agent(0).client()->status().last_error;
    return run;
  }
  json before = net.BrokerStatus();
  uint64_t pushes0 = before.value("pushes", uint64_t{0});
  uint64_t commits0 = before.value("group_commits", uint64_t{0});
  auto t0 = Steady::now();
  // `writers` threads per agent, every agent at once.
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (size_t a = 0; a < pushers; ++a) {
    for (int t = 0; t < o.writers; ++t) {
      threads.emplace_back([&, a] {
        Node& w = net.agent(a);
        for (uint64_t i; (i = next++) < o.updates;) {
          if (!w.local()
                   ->Apply({Describe(i, Text("update", i), static_cast<uint32_t>(a))}, "bench")
                   .ok()) {
            failed = true;
          }
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  double local = failed ? -1 : o.updates / Seconds(t0, Steady::now());
  bool synced = WaitFor([&] { return net.LogHead() >= head0 + o.updates; }, 120'000ms, 2ms);
  auto t1 = Steady::now();
  json status = net.BrokerStatus();
  if (local < 0 || !synced || status.value("rejected", 0) != 0 ||
      status.value("throttled", 0) != 0) {
    *error = "updates were lost or refused: " + status.dump() + " " +
             net.agent(0).client()->status().last_error;
    return run;
  }
  run.e2e = o.updates / Seconds(t0, t1);
  run.local = local;
  uint64_t pushes = status.value("pushes", uint64_t{0}) - pushes0;
  uint64_t commits = status.value("group_commits", uint64_t{0}) - commits0;
  run.per_push = pushes ? static_cast<double>(o.updates) / pushes : 0;
  run.per_commit = commits ? static_cast<double>(pushes) / commits : 0;
  run.delta_bytes = DeltaSize(net.agent(0), clock);
  return run;
}

// Synced RocksDB puts/s, `pushers` writers, each WriteBatch as large as a Push batch was.
double RawRocks(const SyncBenchOptions& o, size_t value_size, uint64_t batch) {
  return RawSyncedPuts(o.dir, std::max(1, o.pushers), o.updates, value_size, batch);
}

// Propagation latencies of one series of edits.
struct Latencies {
  std::vector<double> ms;  // one per (edit, receiving agent)
  uint64_t missing = 0;    // (edit, agent) pairs that never showed the edit within 10 s
};

struct FanoutResult {
  size_t agents = 0;
  double setup_s = 0;
  Latencies isolated, back_to_back;
  uint64_t fixed_bytes = 0, catchup_bytes = 0;
  double catchup_s = 0;
  size_t dir_bytes = 0, dir_records = 0;
};

// True once the broker has recorded every session's acknowledgement of the whole log: the
// previous edit's trailing work (one synced commit per agent's Credit) is done.
bool AllAcked(Network& net) {
  json st = net.BrokerStatus();
  uint64_t head = st.value("log_head", uint64_t{0});
  if (!st.contains("agents") || !st["agents"].is_array()) return false;
  for (const json& a : st["agents"]) {
    if (a.value("acked", uint64_t{0}) < head) return false;
  }
  return true;
}

// `count` edits by agent 0, each timed until every other agent shows it. Before each edit: a
// random 0-50 ms pause (edits fall at any phase of the agents' 50 ms poll loops) and, when
// `settle`, a wait until the broker has recorded every agent's acknowledgement of the
// previous one.
Status Probe(Network& net, int count, bool settle, std::mt19937_64& rng, Latencies* out) {
  Node& w = net.agent(0);
  for (int p = 0; p < count; ++p) {
    if (settle) (void)WaitFor([&] { return AllAcked(net); }, 10'000ms, 2ms);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50'000));
    std::string id = RecordId(p), text = Text(settle ? "isolated" : "back-to-back", p);
    std::vector<size_t> pending;
    for (size_t i = 1; i < net.size(); ++i) pending.push_back(i);
    auto start = Steady::now();
    if (!w.local()->Apply({Describe(p, text)}, "bench").ok()) {
      return Status::Internal("an edit failed");
    }
    auto deadline = start + 10s;
    while (!pending.empty() && Steady::now() < deadline) {
      std::erase_if(pending, [&](size_t i) {
        if (!net.agent(i).Shows(id, text)) return false;
        out->ms.push_back(Seconds(start, Steady::now()) * 1000);
        return true;
      });
      std::this_thread::sleep_for(200us);
    }
    out->missing += pending.size();
  }
  std::sort(out->ms.begin(), out->ms.end());
  return Status::Ok();
}

// Waits until `a`'s client has received nothing for 100 ms; returns its bytes_in.
uint64_t QuietBytes(const Node& a) {
  uint64_t bytes = a.client()->status().bytes_in;
  for (;;) {
    std::this_thread::sleep_for(100ms);
    uint64_t now = a.client()->status().bytes_in;
    if (now == bytes) return bytes;
    bytes = now;
  }
}

Status Fanout(const SyncBenchOptions& o, Clock* clock, std::ostream* progress, FanoutResult* r) {
  auto t0 = Steady::now();
  Network net(o.dir, clock);
  if (progress) *progress << "starting a broker and " << o.agents << " agents...\n";
  RETURN_IF_ERROR(net.Start(static_cast<size_t>(o.agents)));
  for (size_t i = 0; i < net.size(); ++i) RETURN_IF_ERROR(net.Connect(net.agent(i)));
  auto all_ready = [&] {
    for (size_t i = 0; i < net.size(); ++i) {
      if (!net.agent(i).Ready()) return false;
    }
    return true;
  };
  if (!WaitFor(all_ready, 60'000ms, 10ms)) return Status::Unavailable("not every agent connected");
  Node& w = net.agent(0);
  uint64_t head = Seed(net, w);
  if (head == 0) {
    SyncStatus s = w.client()->status();
    return Status::Unavailable(
        "seeding failed: the broker's log stayed empty for 30 s after agent 0's edit (agent: " +
        s.state + ", outbox " + std::to_string(s.outbox_depth) + ", pushed " +
        std::to_string(s.pushed) + ", accepted " + std::to_string(s.accepted) + ", refused " +
        std::to_string(s.refused) + ", restarts " + std::to_string(s.session_restarts) +
        ", last error '" + s.last_error + "'; broker status " + net.BrokerStatus().dump() + ")");
  }
  auto all_at = [&](uint64_t seq) {
    return [&net, seq] {
      for (size_t i = 0; i < net.size(); ++i) {
        if (net.agent(i).local()->sync_cursor() < seq) return false;
      }
      return true;
    };
  };
  if (!WaitFor(all_at(head), 60'000ms, 10ms)) return Status::Unavailable("seeding did not spread");
  r->agents = net.size();
  r->setup_s = Seconds(t0, Steady::now());

  if (progress) {
    *progress << "timing 2 x " << o.probes << " edits to " << net.size() - 1 << " agents...\n";
  }
  std::mt19937_64 rng(7);
  RETURN_IF_ERROR(Probe(net, o.probes, true, rng, &r->isolated));
  RETURN_IF_ERROR(Probe(net, o.probes, false, rng, &r->back_to_back));

  if (net.size() < 2) return Status::Ok();
  if (progress) *progress << "catch-up after " << o.missed << " missed changes...\n";
  Node& c = net.agent(net.size() - 1);
  head = net.LogHead();
  c.agent->Disconnect();
  RETURN_IF_ERROR(net.Connect(c));
  if (!WaitFor([&] { return c.Ready(); }, 10'000ms)) return Status::Unavailable("no reconnect");
  r->fixed_bytes = QuietBytes(c);
  c.agent->Disconnect();
  for (uint64_t i = 0; i < o.missed; ++i) {
    if (!w.local()->Apply({Describe(i, Text("missed", i))}, "bench").ok()) {
      return Status::Internal("an edit failed");
    }
  }
  uint64_t target = head + o.missed;
  if (!WaitFor([&] { return net.LogHead() >= target; }, 60'000ms, 2ms)) {
    return Status::Unavailable("the broker did not log the missed edits");
  }
  auto t_catch = Steady::now();
  RETURN_IF_ERROR(net.Connect(c));
  if (!WaitFor([&] { return c.local()->sync_cursor() >= target; }, 60'000ms)) {
    return Status::Unavailable("the agent did not catch up: " + c.client()->status().last_error);
  }
  r->catchup_s = Seconds(t_catch, Steady::now());
  r->catchup_bytes = QuietBytes(c);
  r->dir_bytes = c.local()->Read([](const Directory& d) { return EncodeDirectory(d).size(); });
  r->dir_records = c.local()->Read([](const Directory& d) { return d.size(); });
  if (progress) *progress << "stopping " << net.size() << " agents...\n";
  return Status::Ok();
}

json LatencyJson(const Latencies& l) {
  return {{"samples", l.ms.size()},
          {"missing", l.missing},
          {"p50_ms", Percentile(l.ms, 0.5)},
          {"p99_ms", Percentile(l.ms, 0.99)},
          {"max_ms", l.ms.empty() ? 0 : l.ms.back()}};
}

// "p50 / p99", and the count of agents that never showed an edit, if any.
std::string LatencyCell(const Latencies& l) {
  std::string cell = Fmt(Percentile(l.ms, 0.5), 1) + " / " + Fmt(Percentile(l.ms, 0.99), 1);
  return l.missing ? cell + " (" + std::to_string(l.missing) + " missing)" : cell;
}

void Row(std::ostream& out, const std::string& figure, const std::string& sb,
         const std::string& base = "", double ratio = -1) {
  char line[256];
  std::string r = ratio < 0 ? "" : Fmt(ratio, 2);
  std::snprintf(line, sizeof line, "%-50s %13s %14s %7s\n", figure.c_str(), sb.c_str(),
                base.c_str(), r.c_str());
  out << line;
}

}  // namespace

int RunSyncBench(const SyncBenchOptions& o, Clock* clock, std::ostream& out,
                 std::ostream* progress) {
  auto started = Steady::now();
  std::vector<double> e2e, local, per_push, per_commit, curve, rocks, apply_only;
  size_t delta_bytes = 0;
  for (int r = 0; r < o.runs; ++r) {
    if (progress) *progress << "throughput run " << r + 1 << "/" << o.runs << "...\n";
    std::string error;
    ThroughputRun run = Throughput(o, clock, &error);
    if (run.e2e < 0) {
      out << "bench sync: " << error << "\n";
      return 1;
    }
    e2e.push_back(run.e2e);
    local.push_back(run.local);
    per_push.push_back(run.per_push);
    per_commit.push_back(run.per_commit);
    delta_bytes = run.delta_bytes;
    // The baselines have the run's shape: as many senders as pushing agents, each with one
    // batch of the run's Push size in flight; as many RocksDB writers, each write a batch.
    uint64_t batch = std::max<uint64_t>(1, static_cast<uint64_t>(std::lround(run.per_push)));
    curve.push_back(RawCurve(delta_bytes, std::max(1, o.pushers), batch));
    rocks.push_back(RawRocks(o, delta_bytes, batch));
    apply_only.push_back(ApplyOnly(o, clock, OrgId(0)));
    if (curve.back() < 0 || rocks.back() < 0 || apply_only.back() < 0) {
      out << "bench sync: a baseline failed\n";
      return 1;
    }
  }
  FanoutResult f;
  Status fanout = Fanout(o, clock, progress, &f);
  if (!fanout.ok()) {
    out << "bench sync: " << fanout.ToString() << "\n";
    return 1;
  }
  std::vector<double> vs_rocks, vs_curve, vs_lower, vs_off;
  for (size_t i = 0; i < e2e.size(); ++i) {
    vs_rocks.push_back(e2e[i] / rocks[i]);
    vs_curve.push_back(e2e[i] / curve[i]);
    vs_lower.push_back(e2e[i] / std::min(rocks[i], curve[i]));
    vs_off.push_back(local[i] / apply_only[i]);
  }
  double sb = Median(e2e), raw_curve = Median(curve), raw_rocks = Median(rocks);
  double ratio = Median(vs_lower);
  double per_change = o.missed ? static_cast<double>(f.catchup_bytes) / o.missed : 0;
  double marginal =
      o.missed ? static_cast<double>(f.catchup_bytes - std::min(f.catchup_bytes, f.fixed_bytes)) /
                     o.missed
               : 0;
  double seconds = Seconds(started, Steady::now());
  if (o.json) {
    json j = {{"updates", o.updates},
              {"writers", o.writers},
              {"delta_bytes", delta_bytes},
              {"durable_updates_per_s", sb},
              {"raw_curve_msgs_per_s", raw_curve},
              {"raw_rocksdb_synced_puts_per_s", raw_rocks},
              {"ratio_to_lower_baseline", ratio},
              {"ratio_to_raw_rocksdb", Median(vs_rocks)},
              {"ratio_to_raw_curve", Median(vs_curve)},
              {"writer_local_edits_per_s", Median(local)},
              {"writer_edits_per_s_sync_off", Median(apply_only)},
              {"writer_sync_on_off_ratio", Median(vs_off)},
              {"updates_per_push", Median(per_push)},
              {"pushes_per_broker_commit", Median(per_commit)},
              {"pushing_agents", o.pushers},
              {"agents", f.agents},
              {"latency_isolated", LatencyJson(f.isolated)},
              {"latency_back_to_back", LatencyJson(f.back_to_back)},
              {"missed_changes", o.missed},
              {"catchup_bytes", f.catchup_bytes},
              {"catchup_bytes_per_change", per_change},
              {"catchup_marginal_bytes_per_change", marginal},
              {"reconnect_fixed_bytes", f.fixed_bytes},
              {"catchup_seconds", f.catchup_s},
              {"directory_records", f.dir_records},
              {"directory_encoded_bytes", f.dir_bytes},
              {"fanout_setup_seconds", f.setup_s},
              {"seconds", seconds}};
    out << j.dump(2) << "\n";
    return 0;
  }
  out << "switchboard bench sync — " << o.updates << " updates by " << o.pushers
      << " agents pushing at once (" << o.writers << " writer threads each), delta " << delta_bytes
      << " bytes, median of " << o.runs << " runs; " << f.agents << " agents\n";
  char header[256];
  std::snprintf(header, sizeof header, "%-50s %13s %14s %7s\n", "figure", "switchboard",
                "raw baseline", "ratio");
  out << header;
  Row(out, "durable updates/s, agent edit -> broker log", Fmt(sb), "", -1);
  std::string batch_text = Fmt(Median(per_push), 0);
  Row(out,
      "  vs raw synced RocksDB puts/s, " + std::to_string(o.pushers) + " writers x " + batch_text +
          "/batch",
      "", Fmt(raw_rocks), Median(vs_rocks));
  Row(out,
      "  vs raw CURVE msgs/s, " + std::to_string(o.pushers) + " DEALERs, ack per " + batch_text, "",
      Fmt(raw_curve), Median(vs_curve));
  double off = Median(apply_only);
  Row(out, "writer's durable edits/s meanwhile vs sync off", Fmt(Median(local)), Fmt(off),
      Median(vs_off));
  Row(out, "updates per Push batch", Fmt(Median(per_push), 1));
  Row(out, "pushes per broker commit (group commit)", Fmt(Median(per_commit), 1));
  std::string to = "to " + std::to_string(f.agents - 1) + " agents";
  Row(out, "propagation p50 / p99 ms " + to + ", isolated", LatencyCell(f.isolated));
  Row(out, "  edits back to back", LatencyCell(f.back_to_back));
  Row(out, "catch-up bytes per missed change (" + std::to_string(o.missed) + " missed)",
      Fmt(per_change), Fmt(static_cast<double>(delta_bytes)),
      delta_bytes ? per_change / delta_bytes : 0);
  Row(out,
      "  less the fixed " + Fmt(static_cast<double>(f.fixed_bytes)) +
          " bytes per reconnect (roster)",
      Fmt(marginal), Fmt(static_cast<double>(delta_bytes)),
      delta_bytes ? marginal / delta_bytes : 0);
  Row(out, "full directory encoded, bytes (" + std::to_string(f.dir_records) + " records)",
      Fmt(static_cast<double>(f.dir_bytes)));
  out << "end-to-end / lower baseline (" << (raw_rocks <= raw_curve ? "RocksDB" : "CURVE")
      << "): " << Fmt(ratio, 2)
      << (ratio >= 0.5 ? " (target >= 0.5 met)\n" : " (target >= 0.5 NOT met)\n");
  out << "throughput ratios: median over runs of each run's figure / the baselines measured "
         "right after it\n";
  out << "raw CURVE: one DEALER per pushing agent streams delta-sized messages, the ROUTER "
         "acks each one's every Push-batch-size messages (one batch in flight each)\n"
         "raw RocksDB: one writer per pushing agent, Push-batch-size puts per synced WriteBatch\n"
         "not in the baselines: each update is made durable on its writer's agent first (one "
         "synced write per edit),\n"
         "  signed by its author, verified by the broker and again by every other connected "
         "agent, and fanned out\n"
         "  to them, all on this machine's cores\n"
         "latency: from the writer's Apply call until an agent's directory shows the value; "
         "isolated: each edit\n"
         "  once the broker has recorded every agent's ack of the previous; back to back: as "
         "soon as all show it\n"
         "catch-up baseline: one delta as the outbox holds it (without the entry's signature and "
         "ids); a snapshot would carry the full directory\n";
  out << "took " << Fmt(seconds, 1) << " s (fan-out setup " << Fmt(f.setup_s, 1) << " s, catch-up "
      << Fmt(f.catchup_s * 1000, 0) << " ms)\n";
  return 0;
}

}  // namespace sb::bench

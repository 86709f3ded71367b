#include "bench/referral_bench.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "bench/internal/bench_net.h"

namespace sb::bench {
namespace {

using nlohmann::json;

const std::string kPayload =
    R"({"alias":"M.","contact":"through her caseworker, weekdays","contact_times":"9-17",)"
    R"("language":"pt","needs":["shelter","legal"],"notes":"arrives Thursday by bus"})";

ReferralRequest Request(const std::string& to) {
  ReferralRequest r;
  r.to = to;
  r.urgency = "urgent";
  r.consent_scope = "share with the shelter for placement";
  r.consent_by = "bench advocate";
  r.payload_json = kPayload;
  return r;
}

// Accepts every referral that shows as delivered in `book`'s inbox, until stopped.
class AutoAccept {
 public:
  explicit AutoAccept(ReferralBook* book) : book_(book), thread_([this] { Run(); }) {}
  ~AutoAccept() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Run() {
    while (!stop_) {
      auto inbox = book_->List("inbox", "delivered");
      if (inbox.ok()) {
        for (const ReferralInfo& r : *inbox) {
          if (r.waiting.empty()) (void)book_->Act(r.id, "accept", "");
        }
      }
      std::this_thread::sleep_for(1ms);
    }
  }
  ReferralBook* book_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

size_t Accepted(ReferralBook* book, const std::set<std::string>& ids) {
  auto list = book->List("outbox", "accepted");
  if (!list.ok()) return 0;
  size_t n = 0;
  for (const ReferralInfo& r : *list) n += ids.count(r.id);
  return n;
}

void Row(std::ostream& out, const std::string& figure, const std::string& sb,
         const std::string& base = "", double ratio = -1) {
  char line[256];
  std::string r = ratio < 0 ? "" : Fmt(ratio, 3);
  std::snprintf(line, sizeof line, "%-48s %12s %14s %7s\n", figure.c_str(), sb.c_str(),
                base.c_str(), r.c_str());
  out << line;
}

}  // namespace

int RunReferralBench(const ReferralBenchOptions& o, Clock* clock, std::ostream& out,
                     std::ostream* progress) {
  auto started = Steady::now();
  auto fail = [&](const std::string& why) {
    out << "bench referrals: " << why << "\n";
    return 1;
  };
  Network net(o.dir, clock);
  if (Status s = net.Start(2, /*referrals=*/true); !s.ok()) return fail(s.ToString());
  Node& sender = net.agent(0);
  Node& recipient = net.agent(1);
  for (Node* a : {&sender, &recipient}) {
    if (Status s = net.Connect(*a); !s.ok()) return fail(s.ToString());
  }
  std::string to = recipient.id.pub.org;
  bool ready = WaitFor(
      [&] {
        auto known = sender.referrals()->KnownOrganizations();
        return sender.Ready() && recipient.Ready() &&
               std::find(known.begin(), known.end(), to) != known.end();
      },
      20'000ms, 5ms);
  if (!ready) return fail("the agents did not connect");
  AutoAccept accepter(recipient.referrals());

  // 1. Throughput.
  std::vector<double> rates;
  size_t post_bytes = 0;
  for (int run = 0; run < o.runs; ++run) {
    if (progress) *progress << "throughput run " << run + 1 << "/" << o.runs << "...\n";
    std::set<std::string> ids;
    auto t0 = Steady::now();
    for (int i = 0; i < o.handoffs; ++i) {
      Result<ReferralInfo> sent = sender.referrals()->Send(Request(to));
      if (!sent.ok()) return fail("send: " + sent.status().ToString());
      ids.insert(sent->id);
    }
    if (post_bytes == 0) {
      auto pending = sender.referrals()->Pending(1);
      if (!pending.empty()) post_bytes = proto::EncodeEnvelope(pending.front()).size();
    }
    bool done =
        WaitFor([&] { return Accepted(sender.referrals(), ids) == ids.size(); }, 300'000ms, 2ms);
    if (!done) return fail("handoffs did not complete within 5 minutes");
    rates.push_back(o.handoffs / Seconds(t0, Steady::now()));
  }

  // 2. Latency of single handoffs.
  if (progress) *progress << "latency: " << o.probes << " single handoffs...\n";
  std::vector<double> ms;
  for (int i = 0; i < o.probes; ++i) {
    auto t0 = Steady::now();
    Result<ReferralInfo> sent = sender.referrals()->Send(Request(to));
    if (!sent.ok()) return fail("send: " + sent.status().ToString());
    bool done = WaitFor(
        [&] {
          auto r = sender.referrals()->Get(sent->id);
          return r.ok() && r->status == "accepted";
        },
        30'000ms, 500us);
    if (!done) return fail("a single handoff took more than 30 s");
    ms.push_back(Seconds(t0, Steady::now()) * 1000);
  }
  std::sort(ms.begin(), ms.end());

  // Baselines, same run.
  if (progress) *progress << "baselines...\n";
  double rocks = RawSyncedPuts(o.dir, 1, 500, post_bytes);
  double curve = RawCurve(post_bytes);
  double rate = Median(rates);
  double total_s = Seconds(started, Steady::now());

  if (o.json) {
    out << json{{"handoffs_per_s", rate},
                {"handoffs_per_run", o.handoffs},
                {"runs", rates},
                {"latency_p50_ms", Percentile(ms, 0.5)},
                {"latency_p99_ms", Percentile(ms, 0.99)},
                {"latency_samples", ms.size()},
                {"raw_rocksdb_synced_puts_per_s", rocks},
                {"raw_curve_msgs_per_s", curve},
                {"ratio_to_raw_rocksdb", rocks > 0 ? rate / rocks : 0},
                {"ratio_to_raw_curve", curve > 0 ? rate / curve : 0},
                {"sealed_referral_post_bytes", post_bytes},
                {"seconds", total_s}}
               .dump(2)
        << "\n";
    return 0;
  }
  out << "bench referrals: 1 broker, 2 agents over CURVE on 127.0.0.1; " << o.handoffs
      << " handoffs per run, median of " << o.runs << " runs\n"
      << "a handoff: send -> delivered -> accepted, seen by the sender (about 10 synced commits"
         " on 3 stores, 8 messages)\n\n";
  Row(out, "figure", "switchboard", "raw baseline", -1);
  Row(out, "handoffs/s, many in flight", Fmt(rate, 1), "", -1);
  Row(out, "  vs raw synced RocksDB puts/s (1 writer)", "", Fmt(rocks),
      rocks > 0 ? rate / rocks : 0);
  Row(out, "  vs raw CURVE DEALER->ROUTER msgs/s", "", Fmt(curve), curve > 0 ? rate / curve : 0);
  Row(out, "single handoff latency p50 (ms)", Fmt(Percentile(ms, 0.5), 1));
  Row(out, "single handoff latency p99 (ms)", Fmt(Percentile(ms, 0.99), 1));
  out << "\nsealed referral post: " << post_bytes << " bytes; " << ms.size()
      << " latency samples; took " << Fmt(total_s, 1) << " s\n";
  return 0;
}

}  // namespace sb::bench

// The simulation behind `switchboard bench gc` (gc_bench.h). Both runs draw the same operations
// from the same seed; they differ only in BrokerCore::Options::gc_interval_ms (an hour, or
// never). The log is trimmed to the same retention in both (four entries per live record), so
// the difference is the tombstones and their history.
#include "bench/gc_bench.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "broker/broker_core.h"
#include "broker/roster.h"
#include "conflict/codec.h"
#include "crypto/identity.h"
#include "store/store.h"

namespace sb::bench {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kDayMs = 24 * 3'600'000ull;

struct Sample {
  uint64_t day = 0;
  size_t live = 0, stored = 0, tombstones = 0, history = 0, collected = 0;
  uint64_t log_entries = 0;
  uint64_t bytes = 0;  // table files and write-ahead log after a compaction
};

std::string Uuid(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n));
  return buf;
}

uint64_t StoreBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    if (e.is_regular_file(ec) && (ext == ".sst" || ext == ".log")) total += e.file_size(ec);
  }
  return total;
}

class Simulation {
 public:
  Simulation(const GcBenchOptions& o, bool gc, std::string dir)
      : o_(o), gc_(gc), dir_(std::move(dir)), rng_(20261207) {}

  Status Run(std::vector<Sample>* samples, std::ostream* progress) {
    StoreOptions so;
    so.create_if_missing = true;
    so.sync = false;
    ASSIGN_OR_RETURN(store_, Store::Open(dir_, so));
    roster_ = std::make_unique<Roster>(store_.get());
    RETURN_IF_ERROR(roster_->Load());
    ASSIGN_OR_RETURN(broker_, Identity::Generate("broker"));
    ASSIGN_OR_RETURN(writer_, Identity::Generate(Uuid(0xa)));
    RETURN_IF_ERROR(roster_->Enroll(writer_.pub, Role::kPartner, clock_.NowMillis()));
    for (size_t i = 0; i < o_.agents; ++i) {
      ASSIGN_OR_RETURN(Identity a, Identity::Generate(Uuid(0xb0 + i)));
      RETURN_IF_ERROR(roster_->Enroll(a.pub, Role::kPartner, clock_.NowMillis()));
      agents_.push_back(std::move(a));
    }
    BrokerCore::Options bo;
    bo.gc_interval_ms = gc_ ? 3'600'000 : 0;
    bo.log_retention = std::max<uint64_t>(1000, o_.records * 4);
    bo.cursor_flush_ms = 60'000;
    core_ = std::make_unique<BrokerCore>(store_.get(), &clock_, broker_, roster_.get(), bo);
    RETURN_IF_ERROR(core_->Load());
    Hello("w", writer_, 0x1000);
    for (size_t i = 0; i < agents_.size(); ++i) Hello(AgentPeer(i), agents_[i], 0x2000 + i);
    // Day 0: the live directory.
    for (size_t i = 0; i < o_.records; ++i) {
      Create();
      Pump();  // one push at a time: the broker queues at most 64 per organization
    }
    Ack(true);
    size_t away = agents_.size() > 1 ? agents_.size() - 1 : agents_.size();  // the wanderer
    uint64_t away_from = o_.days / 3, away_until = away_from + 45;
    for (uint64_t day = 1; day <= o_.days; ++day) {
      size_t churn = static_cast<size_t>(o_.records * o_.churn + 0.5);
      std::vector<int> ops;
      ops.insert(ops.end(), churn, 0);
      ops.insert(ops.end(), churn, 1);
      ops.insert(ops.end(), o_.edits_per_day, 2);
      std::shuffle(ops.begin(), ops.end(), rng_);
      uint64_t step = kDayMs / (ops.size() + 1);
      for (int op : ops) {
        clock_.Advance(step);
        if (op == 0) Delete();
        if (op == 1) Create();
        if (op == 2) Edit();
        Pump();
      }
      if (away < agents_.size() && day == away_from) {
        core_->OnDisconnected(AgentPeer(away));
      }
      if (away < agents_.size() && day == away_until) {
        Hello(AgentPeer(away), agents_[away], 0x2000 + away, away_cursor_);
      }
      bool away_now = away < agents_.size() && day >= away_from && day < away_until;
      Ack(!away_now);
      clock_.Advance(kDayMs - step * ops.size());
      Pump();
      if (day % o_.report_days == 0 || day == o_.days) {
        ASSIGN_OR_RETURN(Sample s, Measure(day));
        samples->push_back(s);
        if (progress) {
          *progress << "  " << (gc_ ? "gc" : "baseline") << " day " << day << ": " << s.stored
                    << " records stored, " << s.bytes / 1024 << " KiB\n";
        }
      }
    }
    return Status::Ok();
  }

 private:
  static std::string AgentPeer(size_t i) { return "agent" + std::to_string(i); }

  void Send(const std::string& peer, const Identity& who, const proto::Message& m) {
    std::vector<Outgoing> out;
    core_->OnMessage(peer, who.pub.org, proto::EncodeEnvelope(m), &out);
  }
  void Pump() {
    std::vector<Outgoing> out;
    for (int i = 0; i < 1000 && core_->Pump(&out); ++i) out.clear();
  }
  void Hello(const std::string& peer, const Identity& who, ReplicaId replica, uint64_t cursor = 0) {
    proto::Hello h;
    h.replica = replica;
    h.cursor = cursor;
    h.credits = 1u << 20;
    Send(peer, who, h);
    Pump();
  }
  // Every agent acknowledges the log head (the one away, when `all` is false, does not).
  void Ack(bool all) {
    uint64_t head = core_->stats().log_head;
    for (size_t i = 0; i < agents_.size(); ++i) {
      if (!all && i + 1 == agents_.size()) continue;
      Send(AgentPeer(i), agents_[i], proto::Credit{0, head, false, 1u << 20});
      if (i + 1 == agents_.size()) away_cursor_ = head;
    }
    Send("w", writer_, proto::Credit{0, head, false, 1u << 20});
    Pump();
  }
  void PushRecord(const Record& delta, Hlc stamp) {
    Delta d{0x1000, stamp, {delta}};
    view_.Join(delta);
    std::string bytes = EncodeDelta(d);
    proto::Push p;
    p.batch = ++batch_;
    p.items.push_back(
        proto::PushItem{batch_, {bytes, writer_.pub.org, writer_.pub.org, Sign(writer_, bytes)}});
    Send("w", writer_, p);
  }
  Hlc Stamp() { return Hlc::Make(clock_.NowMillis(), 0); }
  std::string Text() {
    return "Walk-in intake weekdays, interpreters on request, call ahead after hours #" +
           std::to_string(rng_() % 100000);
  }
  void Write(const std::string& id, bool create) {
    Hlc stamp = Stamp();
    Record cur = view_.Find(id) ? *view_.Find(id) : Record(id, "service");
    Record delta(id, "service");
    std::vector<std::pair<std::string, Value>> values = {{"name", "Service " + Text()},
                                                         {"description", Text()}};
    if (create) values.emplace_back("owner", writer_.pub.org);
    for (const auto& [field, value] : values) {
      Record d = cur.WriteDelta(field, value, 0x1000, stamp);
      cur.Join(d);
      delta.Join(d);
    }
    PushRecord(delta, stamp);
  }
  void Create() {
    std::string id = Uuid(0x100000 + next_id_++);
    live_.push_back(id);
    Write(id, true);
  }
  void Edit() {
    if (live_.empty()) return;
    Write(live_[rng_() % live_.size()], false);
  }
  void Delete() {
    if (live_.empty()) return;
    size_t i = rng_() % live_.size();
    std::string id = live_[i];
    live_[i] = live_.back();
    live_.pop_back();
    Hlc stamp = Stamp();
    PushRecord(view_.Find(id)->DeleteDelta(0x1000, stamp), stamp);
    view_.Erase(id);  // the writer forgets it (as an agent does once it is collected)
  }

  Result<Sample> Measure(uint64_t day) {
    RETURN_IF_ERROR(store_->CompactAll());
    Sample s;
    s.day = day;
    s.live = live_.size();
    s.stored = core_->state().size();
    for (const auto& [id, r] : core_->state().records()) s.tombstones += r.IsDeleted();
    RETURN_IF_ERROR(store_->Scan(Cf::kHistory, "", "", [&](std::string_view, std::string_view) {
      ++s.history;
      return true;
    }));
    s.collected = core_->collected_count();
    BrokerStats st = core_->stats();
    s.log_entries = st.log_head >= st.log_start ? st.log_head - st.log_start + 1 : 0;
    s.bytes = StoreBytes(dir_);
    return s;
  }

  const GcBenchOptions& o_;
  bool gc_;
  std::string dir_;
  std::mt19937_64 rng_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Roster> roster_;
  Identity broker_, writer_;
  std::vector<Identity> agents_;
  std::unique_ptr<BrokerCore> core_;
  Directory view_;  // the writer's
  std::vector<std::string> live_;
  uint64_t next_id_ = 0, batch_ = 0, away_cursor_ = 0;
};

nlohmann::json ToJson(const std::vector<Sample>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const Sample& s : v) {
    out.push_back({{"day", s.day},
                   {"live", s.live},
                   {"stored", s.stored},
                   {"tombstones", s.tombstones},
                   {"history", s.history},
                   {"log_entries", s.log_entries},
                   {"collected_ids", s.collected},
                   {"bytes", s.bytes}});
  }
  return out;
}

std::string TempDir(const GcBenchOptions& o, const char* tag) {
  std::string base = o.dir.empty() ? (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") : o.dir;
  std::string tmpl = base + "/sb-bench-gc-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  return buf.data();
}

}  // namespace

int RunGcBench(const GcBenchOptions& o, std::ostream& out, std::ostream* progress) {
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::err);
  std::vector<Sample> with, without;
  auto t0 = std::chrono::steady_clock::now();
  for (bool gc : {true, false}) {
    std::string dir = TempDir(o, gc ? "on" : "off");
    if (dir.empty()) {
      out << "bench gc: cannot make a temporary directory\n";
      return 1;
    }
    Status st = Simulation(o, gc, dir).Run(gc ? &with : &without, progress);
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (!st.ok()) {
      spdlog::set_level(level);
      out << "bench gc: " << st.ToString() << "\n";
      return 1;
    }
  }
  spdlog::set_level(level);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Sample& g = with.back();
  const Sample& b = without.back();
  double ratio = g.bytes ? static_cast<double>(b.bytes) / static_cast<double>(g.bytes) : 0;
  double growth = with.front().bytes
                      ? static_cast<double>(g.bytes) / static_cast<double>(with.front().bytes)
                      : 0;
  if (o.json) {
    out << nlohmann::json{{"days", o.days},
                          {"records", o.records},
                          {"churn_per_day", o.churn},
                          {"edits_per_day", o.edits_per_day},
                          {"agents", o.agents},
                          {"gc", ToJson(with)},
                          {"baseline", ToJson(without)},
                          {"ratio_baseline_over_gc", ratio},
                          {"gc_bytes_per_live_record", g.live ? g.bytes / g.live : 0},
                          {"gc_growth_since_first_report", growth},
                          {"seconds", secs}}
               .dump(2)
        << "\n";
    return 0;
  }
  out << "bench gc: " << o.days << " days of churn over " << o.records << " live records ("
      << static_cast<size_t>(o.records * o.churn + 0.5) << " deleted and as many created, "
      << o.edits_per_day << " edits per day; " << o.agents
      << " agents acknowledging, one away for 45 days)\n";
  out << "    day    live |  stored  tomb  history   KiB (gc) |  stored  tomb  history  KiB "
         "(no gc) | no gc / gc\n";
  for (size_t i = 0; i < with.size() && i < without.size(); ++i) {
    const Sample& x = with[i];
    const Sample& y = without[i];
    out << std::setw(7) << x.day << std::setw(8) << x.live << " |" << std::setw(8) << x.stored
        << std::setw(6) << x.tombstones << std::setw(9) << x.history << std::setw(11)
        << x.bytes / 1024 << " |" << std::setw(8) << y.stored << std::setw(6) << y.tombstones
        << std::setw(9) << y.history << std::setw(14) << y.bytes / 1024 << " |" << std::setw(8)
        << std::fixed << std::setprecision(2)
        << (x.bytes ? static_cast<double>(y.bytes) / static_cast<double>(x.bytes) : 0) << "\n";
  }
  out << "after " << o.days << " days: with collection " << g.bytes / 1024 << " KiB ("
      << (g.live ? g.bytes / g.live : 0) << " bytes per live record, " << g.collected
      << " ids collected), " << std::setprecision(2) << growth << "x its size at day "
      << with.front().day << "; without " << b.bytes / 1024 << " KiB: " << ratio << "x larger ("
      << std::setprecision(1) << secs << " s)\n";
  return 0;
}

}  // namespace sb::bench

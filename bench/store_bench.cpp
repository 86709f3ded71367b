// The raw baseline opens RocksDB with its default options plus create_if_missing, and commits
// one Put per WriteBatch with WriteOptions.sync — what "a durable write" costs at the bottom.
// The Switchboard figure goes through LocalDirectory::Apply: validate and plan a CRDT edit,
// then one WriteBatch (record merge + history entry + outbox entry + meta) with a synced WAL,
// shared by whatever requests are waiting (group commit). Both use the same number of
// concurrent writers and the same value size.
#include "bench/store_bench.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "agents/hsds_import.h"
#include "agents/hsds_json.h"
#include "agents/local_directory.h"
#include "conflict/codec.h"

namespace sb::bench {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string TempDir(const StoreBenchOptions& o, const char* tag) {
  std::string base = o.dir.empty() ? (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") : o.dir;
  std::string tmpl = base + "/sb-bench-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  return buf.data();
}

std::string Uuid(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n));
  return buf;
}

std::string Text(uint64_t i) {
  std::string s = "Intake line, weekdays 9:00-17:00; after hours call the 24/7 hotline. #";
  return s + std::to_string(i);
}

// Runs `writers` threads that together perform `total` calls of fn(i); returns writes/s.
template <typename Fn>
double Parallel(uint64_t total, int writers, Fn fn) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  auto t0 = Steady::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (uint64_t i; (i = next++) < total;) {
        if (!fn(i)) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = Seconds(t0, Steady::now());
  return failed ? -1 : total / secs;
}

double RawRocks(const StoreBenchOptions& o, size_t value_size) {
  std::string dir = TempDir(o, "raw");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir, &raw).ok()) return -1;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value(value_size, 'v');
  rocksdb::WriteOptions wo;
  wo.sync = true;
  double rate = Parallel(o.writes, o.writers, [&](uint64_t i) {
    rocksdb::WriteBatch b;
    b.Put(Uuid(i % 1000), value).PermitUncheckedError();
    return db->Write(wo, &b).ok();
  });
  db.reset();
  fs::remove_all(dir);
  return rate;
}

// Returns writes/s, and the encoded size of one write's record delta in *value_size.
double Switchboard(const StoreBenchOptions& o, size_t* value_size) {
  std::string dir = TempDir(o, "sb");
  StoreOptions so;
  so.create_if_missing = true;
  auto store = Store::Open(dir, so);
  if (!store.ok()) return -1;
  ManualClock clock;
  auto local = LocalDirectory::Open(store->get(), &clock, {.replica = 7, .max_skew_ms = 60'000});
  if (!local.ok()) return -1;
  // Seed the records first so the measured writes are updates, as most are.
  std::vector<RecordEdit> seed;
  for (uint64_t i = 0; i < 1000; ++i) {
    RecordEdit e{Uuid(i), "phone", {{"number", std::string("+14155550100")}}, {}, false, false};
    seed.push_back(std::move(e));
  }
  if (!(*local)->Apply(std::move(seed), "bench").ok()) return -1;
  RecordEdit probe{Uuid(0), "phone", {{"description", Text(0)}}, {}, false, false};
  auto plan = (*local)->Read([&](const Directory& d) {
    return PlanEdit(FieldSchema::Hsds(), d.Find(probe.id), probe, 7, Hlc::Make(1, 0));
  });
  *value_size = plan.ok() ? EncodeRecord(plan->delta).size() : 0;
  double rate = Parallel(o.writes, o.writers, [&](uint64_t i) {
    RecordEdit e{Uuid(i % 1000), "phone", {{"description", Text(i + 1)}}, {}, false, false};
    return (*local)->Apply({std::move(e)}, "bench").ok();
  });
  local->reset();
  store->reset();
  fs::remove_all(dir);
  return rate;
}

// Imports the sample into a fresh store: parse + validate + plan + one durable batch.
double ImportSeconds(const StoreBenchOptions& o, size_t* records) {
  std::string path = o.sample.empty() ? "examples/data/directory.json" : o.sample;
  std::ifstream in(path);
  if (!in) return -1;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = TempDir(o, "import");
  StoreOptions so;
  so.create_if_missing = true;
  auto store = Store::Open(dir, so);
  if (!store.ok()) return -1;
  ManualClock clock;
  auto local = LocalDirectory::Open(store->get(), &clock, {.replica = 7, .max_skew_ms = 60'000});
  if (!local.ok()) return -1;
  auto t0 = Steady::now();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  auto edits = HsdsEditsOrError(FieldSchema::Hsds(), doc);
  if (!edits.ok()) return -1;
  *records = edits->size();
  bool ok = (*local)->Apply(std::move(edits).value(), "import").ok();
  double secs = Seconds(t0, Steady::now());
  local->reset();
  store->reset();
  fs::remove_all(dir);
  return ok ? secs : -1;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string Fmt(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  // Thousands separators for whole numbers.
  if (decimals == 0) {
    for (int i = static_cast<int>(s.size()) - 3; i > (s[0] == '-' ? 1 : 0); i -= 3)
      s.insert(i, ",");
  }
  return s;
}

}  // namespace

int RunStoreBench(const StoreBenchOptions& o, std::ostream& out, std::ostream* progress) {
  std::vector<double> sb_rates, raw_rates, one_sb, one_raw;
  size_t value_size = 0;
  StoreBenchOptions single = o;
  single.writers = 1;
  single.writes = std::max<uint64_t>(o.writes / 8, 100);
  for (int r = 0; r < o.runs; ++r) {
    if (progress) *progress << "run " << r + 1 << "/" << o.runs << "...\n";
    sb_rates.push_back(Switchboard(o, &value_size));
    raw_rates.push_back(RawRocks(o, value_size));
    one_sb.push_back(Switchboard(single, &value_size));
    one_raw.push_back(RawRocks(single, value_size));
  }
  for (double v : sb_rates) {
    if (v < 0) {
      out << "bench store: a write failed (see stderr)\n";
      return 1;
    }
  }
  size_t records = 0;
  if (progress) *progress << "importing the sample...\n";
  double import_s = ImportSeconds(o, &records);
  double sb = Median(sb_rates), raw = Median(raw_rates);
  double sb1 = Median(one_sb), raw1 = Median(one_raw);
  if (o.json) {
    nlohmann::json j = {{"writers", o.writers},
                        {"value_bytes", value_size},
                        {"durable_writes_per_s", sb},
                        {"raw_rocksdb_synced_puts_per_s", raw},
                        {"ratio", raw > 0 ? sb / raw : 0},
                        {"single_writer_durable_writes_per_s", sb1},
                        {"single_writer_raw_puts_per_s", raw1},
                        {"single_writer_ratio", raw1 > 0 ? sb1 / raw1 : 0},
                        {"import_records", records},
                        {"import_seconds", import_s}};
    out << j.dump(2) << "\n";
    return 0;
  }
  char line[256];
  out << "switchboard bench store — " << o.writes << " durable writes, value " << value_size
      << " bytes, median of " << o.runs << " runs\n";
  std::snprintf(line, sizeof line, "%-38s %14s %16s %7s\n", "figure", "switchboard", "raw rocksdb",
                "ratio");
  out << line;
  std::snprintf(line, sizeof line, "%-38s %14s %16s %7.2f\n",
                ("acked writes/s, " + std::to_string(o.writers) + " writers").c_str(),
                Fmt(sb).c_str(), Fmt(raw).c_str(), raw > 0 ? sb / raw : 0);
  out << line;
  std::snprintf(line, sizeof line, "%-38s %14s %16s %7.2f\n", "acked writes/s, 1 writer",
                Fmt(sb1).c_str(), Fmt(raw1).c_str(), raw1 > 0 ? sb1 / raw1 : 0);
  out << line;
  if (import_s >= 0) {
    std::snprintf(line, sizeof line, "%-38s %14s\n",
                  ("import of the sample (" + std::to_string(records) + " records), s").c_str(),
                  Fmt(import_s, 3).c_str());
  } else {
    std::snprintf(line, sizeof line, "%-38s %14s\n", "import of the sample",
                  "no sample (python3 examples/data/generate.py)");
  }
  out << line;
  out << "raw: RocksDB default options, one Put per WriteBatch, WriteOptions.sync, same writers\n";
  return 0;
}

}  // namespace sb::bench

// What one run measures, for each form (compiled JSON, tabular):
//   switchboard: read the input (parse the JSON; read the CSV files), flatten, validate, map,
//                plan and commit every record in the agent's store (LocalDirectory::Apply: one
//                durable batch, as an all-or-nothing import is), on a fresh store;
//   raw:         one RocksDB WriteBatch with as many puts as the import wrote records, holding
//                the input's bytes (spread evenly), WriteOptions.sync, on a fresh database.
#include "bench/import_bench.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agents/hsds_export.h"
#include "agents/hsds_import.h"
#include "agents/hsds_tabular.h"
#include "agents/local_directory.h"
#include "base/clock.h"
#include "bench/internal/bench_net.h"  // Seconds, TempDir, Median, Fmt
#include "store/store.h"

namespace sb::bench {
namespace {

namespace fs = std::filesystem;
std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t BytesUnder(const std::string& path) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  }
  return n;
}

struct Agent {
  std::unique_ptr<Store> store;
  std::unique_ptr<LocalDirectory> local;
  ManualClock clock;
};

Status OpenAgent(const std::string& dir, Agent* a) {
  StoreOptions so;
  so.create_if_missing = true;
  ASSIGN_OR_RETURN(a->store, Store::Open(dir, so));
  ASSIGN_OR_RETURN(a->local, LocalDirectory::Open(a->store.get(), &a->clock,
                                                  {.replica = 7, .max_skew_ms = 60'000}));
  return Status::Ok();
}

struct Run {
  double seconds = -1;
  size_t records = 0;
  std::string error;
};

Run CommitEdits(Agent* a, Result<HsdsImportResult> parsed, Steady::time_point t0) {
  Run r;
  if (!parsed.ok()) {
    r.error = parsed.status().ToString();
    return r;
  }
  if (!parsed->problems.empty()) {
    r.error = parsed->problems.front().where + ": " + parsed->problems.front().error + " (and " +
              std::to_string(parsed->problems.size() - 1) + " more)";
    return r;
  }
  r.records = parsed->edits.size();
  auto applied = a->local->Apply(std::move(parsed->edits), "import");
  if (!applied.ok()) {
    r.error = applied.status().ToString();
    return r;
  }
  r.seconds = Seconds(t0, Steady::now());
  return r;
}

Run ImportCompiled(const std::string& text, const std::string& dir) {
  Agent a;
  if (Status s = OpenAgent(dir, &a); !s.ok()) return Run{-1, 0, s.ToString()};
  auto t0 = Steady::now();
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Run{-1, 0, "the input is not JSON"};
  return CommitEdits(&a, ImportHsdsJson(FieldSchema::Hsds(), doc, {}), t0);
}

Run ImportTabularFolder(const std::string& folder, const std::string& dir) {
  Agent a;
  if (Status s = OpenAgent(dir, &a); !s.ok()) return Run{-1, 0, s.ToString()};
  auto t0 = Steady::now();
  return CommitEdits(&a, ImportTabular(FieldSchema::Hsds(), folder, {}), t0);
}

// One synced WriteBatch of `records` puts holding `bytes` bytes in all.
double RawRocks(const std::string& dir, size_t records, uint64_t bytes) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir, &raw).ok()) return -1;
  std::unique_ptr<rocksdb::DB> db(raw);
  size_t n = std::max<size_t>(records, 1);
  std::string value(bytes / n, 'v');
  auto t0 = Steady::now();
  rocksdb::WriteBatch b;
  char key[32];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(key, sizeof key, "r/%012zu", i);
    b.Put(key, value).PermitUncheckedError();
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (!db->Write(wo, &b).ok()) return -1;
  return Seconds(t0, Steady::now());
}

}  // namespace

int RunImportBench(const ImportBenchOptions& o, std::ostream& out, std::ostream* progress) {
  std::string root = TempDir(o.dir, "import");
  if (root.empty()) {
    out << "bench import: cannot create a temporary folder under " << o.dir << "\n";
    return 1;
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{root};
  std::string input = o.input;
  if (input.empty()) {
    std::string gen = o.generator.empty() ? "examples/data/generate.py" : o.generator;
    if (!fs::exists(gen)) {
      out << "bench import: " << gen
          << " not found; run from the repository root or give --input FILE\n";
      return 1;
    }
    input = root + "/directory.json";
    if (progress) *progress << "generating " << o.orgs << " organizations (HSDS 3.0)...\n";
    std::string cmd = "python3 '" + gen + "' --quiet --format hsds --orgs " +
                      std::to_string(o.orgs) + " --out '" + input + "'";
    if (std::system(cmd.c_str()) != 0) {
      out << "bench import: the generator failed: " << cmd << "\n";
      return 1;
    }
  }
  std::string text = ReadAll(input);
  // The tabular input: the same directory, exported in the tabular form by an agent.
  std::string tabular = root + "/tabular";
  uint64_t tabular_bytes = 0;
  {
    if (progress) *progress << "writing the tabular form...\n";
    Run seed = ImportCompiled(text, root + "/seed");
    if (seed.seconds < 0) {
      out << "bench import: the compiled import failed: " << seed.error << "\n";
      return 1;
    }
    Agent a;
    if (Status s = OpenAgent(root + "/seed", &a); !s.ok()) {
      out << "bench import: " << s.ToString() << "\n";
      return 1;
    }
    std::vector<HsdsObject> objects = a.local->Read([](const Directory& d) {
      return HsdsObjectsOf(d, FieldSchema::Hsds(), Reader{"", true});
    });
    if (Status s = WriteTabular(objects, tabular); !s.ok()) {
      out << "bench import: writing the tabular form failed: " << s.ToString() << "\n";
      return 1;
    }
    tabular_bytes = BytesUnder(tabular);
  }
  std::vector<double> compiled_s, tabular_s, raw_compiled_s, raw_tabular_s;
  size_t records = 0, tabular_records = 0;
  for (int r = 0; r < o.runs; ++r) {
    if (progress) *progress << "run " << r + 1 << "/" << o.runs << "...\n";
    std::string run = root + "/run" + std::to_string(r);
    Run c = ImportCompiled(text, run + "-compiled");
    Run t = ImportTabularFolder(tabular, run + "-tabular");
    if (c.seconds < 0 || t.seconds < 0) {
      out << "bench import: an import failed: " << (c.seconds < 0 ? c.error : t.error) << "\n";
      return 1;
    }
    records = c.records;
    tabular_records = t.records;
    compiled_s.push_back(c.seconds);
    tabular_s.push_back(t.seconds);
    raw_compiled_s.push_back(RawRocks(run + "-raw-compiled", records, text.size()));
    raw_tabular_s.push_back(RawRocks(run + "-raw-tabular", tabular_records, tabular_bytes));
    std::error_code ec;
    for (const char* s : {"-compiled", "-tabular", "-raw-compiled", "-raw-tabular"})
      fs::remove_all(run + s, ec);
  }
  double cs = Median(compiled_s), ts = Median(tabular_s);
  double rc = Median(raw_compiled_s), rt = Median(raw_tabular_s);
  double c_rate = records / cs, t_rate = tabular_records / ts;
  double rc_rate = rc > 0 ? records / rc : 0, rt_rate = rt > 0 ? tabular_records / rt : 0;
  if (o.json) {
    nlohmann::json j = {
        {"records", records},
        {"compiled_bytes", text.size()},
        {"tabular_records", tabular_records},
        {"tabular_bytes", tabular_bytes},
        {"runs", o.runs},
        {"compiled_records_per_s", c_rate},
        {"compiled_seconds", cs},
        {"raw_rocksdb_compiled_shape_records_per_s", rc_rate},
        {"compiled_ratio", rc_rate > 0 ? c_rate / rc_rate : 0},
        {"tabular_records_per_s", t_rate},
        {"tabular_seconds", ts},
        {"raw_rocksdb_tabular_shape_records_per_s", rt_rate},
        {"tabular_ratio", rt_rate > 0 ? t_rate / rt_rate : 0},
        {"baseline",
         "raw RocksDB: one WriteBatch, one put per record, the input's bytes, WriteOptions.sync"}};
    out << j.dump(2) << "\n";
    return 0;
  }
  char line[256];
  out << "switchboard bench import — " << Fmt(static_cast<double>(records))
      << " records (HSDS 3.0, " << Fmt(text.size() / 1024.0) << " KiB compiled JSON, "
      << Fmt(tabular_bytes / 1024.0) << " KiB tabular), median of " << o.runs << " runs\n";
  std::snprintf(line, sizeof line, "%-30s %12s %10s %16s %7s\n", "form", "records/s", "seconds",
                "raw rocksdb r/s", "ratio");
  out << line;
  std::snprintf(line, sizeof line, "%-30s %12s %10s %16s %7.3f\n", "compiled JSON",
                Fmt(c_rate).c_str(), Fmt(cs, 2).c_str(), Fmt(rc_rate).c_str(),
                rc_rate > 0 ? c_rate / rc_rate : 0);
  out << line;
  std::snprintf(line, sizeof line, "%-30s %12s %10s %16s %7.3f\n",
                ("tabular (" + Fmt(static_cast<double>(tabular_records)) + " records)").c_str(),
                Fmt(t_rate).c_str(), Fmt(ts, 2).c_str(), Fmt(rt_rate).c_str(),
                rt_rate > 0 ? t_rate / rt_rate : 0);
  out << line;
  out << "switchboard: parse, flatten, validate, map, plan, one durable batch (LocalDirectory)\n"
         "raw: RocksDB default options, one WriteBatch with one put per record holding the "
         "input's bytes, WriteOptions.sync\n";
  return 0;
}

}  // namespace sb::bench

// `switchboard bench <benchmark>`: each benchmark prints its figures next to a raw baseline
// measured in the same run. Add a benchmark by writing one Add*Bench below and calling it from
// AddBenchCommand.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "bench/crdt_bench.h"
#include "bench/gc_bench.h"
#include "bench/import_bench.h"
#include "bench/referral_bench.h"
#include "bench/scale_bench.h"
#include "bench/store_bench.h"
#include "bench/swarm_bench.h"
#include "bench/sync_bench.h"
#include "cli/commands.h"

namespace sb::cli {
namespace {

// Progress lines go to stderr only when someone is watching it.
std::ostream* Progress() {
  return isatty(STDERR_FILENO) ? &std::cerr : nullptr;
}

void AddCrdtBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::CrdtBenchOptions>();
  CLI::App* crdt = bench.add_subcommand(
      "crdt", "in-memory CRDT throughput (join; encode+decode+join) and one-field delta size");
  crdt->add_option("--deltas", options->deltas, "one-field deltas per measured run")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->capture_default_str();
  crdt->add_option("--runs", options->runs, "runs per figure; the median is reported")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  crdt->add_flag("--json", options->json, "print one JSON object instead of a table");
  crdt->add_option("--batch", options->batch, "deltas per message for the batch figure")
      ->check(CLI::PositiveNumber);
  crdt->add_flag("!--no-yjs", options->yjs,
                 "do not run bench/yjs (Yjs on the same workload with Node.js) beside it");
  crdt->callback(
      [options, &exit_code] { exit_code = bench::RunCrdtBench(*options, std::cout, Progress()); });
}

void AddStoreBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::StoreBenchOptions>();
  CLI::App* store = bench.add_subcommand(
      "store",
      "durable acknowledged writes/s through the agent's store vs raw synced RocksDB puts; "
      "time to import the sample directory");
  store->add_option("--writes", options->writes, "acknowledged writes per measured run")
      ->check(CLI::Range(uint64_t{10}, uint64_t{10'000'000}))
      ->capture_default_str();
  store->add_option("--writers", options->writers, "concurrent writers")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  store->add_option("--runs", options->runs, "runs per figure; the median is reported")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  store->add_option("--sample", options->sample,
                    "HSDS file to import (default examples/data/directory.json)");
  store->add_option("--dir", options->dir, "where temporary databases go (default $TMPDIR)");
  store->add_flag("--json", options->json, "print one JSON object instead of a table");
  store->callback(
      [options, &exit_code] { exit_code = bench::RunStoreBench(*options, std::cout, Progress()); });
}

void AddSwarmBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::SwarmBenchOptions>();
  CLI::App* swarm = bench.add_subcommand(
      "swarm",
      "one real broker process and N light protocol clients (real keys, CURVE, signature checks, "
      "in-memory replicas) in this process (or several, past the open-file limit): directory "
      "import and single edits to all N, bytes per agent, broker CPU and RSS per session, "
      "restarts; next to the raw CURVE fan-out");
  swarm->add_option("--agents", options->agents, "partner clients")
      ->check(CLI::Range(size_t{1}, size_t{100'000}))
      ->capture_default_str();
  swarm->add_option("--directory", options->directory,
                    "HSDS file to import (default examples/data/directory.json)");
  swarm->add_option("--records", options->records, "import at most this many records (0: all)");
  swarm->add_option("--edits", options->edits, "single edits timed after the import")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  swarm->add_option("--hold", options->hold_s, "then hold the sessions this many seconds");
  swarm->add_option("--window-bytes", options->window_bytes, "each client's window in bytes")
      ->capture_default_str();
  swarm->add_option("--dir", options->dir, "where the broker's data goes (default $TMPDIR)");
  swarm->add_option("--processes", options->processes,
                    "share the clients among this many processes (default: as few as the "
                    "open-file limit allows; each client holds 2 descriptors)");
  swarm->add_flag("--skip-raw", options->skip_raw, "do not measure the raw CURVE ceiling");
  swarm->add_flag("--json", options->json, "print one JSON object instead of a table");
  swarm->callback(
      [options, &exit_code] { exit_code = bench::RunSwarmBench(*options, std::cout, Progress()); });
}

void AddImportBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::ImportBenchOptions>();
  CLI::App* import = bench.add_subcommand(
      "import",
      "HSDS 3.0 records imported per second into an agent's store, from compiled JSON and from "
      "the tabular form (CSV + datapackage.json), next to raw synced RocksDB writing the same "
      "bytes in one batch");
  import->add_option("--orgs", options->orgs, "organizations generated (3,600: ~50,000 records)")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  import->add_option("--runs", options->runs, "runs per figure; the median is reported")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  import->add_option("--input", options->input,
                     "a compiled HSDS file to import instead of a generated one");
  import->add_option("--generator", options->generator,
                     "the sample generator (default examples/data/generate.py)");
  import->add_option("--dir", options->dir, "where temporary files go (default $TMPDIR)");
  import->add_flag("--json", options->json, "print one JSON object instead of a table");
  import->callback([options, &exit_code] {
    exit_code = bench::RunImportBench(*options, std::cout, Progress());
});
}  // namespace

void AddScaleBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::ScaleBenchOptions>();
  CLI::App* scale = bench.add_subcommand(
      "scale",
      "real processes: a broker and N agents (each with RocksDB), a maintainer imports the "
      "sample directory; time to reach all, bytes per agent, restarts");
  scale->add_option("--agents", options->agents, "partner agent processes")
      ->check(CLI::Range(size_t{1}, size_t{5000}))
      ->capture_default_str();
  scale->add_option("--directory", options->directory,
                    "HSDS file to import (default examples/data/directory.json)");
  scale->add_option("--dir", options->dir, "where the data directories go (default $TMPDIR)");
  scale->add_flag("--json", options->json, "print one JSON object instead of a table");
  scale->callback(
      [options, &exit_code] { exit_code = bench::RunScaleBench(*options, std::cout, Progress()); });
}

void AddSyncBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::SyncBenchOptions>();
  CLI::App* sync = bench.add_subcommand(
      "sync",
      "in-process broker and agents over CURVE: durable updates/s into the broker's log vs raw "
      "CURVE messages and raw synced RocksDB puts; propagation latency to N agents; catch-up "
      "bytes per missed change");
  sync->add_option("--updates", options->updates, "edits per throughput run")
      ->check(CLI::Range(uint64_t{10}, uint64_t{10'000'000}))
      ->capture_default_str();
  sync->add_option("--pushers", options->pushers, "agents pushing at once in the throughput runs")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sync->add_option("--writers", options->writers, "threads editing on each pushing agent")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sync->add_option("--agents", options->agents,
                   "agents connected for the latency and catch-up figures")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  sync->add_option("--probes", options->probes,
                   "edits timed per latency series (isolated, back to back)")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  sync->add_option("--missed", options->missed, "changes an offline agent misses")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
      ->capture_default_str();
  sync->add_option("--runs", options->runs, "throughput runs; the median is reported")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  sync->add_option("--dir", options->dir, "where temporary databases go (default $TMPDIR)");
  sync->add_flag("--json", options->json, "print one JSON object instead of a table");
  sync->callback([options, &exit_code] {
    // The in-process broker and agents log every connection; only errors are worth showing.
    auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::err);
    exit_code = bench::RunSyncBench(*options, SystemClock::Get(), std::cout, Progress());
    spdlog::set_level(level);
  });
}

void AddReferralBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::ReferralBenchOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "referrals",
      "referral handoffs end to end (send -> delivered -> accepted seen by the sender) per "
      "second and single-handoff latency p50/p99, next to raw synced RocksDB puts and raw CURVE "
      "messages");
  cmd->add_option("--handoffs", options->handoffs, "handoffs per throughput run")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--probes", options->probes, "single handoffs timed for latency")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--runs", options->runs, "throughput runs; the median is reported")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--dir", options->dir, "where temporary databases go (default $TMPDIR)");
  cmd->add_flag("--json", options->json, "print one JSON object instead of a table");
  cmd->callback([options, &exit_code] {
    auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::err);
    exit_code = bench::RunReferralBench(*options, SystemClock::Get(), std::cout, Progress());
    spdlog::set_level(level);
  });
}

void AddGcBench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<bench::GcBenchOptions>();
  CLI::App* gc = bench.add_subcommand(
      "gc",
      "a year of directory churn at a broker (real RocksDB, simulated clock): store size and "
      "record counts with tombstone collection vs without it, and the ratio");
  gc->add_option("--days", options->days, "days of churn simulated")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3650}))
      ->capture_default_str();
  gc->add_option("--records", options->records, "live records (held constant)")
      ->check(CLI::Range(size_t{10}, size_t{1'000'000}))
      ->capture_default_str();
  gc->add_option("--churn", options->churn,
                 "fraction of the live records deleted (and as many "
                 "created) per day")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  gc->add_option("--edits", options->edits_per_day, "edits of live records per day")
      ->capture_default_str();
  gc->add_option("--agents", options->agents, "agents acknowledging")
      ->check(CLI::Range(size_t{1}, size_t{1000}))
      ->capture_default_str();
  gc->add_option("--report-days", options->report_days, "a line every this many days")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3650}))
      ->capture_default_str();
  gc->add_option("--dir", options->dir, "where temporary databases go (default $TMPDIR)");
  gc->add_flag("--json", options->json, "print one JSON object instead of a table");
  gc->callback(
      [options, &exit_code] { exit_code = bench::RunGcBench(*options, std::cout, Progress()); });
}

}  // namespace sb::cli

void AddBenchCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "measure throughput against raw baselines");
  bench->require_subcommand(1);
  AddCrdtBench(*bench, exit_code);
  AddStoreBench(*bench, exit_code);
  AddSyncBench(*bench, exit_code);
  AddSwarmBench(*bench, exit_code);
  AddScaleBench(*bench, exit_code);
  AddReferralBench(*bench, exit_code);
  AddGcBench(*bench, exit_code);
  AddImportBench(*bench, exit_code);
}

}  // namespace sb::cli

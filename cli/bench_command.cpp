// `switchboard bench <benchmark>`: each benchmark prints its figures next to a raw baseline
// measured in the same run. Add a benchmark by writing one Add*Bench below and calling it from
// AddBenchCommand.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "bench/crdt_bench.h"
#include "bench/store_bench.h"
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

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "measure throughput against raw baselines");
  bench->require_subcommand(1);
  AddCrdtBench(*bench, exit_code);
  AddStoreBench(*bench, exit_code);
}

}  // namespace sb::cli

// `switchboard demo [--keep] [--sample FILE]`: the sync network for real — a broker and four
// agents as child processes on 127.0.0.1 (demo/demo_network.h), narrated step by step with
// measured timings — then a short run of the deterministic network simulator. Exits 0 only
// when every step succeeded and the simulator converged.
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "demo/demo_network.h"
#include "sim/simulator.h"

namespace sb::cli {
namespace {

bool RunSimulatorStep() {
  std::cout << "\nThe network simulator: 5 replicas, 20,000 edits, loss, duplicates, partitions\n";
  sim::SimOptions opts;
  opts.replicas = 5;
  opts.ops = 20000;
  opts.seed = 7;
  opts.dup = 0.2;
  opts.drop = 0.1;
  opts.reorder = true;
  opts.partitions = 3;
  std::cout << "   switchboard sim --replicas 5 --ops 20000 --seed 7 --dup 0.2 --drop 0.1 "
               "--reorder --partitions 3\n";
  sim::SimReport report = sim::RunSimulation(opts, nullptr);
  sim::PrintReport(opts, report, std::cout);
  return report.converged;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<NetworkDemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Narrated demonstration: a broker and four agents as real processes on 127.0.0.1 (an edit "
      "propagating, a conflict, an agent catching up, a refused edit, a confidential address, "
      "a convergence check), then the network simulator");
  demo->add_flag("--keep", opts->keep,
                 "keep the temporary directory (keys, databases, logs) and print its path");
  demo->add_option("--sample", opts->sample,
                   "HSDS file to import (default: examples/data/directory.json, generated with "
                   "examples/data/generate.py when missing)")
      ->check(CLI::ExistingFile);
  demo->callback([opts, &exit_code] {
    bool network = RunNetworkDemo(*opts, std::cout);
    bool sim = RunSimulatorStep();
    exit_code = network && sim ? 0 : 1;
  });
}

}  // namespace sb::cli

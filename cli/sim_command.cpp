// `switchboard sim`: runs the deterministic simulator and prints its report; the last line of
// stdout is "converged <digest>" (exit 0) or "DIVERGED <digest>" (exit 1). With --network it
// runs the real broker and agents over a simulated network instead (sim/netsim.h). Bad option
// values are CLI11 validation errors, which main() reports with usage and exit status 2.
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "sim/netsim.h"
#include "sim/simulator.h"

namespace sb::cli {
namespace {

// A decimal integer in [lo, hi]. Rewrites the text without leading zeros, because CLI11 reads
// integers with base detection ("010" would be octal) and reads "-1" into an unsigned as 2^64-1.
CLI::Validator IntegerIn(uint64_t lo, uint64_t hi) {
  std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        uint64_t v = 0;
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (text.empty() || ec != std::errc() || ptr != end || v < lo || v > hi) {
          return "must be a whole number in " + range + " (got '" + text + "')";
        }
        text = std::to_string(v);
        return {};
      },
      range);
}

// A probability p with 0 <= p < 1.
CLI::Validator Probability() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (text.empty() || ec != std::errc() || ptr != end || !(v >= 0.0 && v < 1.0)) {
          return "must be a probability at least 0 and below 1, such as 0.1 (got '" + text + "')";
        }
        return {};
      },
      "[0,1)");
}

}  // namespace

void AddSimCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<sim::SimOptions>();
  auto network = std::make_shared<bool>(false);
  auto crashes = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "sim",
      "Deterministic simulation: N replicas edit one directory over a network that loses, "
      "duplicates and reorders messages and partitions replicas; then anti-entropy. Prints a "
      "summary and 'converged <digest>' (exit 0) or 'DIVERGED <digest>' (exit 1). The same "
      "options give the same digest on every run.");
  cmd->add_option("--replicas", options->replicas, "number of replicas")
      ->transform(IntegerIn(1, 64))
      ->capture_default_str();
  cmd->add_option("--ops", options->ops, "edits performed across all replicas")
      ->transform(IntegerIn(0, 1'000'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "seed of every random choice")
      ->transform(IntegerIn(0, std::numeric_limits<uint64_t>::max()))
      ->capture_default_str();
  cmd->add_option("--dup", options->dup, "probability that a message is delivered twice")
      ->transform(Probability())
      ->capture_default_str();
  cmd->add_option("--drop", options->drop, "probability that a message is lost")
      ->transform(Probability())
      ->capture_default_str();
  cmd->add_flag("--reorder", options->reorder, "deliver messages after random delays");
  cmd->add_option("--partitions", options->partitions,
                  "partition episodes: each splits the replicas in two for a while")
      ->transform(IntegerIn(0, 100'000))
      ->capture_default_str();
  CLI::Option* network_flag = cmd->add_flag(
      "--network", *network,
      "run the real broker and agents (one maintainer, the other replicas partners, each with "
      "its own store in $TMPDIR) over the simulated network");
  cmd->add_option("--crashes", *crashes,
                  "with --network: crashes and restarts of the broker or an agent at random times")
      ->transform(IntegerIn(0, 100'000))
      ->needs(network_flag)
      ->capture_default_str();
  cmd->callback([options, network, crashes, &exit_code] {
    std::ostream* progress = isatty(STDERR_FILENO) ? &std::cerr : nullptr;
    if (*network) {
      sim::NetSimOptions o;
      o.agents = options->replicas;
      o.ops = options->ops;
      o.seed = options->seed;
      o.dup = options->dup;
      o.drop = options->drop;
      o.reorder = options->reorder;
      o.partitions = options->partitions;
      o.crashes = *crashes;
      sim::NetSimReport report = sim::RunNetworkSimulation(o, progress);
      sim::PrintNetReport(o, report, std::cout);
      std::cout.flush();
      exit_code = report.converged ? 0 : 1;
      return;
    }
    sim::SimReport report = sim::RunSimulation(*options, progress);
    sim::PrintReport(*options, report, std::cout);
    std::cout.flush();
    exit_code = report.converged ? 0 : 1;
  });
}

}  // namespace sb::cli

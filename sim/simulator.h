// The deterministic simulator behind `switchboard sim`: N replicas edit one shared directory
// and exchange encoded deltas over a simulated network that loses, duplicates and reorders
// messages and partitions replicas, on a simulated clock; then partitions heal and anti-entropy
// runs until quiet. Every random choice comes from one seeded generator (no wall clock, no
// global randomness), so the same options give the same digest byte for byte on every run.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace sb::sim {

struct SimOptions {
  int replicas = 3;
  uint64_t ops = 1000;
  uint64_t seed = 1;
  double dup = 0.0;      // probability that a message is delivered twice
  double drop = 0.0;     // probability that a message is lost
  bool reorder = false;  // deliver in random order rather than send order
  int partitions = 0;    // number of partition episodes during the run
};

struct SimReport {
  uint64_t ops = 0;          // mutations attempted, including refused ones
  uint64_t refused_ops = 0;  // mutations the replica refused (e.g. edit of deleted record)
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;          // encoded size of the messages sent
  uint64_t messages_delivered = 0;  // including duplicates
  uint64_t messages_dropped = 0;    // lost by the network or cut by a partition
  uint64_t messages_duplicated = 0;
  uint64_t deltas_rejected = 0;  // refused by a receiver (must stay 0: all edits are valid)
  uint64_t conflicts_seen = 0;   // distinct (record, field) pairs that ever had siblings
  uint64_t anti_entropy_rounds = 0;
  uint64_t records = 0;              // records in the final state
  uint64_t final_conflicts = 0;      // conflicts in the final views
  uint64_t final_deleted_edits = 0;  // of which: edits concurrent with the record's deletion
  bool converged = false;            // equal states and equal views on every replica
  std::string digest_hex;            // BLAKE2b-256 of replica 0's canonical encoding
  std::string failure;               // why the run did not converge (first rejection); "" if none
};

// Runs the simulation. `progress` (may be null) receives a few human-readable lines.
SimReport RunSimulation(const SimOptions& options, std::ostream* progress);

// Prints the summary and the final line: "converged <digest>" or "DIVERGED <digest>".
void PrintReport(const SimOptions& options, const SimReport& report, std::ostream& out);

}  // namespace sb::sim

// `switchboard bench sync`: the sync network in one process, over real CURVE and ZAP on
// 127.0.0.1 — a BrokerServer on its own thread and agents (LocalDirectory + SyncClient), each
// with its own store in a temporary directory. Three figures:
//  1. durable updates/s from an agent's edits into the broker's durable log, next to raw CURVE
//     DEALER->ROUTER messages/s and raw synced RocksDB puts/s of the same size, measured in the
//     same run;
//  2. propagation latency (p50, p99) from one agent's edit to each of the other agents;
//  3. bytes an agent receives per change it missed while offline, next to the size of one
//     delta and of the full directory.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "base/clock.h"

namespace sb::bench {

struct SyncBenchOptions {
  uint64_t updates = 4000;  // edits per throughput run (all writer threads together)
  int pushers = 16;         // agents editing and pushing at once in the throughput runs
  int writers = 2;          // threads calling Apply on each pushing agent
  int agents = 100;         // agents connected for the latency and catch-up figures
  int probes = 20;          // edits whose propagation is timed
  uint64_t missed = 200;    // changes an offline agent misses before it reconnects
  int runs = 3;             // throughput runs; the median is reported
  std::string dir;          // where temporary databases go; empty: $TMPDIR or /tmp
  bool json = false;
};

// `clock` is the network's clock (HLC stamps, skew checks, sync timeouts); the figures are
// measured with std::chrono::steady_clock. Returns the process exit status.
int RunSyncBench(const SyncBenchOptions& options, Clock* clock, std::ostream& out,
                 std::ostream* progress);

}  // namespace sb::bench

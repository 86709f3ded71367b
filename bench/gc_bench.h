// `switchboard bench gc`: a year of directory churn at a broker, with tombstone collection and
// without it (the baseline), in the same run. A core-level simulation: a real BrokerCore over a
// real RocksDB store (WAL not synced), a ManualClock that moves through the days, one partner
// writing (creates, edits and deletes over a live directory of constant size) and a few agents
// acknowledging what the log holds each day (one of them away for 45 days in the middle, so
// it turns stale). Every `report_days` it compacts the store and prints its size on disk and
// the record counts for both runs, and the ratio; with collection, the store should stay
// proportional to the live directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace sb::bench {

struct GcBenchOptions {
  uint64_t days = 365;
  size_t records = 500;       // the live directory's size, held constant
  double churn = 0.02;        // records deleted (and as many created) per day, a fraction
  size_t edits_per_day = 30;  // edits of live records per day
  size_t agents = 3;          // agents acknowledging
  uint64_t report_days = 30;  // a line every this many days
  std::string dir;            // where temporary databases go; empty: $TMPDIR or /tmp
  bool json = false;
};

int RunGcBench(const GcBenchOptions& options, std::ostream& out, std::ostream* progress);

}  // namespace sb::bench

// `switchboard bench store`: durable acknowledged writes through the agent's store, next to raw
// RocksDB synced WriteBatch puts of the same value size measured in the same run; and the time
// to import the sample directory.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace sb::bench {

struct StoreBenchOptions {
  uint64_t writes = 4000;  // acknowledged writes per measured run (all writers together)
  int writers = 8;         // concurrent writers (API handler threads in the agent)
  int runs = 3;            // the median run is reported
  std::string sample;      // HSDS file to import; empty: examples/data/directory.json
  std::string dir;         // where to put temporary databases; empty: $TMPDIR or /tmp
  bool json = false;
};

int RunStoreBench(const StoreBenchOptions& options, std::ostream& out, std::ostream* progress);

}  // namespace sb::bench

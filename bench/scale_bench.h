// `switchboard bench scale`: the scale check with real processes, as an operator would run the
// network (issue 15): a `switchboard broker` process and N `switchboard agent` processes, each
// with its own data directory and RocksDB, CURVE over loopback; a maintainer's agent imports
// the sample directory through its local API. It prints the time for the directory to reach
// every agent, the bytes each received over the directory's size, the broker's CPU and RSS,
// and every session restart, repeat and rewind counted by the broker and the agents. Not part
// of the test suite (tests/integration/scale_test.cpp runs 30 agents there).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>

namespace sb::bench {

struct ScaleBenchOptions {
  size_t agents = 200;
  std::string directory;  // HSDS file (default examples/data/directory.json)
  std::string binary;     // the switchboard binary (default: this process's)
  std::string dir;        // where the data directories go (default $TMPDIR)
  bool json = false;
};

int RunScaleBench(const ScaleBenchOptions& options, std::ostream& out, std::ostream* progress);

}  // namespace sb::bench

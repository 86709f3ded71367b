// `switchboard bench import`: HSDS 3.0 records imported per second into an agent's store, from
// compiled JSON (a JSON array of compiled organizations, the shape of the official examples)
// and from the tabular form (CSV files + datapackage.json), next to raw RocksDB writing the same
// bytes in the same shape (one synced WriteBatch of as many puts as records, the input's bytes
// spread over them), measured in the same run.
#pragma once

#include <ostream>
#include <string>

namespace sb::bench {

struct ImportBenchOptions {
  int orgs = 3600;        // organizations generated (3,600 give about 50,000 records)
  int runs = 3;           // the median run is reported
  std::string input;      // a compiled HSDS file to use instead of generating one
  std::string generator;  // examples/data/generate.py (found from the working directory)
  std::string dir;        // where temporary files and databases go; empty: $TMPDIR or /tmp
  bool json = false;
};

int RunImportBench(const ImportBenchOptions& options, std::ostream& out, std::ostream* progress);

}  // namespace sb::bench

// `switchboard bench crdt`: in-memory CRDT throughput and encoded delta size.
#pragma once

#include <cstdint>
#include <ostream>

namespace sb::bench {

struct CrdtBenchOptions {
  uint64_t deltas = 200'000;  // deltas per measured run
  int runs = 5;               // runs per figure; the median is reported
  bool json = false;          // print one JSON object instead of a table
  uint64_t batch = 500;       // deltas per message in the batch figure (the sync interval)
  bool yjs = true;            // run bench/yjs with Node.js, if present, and print its figures
};

// Measures and prints (to `out`) a small table:
//  - deltas joined per second in memory (one-field register writes into a directory of
//    records), next to a raw baseline (plain std::map assignment of the same values) and ratio;
//  - deltas encoded + decoded + joined per second, next to a raw baseline (Cap'n Proto
//    encode + decode of a message of the same size, no CRDT) and ratio;
//  - mean encoded size of a one-field delta in bytes (format version 2, and version 1 for
//    comparison), next to the bytes of its id, field and value alone;
//  - the same deltas sent `batch` to a message (EncodeDeltaBatch): bytes per delta and
//    encode+decode+join per second;
//  - Yjs (bench/yjs, run with `node` when it and its node_modules are there) on the same
//    workload: Y.applyUpdate of every update into a fresh doc per second, mean update bytes,
//    and the ratio of encode+decode+join to it.
// Progress goes to `progress` (may be null). Returns 0, 2 for invalid options, 1 when a
// workload step fails.
int RunCrdtBench(const CrdtBenchOptions& options, std::ostream& out, std::ostream* progress);

}  // namespace sb::bench

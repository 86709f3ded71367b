// `switchboard bench swarm`: one broker for a national network (DESIGN.md §11, issue 15).
//
// A real `switchboard broker` process with a fresh data directory, and N lightweight protocol
// clients in this process (or, beyond what one process may hold open, shared among forked
// worker processes): each with its own enrolled keys, its own CURVE handshake over
// loopback TCP (a real DEALER socket), the real protocol (Hello, windowed Credits, rewind,
// checkpoints), a check of every signed delta it receives, and an in-memory replica (the
// decoded deltas it applied, shared between clients that received the same bytes) instead of
// RocksDB — so that what is measured is the broker's cost per agent, not N RocksDB instances
// on two cores. A maintainer client imports the sample directory; then single edits fan out.
//
// It prints: the time for the whole directory to reach all N, next to the raw ceiling measured
// in the same run (a raw CURVE ROUTER sending the same bytes, in messages of the same sizes,
// to the same N CURVE DEALERs: no Switchboard), and the ratio; single-edit fan-out p50/p99 to
// all N; bytes received per agent over the bytes it needed (the directory's encoded state
// and the roster; ideal 1.0); the broker's CPU seconds and its RSS per connected session;
// session restarts; optionally how the sessions hold for a while (heartbeats only).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace sb::bench {

struct SwarmBenchOptions {
  size_t agents = 100;
  std::string directory;              // HSDS file (default examples/data/directory.json)
  size_t records = 0;                 // import at most this many records (0: all)
  int edits = 20;                     // single edits timed after the import
  uint64_t hold_s = 0;                // then hold the sessions this long and check them
  uint32_t window_bytes = 512 << 10;  // each client's flow-control window
  std::string binary;                 // the switchboard binary (default: this process's)
  std::string dir;                    // where the broker's data goes (default $TMPDIR)
  size_t processes = 0;   // share the clients among this many processes (0: as few as the
                          // open-file limit allows)
  bool skip_raw = false;  // skip the raw CURVE ceiling
  uint64_t import_timeout_s = 1800;
  bool json = false;
};

// Returns 0, 2 for invalid options, 1 when a step fails (with the reason on `out`).
int RunSwarmBench(const SwarmBenchOptions& options, std::ostream& out, std::ostream* progress);

}  // namespace sb::bench

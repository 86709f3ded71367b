// The network simulator behind `switchboard sim --network`: the real broker and agent logic
// (BrokerCore, AgentSync, LocalDirectory, each node with its own RocksDB store in a temporary
// directory) exchange their real envelopes over a simulated network, on simulated clocks.
// The simulator plays the transport and ZAP: every agent's connection is tagged with its
// organization. The network loses, duplicates and delays messages; partitions cut agents off
// the broker (a disconnect, then a reconnect once healed); crashes destroy a node's objects and
// reopen them from its directory. Then partitions heal, faults stop, and the run continues
// until quiet; every agent's state is compared with what the broker lets it see.
//
// Determinism: one seeded generator, consumed in a fixed order on one thread; time moves only
// when the simulator advances the ManualClocks. The same options give the same digest on every
// run. (The committer threads of LocalDirectory do not matter: every call into it blocks until
// its write is durable.)
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace sb::sim {

struct NetSimOptions {
  int agents = 3;       // one maintainer and agents - 1 partners
  uint64_t ops = 1000;  // edits attempted across all agents
  uint64_t seed = 1;
  double dup = 0.0;      // probability that a message is delivered twice
  double drop = 0.0;     // probability that a message is lost
  bool reorder = false;  // random delays rather than a fixed latency
  int partitions = 0;    // episodes that cut some agents off the broker for a while
  int crashes = 0;       // crash-and-restart of the broker or an agent, at random times
  // The workload, for tests that isolate a behaviour (the command keeps both on):
  bool planted_refusals = true;  // partners sometimes make edits the broker must refuse
  bool set_removals = true;      // set edits may remove an element (not only add one)
};

struct NetSimReport {
  uint64_t ops = 0;                  // edits attempted
  uint64_t refused_locally = 0;      // refused by the agent itself (e.g. edit of a deleted record)
  uint64_t planted_refusals = 0;     // edits made to be refused by the broker (foreign records,
                                     // maintainer-only fields), accepted locally
  uint64_t refused_by_broker = 0;    // rejections the agents recorded (taken back)
  uint64_t unexpected_refusals = 0;  // of which: not planted
  std::string first_unexpected_refusal;  // "agent <i>: <reason>"
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_delivered = 0;  // including duplicates
  uint64_t messages_dropped = 0;    // lost by the network
  uint64_t messages_cut = 0;        // lost with their connection (partition, crash)
  uint64_t messages_duplicated = 0;
  uint64_t connects = 0;  // connections opened, first ones included
  uint64_t crashes_broker = 0, crashes_agents = 0;
  uint64_t log_gaps = 0;            // Updates that arrived past a gap (the agent resynchronised)
  uint64_t log_head = 0;            // the broker's log head at the end
  uint64_t records = 0;             // records at the broker at the end
  uint64_t drain_ms = 0;            // simulated time from the end of the edits until quiet
  bool quiet = false;               // outboxes empty, cursors at the head, nothing in flight
  uint64_t confidential_diffs = 0;  // partners' confidential address fields differing from the
                                    // broker's filtered view (not part of convergence)
  uint64_t confidential_leaks = 0;  // of which: the partner still shows an address the broker
                                    // now hides from it
  uint64_t diverged_agents = 0;     // agents whose state differs from what the broker shows them
  uint64_t differing_records = 0;   // records that differ, summed over those agents
  bool converged = false;
  std::string digest_hex;  // BLAKE2b-256 of the broker's EncodeDirectory
  std::string failure;     // why the run did not converge; "" if it did
};

// Runs the simulation. `progress` (may be null) receives a few human-readable lines.
// Stores live under $TMPDIR (or /tmp) and are removed before returning.
NetSimReport RunNetworkSimulation(const NetSimOptions& options, std::ostream* progress);

// Prints the summary and the final line: "converged <digest>" or "DIVERGED <digest>".
void PrintNetReport(const NetSimOptions& options, const NetSimReport& report, std::ostream& out);

}  // namespace sb::sim

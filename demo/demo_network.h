// The network half of `switchboard demo`: a broker and four agents (one maintainer, three
// partners) as real child processes of this one, on 127.0.0.1, in a temporary directory.
// It creates their keys with `switchboard init`, enrolls them, imports the sample directory
// through the maintainer, then narrates with measured timings: an edit propagating, a
// concurrent conflict, an agent catching up after being offline, a cross-organization edit
// refused by the broker, a confidential address that never leaves its owner, and a final
// convergence check over every agent's export.
//
// Every wait polls with a deadline; nothing relies on a fixed sleep. Children are told to die
// with the demo (PR_SET_PDEATHSIG), are stopped with SIGTERM at the end, and the temporary
// directory is removed unless `keep` is set or a step failed (then its logs are kept and
// named).
#pragma once

#include <ostream>
#include <string>

namespace sb::cli {

struct NetworkDemoOptions {
  bool keep = false;       // keep the temporary directory (its path is printed)
  std::string sample;      // HSDS file to import; "" finds examples/data/directory.json
  std::string executable;  // the switchboard binary; "" uses /proc/self/exe
};

// Runs the narrated demo, writing to `out`. True when every step succeeded.
bool RunNetworkDemo(const NetworkDemoOptions& options, std::ostream& out);

}  // namespace sb::cli

// What the benchmarks that run real `switchboard` processes share (bench swarm, bench scale):
// spawning and reaping them, their CPU and memory from /proc, the open-file limit.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sb::bench {

// Runs `args` (testing/process.h) with stdout and stderr appended to `log`; the child dies
// with this process. Returns the pid, or -1 (also when `log` cannot be opened).
pid_t Spawn(const std::vector<std::string>& args, const std::string& log);
// Waits for `pid`; its exit code, or -1 when it died from a signal.
int Wait(pid_t pid);
// The running binary's path (/proc/self/exe).
std::string SelfBinary();

// CPU seconds (user + system) and resident bytes of a process, from /proc.
struct ProcUsage {
  uint64_t peak_rss = 0;  // VmHWM: the most resident memory so far
  double cpu_s = 0;
  uint64_t rss = 0;
};
ProcUsage Usage(pid_t pid);

// Raises the open-file limit towards `want` as far as allowed; returns the limit now.
size_t RaiseFileLimit(size_t want);

}  // namespace sb::bench

#include "bench/bench_proc.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "testing/process.h"

namespace sb::bench {

// CPU seconds (user + system) and resident bytes of a process, from /proc.
ProcUsage Usage(pid_t pid) {
  ProcUsage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoul(field);
      if (i == 15) stime = std::stoul(field);
    }
    u.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss = std::stoull(line.substr(6)) * 1024;
    if (line.rfind("VmHWM:", 0) == 0) u.peak_rss = std::stoull(line.substr(6)) * 1024;
  }
  return u;
}

std::string SelfBinary() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The child is released at once: the benchmarks signal and reap it by pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  testing::SpawnOptions options;
  options.args = args;
  options.output_file = log;
  options.null_stdin = false;
  Result<testing::Process> child = testing::Process::Spawn(options);
  return child.ok() ? child->Release() : -1;
}

int Wait(pid_t pid) {
  Result<testing::ExitStatus> status = testing::WaitForPid(pid);
  return status.ok() && status->signal == 0 ? status->code : -1;
}

// Raises the open-file limit as far as allowed: every client is a socket and a connection.
size_t RaiseFileLimit(size_t want) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < want) {
    rlimit up = r;
    up.rlim_cur = std::min<rlim_t>(want, r.rlim_max);
    if (want > r.rlim_max) {  // root may raise the hard limit too
      rlimit root{want, want};
      if (::setrlimit(RLIMIT_NOFILE, &root) == 0) return want;
    }
    ::setrlimit(RLIMIT_NOFILE, &up);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

}  // namespace sb::bench

// The one fork/exec of the project: runs a program as a child process, with its output in a
// file or a pipe, and waits for it, signals it or kills it. Used by the process tests, the
// narrated demo and the benchmarks that run real `switchboard` daemons.
//
// The child dies with the thread that spawned it (PR_SET_PDEATHSIG), so a crashed test or demo
// leaves no daemon behind: spawn from the thread that outlives the child. A Process owns its
// child: destroying it kills (SIGKILL) and reaps a child still running, unless Release()d.
// Not thread-safe, except that pid() may be read from anywhere.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace sb::testing {

struct SpawnOptions {
  std::vector<std::string> args;  // args[0] is the program's path (no $PATH search)
  std::vector<std::string> env;   // "NAME=value", over the parent's environment
  std::string cwd;                // "" keeps the parent's
  // stdout and stderr: appended to output_file (created with output_mode) when it is set; else
  // into a pipe when capture_output (read with ReadOutput); else the parent's.
  std::string output_file;
  mode_t output_mode = 0644;
  bool capture_output = false;
  bool null_stdin = true;  // stdin from /dev/null (else the parent's)
};

// How a child ended.
struct ExitStatus {
  int code = 0;    // its exit code, when signal is 0
  int signal = 0;  // the signal that killed it, or 0

  bool success() const { return signal == 0 && code == 0; }
  int ShellCode() const { return signal ? 128 + signal : code; }  // as a shell reports it
  std::string ToString() const;  // "exit code 3", "killed by signal 9"
};

class Process {
 public:
  // Forks and execs. Fails when the output file or pipe cannot be opened or fork fails; a
  // program that cannot be executed exits with code 127 (126 when the parent died first or
  // cwd does not exist).
  static Result<Process> Spawn(const SpawnOptions& options);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // Kill() unless released

  pid_t pid() const { return pid_; }  // -1 once reaped or released
  // Reaps the child if it has exited; whether it still runs.
  bool running();
  // How it ended, once reaped.
  const std::optional<ExitStatus>& exit_status() const { return status_; }

  // Sends `sig` (nothing once reaped).
  void Signal(int sig);
  // SIGKILL, then reaps it (nothing once reaped).
  void Kill();
  // Waits for the child to exit and reaps it.
  ExitStatus Wait();
  // Waits up to `deadline`; Unavailable when it still runs then (it is left running).
  Result<ExitStatus> Wait(std::chrono::milliseconds deadline);
  // SIGTERM, then waits up to `deadline`; kills it when it does not exit by then
  // (Unavailable).
  Result<ExitStatus> Stop(std::chrono::milliseconds deadline);

  // With capture_output: appends the child's output to `out` until it closes its end (EOF,
  // normally when it exits). Unavailable when `deadline` passes first.
  Status ReadOutput(std::chrono::milliseconds deadline, std::string* out);

  // Gives the child up: this object no longer kills, reaps or signals it. Returns its pid.
  pid_t Release();

 private:
  Process() = default;
  void Reaped(int wstatus);
  void CloseOutput();

  pid_t pid_ = -1;
  int output_fd_ = -1;  // the read end of the capture pipe
  std::optional<ExitStatus> status_;
};

// Waits for any child `pid` (also one not spawned by a Process, or released) and reaps it;
// FailedPrecondition when it is not a child of this process.
Result<ExitStatus> WaitForPid(pid_t pid);

// Polls `condition` until it holds or `deadline` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace sb::testing

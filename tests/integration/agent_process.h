// Test harness: a real `switchboard agent` process on loopback (its temporary directories and
// the child process itself come from testing/).
//
// AgentProcess::Start spawns $SWITCHBOARD_BIN (set by meson) with
// `agent --data DIR --api 127.0.0.1:0` (no --api of its own when the extra arguments have one;
// another daemon with a ProcessSpec), sends its output to DIR/../agent.log (appended, so a
// test's restarts share one log), and returns once DIR/agent.json names the child's pid and
// /healthz answers. Requests open a fresh connection each, so they may be made from several
// threads at once, also while another thread kills the process.
//
// Must be started from the thread that outlives the agent (the child is told to die with it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace sb::testing {

// What a request got back. status 0 means no HTTP response at all (connection refused or cut).
struct Reply {
  int status = 0;
  nlohmann::json body;  // parsed JSON, or null when the body was not JSON
  std::string raw;
  std::string error;             // the transport error when status is 0
  std::string Describe() const;  // for assertion messages
};

// Which `switchboard` daemon to run. The defaults run an agent; a broker is
// {"broker", "broker.json", "broker.log"}. Both write DIR/<runtime_file> with {"api", "pid"}
// and serve GET /healthz with the bearer token in DIR/api.token.
struct ProcessSpec {
  std::string command = "agent";            // the subcommand
  std::string runtime_file = "agent.json";  // written once it serves, under DIR
  std::string log_name = "agent.log";       // output, appended, next to DIR
  std::vector<std::string> env;             // "NAME=value", over the test's environment
};

class AgentProcess {
 public:
  static Result<std::unique_ptr<AgentProcess>> Start(
      const std::string& data_dir, const std::vector<std::string>& extra_args = {},
      const ProcessSpec& spec = {});
  // The two halves of Start: spawn without waiting, then wait until it serves.
  static Result<std::unique_ptr<AgentProcess>> Launch(
      const std::string& data_dir, const std::vector<std::string>& extra_args = {},
      const ProcessSpec& spec = {});
  Status WaitUntilReady(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  ~AgentProcess();  // kills the agent if still running
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  Reply Get(const std::string& path) const;
  Reply Put(const std::string& path, const nlohmann::json& body) const;
  Reply PutRaw(const std::string& path, const std::string& body) const;
  Reply Delete(const std::string& path) const;
  Reply Post(const std::string& path, const nlohmann::json& body = nlohmann::json::object()) const;
  // Any method, with an explicit Authorization header ("" sends none).
  Reply Send(const std::string& method, const std::string& path, const std::string& body,
             const std::string& authorization) const;

  // SIGKILL, then reaps the process.
  void Kill();
  // SIGTERM, then waits up to `deadline` for a clean exit; returns the exit code, or an error
  // when the agent had to be killed or died from a signal.
  Result<int> Stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // Sends `sig` (nothing once reaped).
  void Signal(int sig);
  // Waits up to `deadline` for the process to exit and reaps it; returns the exit code, or an
  // error when it is still running (it is then killed) or died from a signal.
  Result<int> WaitForExit(std::chrono::milliseconds deadline);

  pid_t pid() const { return process_.pid(); }
  int port() const { return port_; }
  const std::string& token() const { return token_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string LogPath() const;

 private:
  explicit AgentProcess(Process process) : process_(std::move(process)) {}

  std::string data_dir_;
  ProcessSpec spec_;
  Process process_;
  int port_ = 0;
  std::string token_;
};

// The path of the built binary (SWITCHBOARD_BIN), or "" when the test was not run by meson.
std::string SwitchboardBinary();

// The last `bytes` of a file (for failure messages), or "" when unreadable.
std::string Tail(const std::string& file, size_t bytes = 4000);

}  // namespace sb::testing

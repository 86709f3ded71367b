// Test harness for the sync network with real processes on loopback: a `switchboard broker`
// (BrokerProcess) and agents started with --broker (AgentProcess), data directories made with
// `switchboard init`, enrolment through the broker's API, and polling helpers with deadlines.
//
// The broker keeps one sync endpoint (a free port picked when it is created) across restarts,
// so agents started with its AgentArgs() reconnect to it. Its output goes to DIR/../broker.log.
// Like AgentProcess, start it from the thread that outlives it.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "testing/free_port.h"
#include "tests/integration/agent_process.h"

namespace sb::testing {

// What a finished `switchboard` command printed (stdout and stderr together).
struct CommandOutput {
  int exit_code = -1;
  std::string output;
};

// Runs argv[0] (a path) with its arguments and waits for it to exit (killed after `deadline`).
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds deadline = std::chrono::seconds(30));
// Runs $SWITCHBOARD_BIN with `args` and waits for it to exit (killed after `deadline`).
Result<CommandOutput> RunSwitchboard(const std::vector<std::string>& args,
                                     std::chrono::milliseconds deadline = std::chrono::seconds(30));

// `switchboard init --data DIR --org ORG` (with --broker for a broker's directory).
Status InitDataDir(const std::string& dir, const std::string& org, bool broker = false);

class BrokerProcess {
 public:
  // Makes DIR with `switchboard init --broker` and picks the sync port; does not start it.
  static Result<std::unique_ptr<BrokerProcess>> Create(const std::string& data_dir,
                                                       const std::string& org = "coordinator");
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;
  ~BrokerProcess();  // kills the broker if still running

  // Starts the broker (again) on its endpoint; returns once broker.json names it and its API
  // answers. `extra_args` go after the harness's own (e.g. {"--log-retention", "10"}).
  Status Start(const std::vector<std::string>& extra_args = {});
  void Kill();         // SIGKILL, then reaps it
  Result<int> Stop();  // SIGTERM; the exit code
  bool running() const { return process_ != nullptr; }

  Reply Get(const std::string& path) const;
  Reply Post(const std::string& path, const nlohmann::json& body = nlohmann::json::object()) const;
  nlohmann::json ApiStatus() const;  // GET /v1/status, or null when it does not answer 200

  // Enrols the organization whose data directory is `agent_dir` (its identity.pub) as `role`.
  Status Enroll(const std::string& agent_dir, const std::string& role);
  Status Revoke(const std::string& org);

  const std::string& data_dir() const { return data_dir_; }
  // The running broker's API port and bearer token (0 and "" while stopped).
  int api_port() const { return process_ ? process_->port() : 0; }
  std::string token() const { return process_ ? process_->token() : ""; }
  const std::string& endpoint() const { return endpoint_; }  // tcp://127.0.0.1:PORT
  // Arguments added to every Start from now on (before its own extra_args).
  void set_default_args(std::vector<std::string> args) { default_args_ = std::move(args); }
  std::string key_path() const { return data_dir_ + "/identity.pub"; }
  std::string LogPath() const;
  // The arguments that make an agent sync with this broker.
  std::vector<std::string> AgentArgs() const;

 private:
  BrokerProcess() = default;

  std::string data_dir_, endpoint_;
  std::vector<std::string> default_args_;
  std::unique_ptr<AgentProcess> process_;  // null while stopped
};

// Starts an agent on `data_dir` syncing with `broker`; its output goes to DIR/../<name>.log
// where name is the directory's own name. `extra_args` go after the broker's.
// `env` ("NAME=value") is added to the agent's environment (e.g. faketime's).
Result<std::unique_ptr<AgentProcess>> StartSyncingAgent(
    const std::string& data_dir, const BrokerProcess& broker,
    const std::vector<std::string>& extra_args = {}, const std::vector<std::string>& env = {});

// ---------- reading an agent ----------

// GET /v1/status (null when it does not answer 200); its "sync" member is the session.
nlohmann::json AgentStatus(const AgentProcess& agent);
// The sync session's state ("ready", "connecting", ...), or "" when unknown.
std::string SyncState(const AgentProcess& agent);
// GET /v1/records/{id}: the record, or null when the agent does not have it.
nlohmann::json RecordOf(const AgentProcess& agent, const std::string& id);
// The record's field object ({"value": ..., "conflict": ...}), or null when absent.
nlohmann::json FieldOf(const AgentProcess& agent, const std::string& id, const std::string& field);

// ---------- waiting, with deadlines ----------

bool WaitUntilSyncReady(const AgentProcess& agent,
                        std::chrono::milliseconds deadline = std::chrono::seconds(10));
// Until the agent's GET /v1/records/{id} shows `value` as the field's displayed value.
bool WaitForValue(const AgentProcess& agent, const std::string& id, const std::string& field,
                  const nlohmann::json& value,
                  std::chrono::milliseconds deadline = std::chrono::seconds(10));
// Until the agent's outbox is empty: the broker has acknowledged every local edit.
bool WaitUntilOutboxEmpty(const AgentProcess& agent,
                          std::chrono::milliseconds deadline = std::chrono::seconds(20));
// Until the agent's cursor reaches the broker's log head (the broker's view of it now; wait
// for the writers' outboxes to empty first, or edits still on their way are not counted).
bool WaitUntilCaughtUp(const AgentProcess& agent, const BrokerProcess& broker,
                       std::chrono::milliseconds deadline = std::chrono::seconds(20));

// Whether `needle` occurs in any file under `dir` (bytes, not text); the first file found.
std::string FileContaining(const std::string& dir, const std::string& needle);

}  // namespace sb::testing

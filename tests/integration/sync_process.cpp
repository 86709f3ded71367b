#include "tests/integration/sync_process.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sb::testing {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string ReadAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

// ---------- commands ----------

Result<CommandOutput> RunSwitchboard(const std::vector<std::string>& args,
                                     std::chrono::milliseconds deadline) {
  std::string bin = SwitchboardBinary();
  if (bin.empty())
    return Status::FailedPrecondition("SWITCHBOARD_BIN is not set (run via meson test)");
  std::vector<std::string> all = {bin};
  all.insert(all.end(), args.begin(), args.end());
  return RunCommand(all, deadline);
}

Result<CommandOutput> RunCommand(const std::vector<std::string>& args,
                                 std::chrono::milliseconds deadline) {
  if (args.empty()) return Status::InvalidArgument("no command");
  SpawnOptions options;
  options.args = args;
  options.capture_output = true;
  ASSIGN_OR_RETURN(Process process, Process::Spawn(options));
  CommandOutput out;
  if (!process.ReadOutput(deadline, &out.output).ok()) {
    process.Kill();
    return Status::Unavailable(Joined(args) + " did not finish in time: " + out.output);
  }
  out.exit_code = process.Wait().ShellCode();
  return out;
}

Status InitDataDir(const std::string& dir, const std::string& org, bool broker) {
  std::vector<std::string> args = {"init", "--data", dir, "--org", org};
  if (broker) args.push_back("--broker");
  ASSIGN_OR_RETURN(CommandOutput out, RunSwitchboard(args));
  if (out.exit_code != 0) {
    return Status::Internal("switchboard " + Joined(args) + " exited with " +
                            std::to_string(out.exit_code) + ": " + out.output);
  }
  return Status::Ok();
}

// ---------- BrokerProcess ----------

Result<std::unique_ptr<BrokerProcess>> BrokerProcess::Create(const std::string& data_dir,
                                                             const std::string& org) {
  RETURN_IF_ERROR(InitDataDir(data_dir, org, /*broker=*/true));
  ASSIGN_OR_RETURN(int port, FreePort());
  std::unique_ptr<BrokerProcess> b(new BrokerProcess());
  b->data_dir_ = data_dir;
  b->endpoint_ = "tcp://127.0.0.1:" + std::to_string(port);
  return b;
}

BrokerProcess::~BrokerProcess() {
  Kill();
}

std::string BrokerProcess::LogPath() const {
  return fs::path(data_dir_).lexically_normal().parent_path().string() + "/broker.log";
}

Status BrokerProcess::Start(const std::vector<std::string>& extra_args) {
  if (process_) return Status::FailedPrecondition("the broker is already running");
  std::vector<std::string> args = {"--listen", endpoint_, "--api", "127.0.0.1:0"};
  args.insert(args.end(), default_args_.begin(), default_args_.end());
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  ProcessSpec spec{"broker", "broker.json", "broker.log", {}};
  ASSIGN_OR_RETURN(process_, AgentProcess::Start(data_dir_, args, spec));
  // broker.json is written after the sync socket is bound: it names the endpoint we chose.
  json runtime = json::parse(ReadAll(data_dir_ + "/broker.json"), nullptr, false);
  if (!runtime.is_object() || runtime.value("listen", "") != endpoint_) {
    return Status::Internal("the broker does not listen on " + endpoint_ + ": " +
                            (runtime.is_discarded() ? "" : runtime.dump()));
  }
  return Status::Ok();
}

void BrokerProcess::Kill() {
  if (process_) process_->Kill();
  process_.reset();
}

Result<int> BrokerProcess::Stop() {
  if (!process_) return Status::FailedPrecondition("the broker is not running");
  Result<int> code = process_->Stop();
  process_.reset();
  return code;
}

Reply BrokerProcess::Get(const std::string& path) const {
  if (!process_) return Reply{0, nullptr, "", "the broker is not running"};
  return process_->Get(path);
}

Reply BrokerProcess::Post(const std::string& path, const json& body) const {
  if (!process_) return Reply{0, nullptr, "", "the broker is not running"};
  return process_->Post(path, body);
}

json BrokerProcess::ApiStatus() const {
  Reply r = Get("/v1/status");
  return r.status == 200 ? r.body : json(nullptr);
}

Status BrokerProcess::Enroll(const std::string& agent_dir, const std::string& role) {
  json identity = json::parse(ReadAll(agent_dir + "/identity.pub"), nullptr, false);
  if (!identity.is_object()) return Status::NotFound("no identity.pub in " + agent_dir);
  Reply r = Post("/v1/roster", {{"identity", identity}, {"role", role}});
  if (r.status != 200) return Status::Internal("enrolling " + agent_dir + ": " + r.Describe());
  return Status::Ok();
}

Status BrokerProcess::Revoke(const std::string& org) {
  Reply r = Post("/v1/roster/" + org + "/revoke");
  if (r.status != 200) return Status::Internal("revoking " + org + ": " + r.Describe());
  return Status::Ok();
}

std::vector<std::string> BrokerProcess::AgentArgs() const {
  return {"--broker", endpoint_, "--broker-key", key_path()};
}

Result<std::unique_ptr<AgentProcess>> StartSyncingAgent(const std::string& data_dir,
                                                        const BrokerProcess& broker,
                                                        const std::vector<std::string>& extra_args,
                                                        const std::vector<std::string>& env) {
  ProcessSpec spec;
  spec.log_name = fs::path(data_dir).lexically_normal().filename().string() + ".log";
  spec.env = env;
  std::vector<std::string> args = broker.AgentArgs();
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return AgentProcess::Start(data_dir, args, spec);
}

// ---------- reading an agent ----------

json AgentStatus(const AgentProcess& agent) {
  Reply r = agent.Get("/v1/status");
  return r.status == 200 ? r.body : json(nullptr);
}

std::string SyncState(const AgentProcess& agent) {
  json s = AgentStatus(agent);
  if (!s.is_object() || !s["sync"].is_object() || !s["sync"]["state"].is_string()) return "";
  return s["sync"]["state"].get<std::string>();
}

json RecordOf(const AgentProcess& agent, const std::string& id) {
  Reply r = agent.Get("/v1/records/" + id);
  return r.status == 200 ? r.body : json(nullptr);
}

json FieldOf(const AgentProcess& agent, const std::string& id, const std::string& field) {
  json r = RecordOf(agent, id);
  if (!r.is_object() || !r["fields"].is_object() || !r["fields"].contains(field)) return nullptr;
  return r["fields"][field];
}

// ---------- waiting ----------

bool WaitUntilSyncReady(const AgentProcess& agent, std::chrono::milliseconds deadline) {
  return WaitFor([&] { return SyncState(agent) == "ready"; }, deadline);
}

bool WaitForValue(const AgentProcess& agent, const std::string& id, const std::string& field,
                  const json& value, std::chrono::milliseconds deadline) {
  return WaitFor(
      [&] {
        json f = FieldOf(agent, id, field);
        return f.is_object() && f.contains("value") && f["value"] == value;
      },
      deadline);
}

bool WaitUntilOutboxEmpty(const AgentProcess& agent, std::chrono::milliseconds deadline) {
  return WaitFor(
      [&] {
        json s = AgentStatus(agent);
        return s.is_object() && s["outbox_depth"] == 0;
      },
      deadline);
}

bool WaitUntilCaughtUp(const AgentProcess& agent, const BrokerProcess& broker,
                       std::chrono::milliseconds deadline) {
  return WaitFor(
      [&] {
        json b = broker.ApiStatus();
        json a = AgentStatus(agent);
        if (!b.is_object() || !a.is_object() || !a["sync"].is_object()) return false;
        return a["sync"]["state"] == "ready" && a["cursor"] == b["log_head"];
      },
      deadline);
}

std::string FileContaining(const std::string& dir, const std::string& needle) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string bytes = ReadAll(it->path().string());
    if (bytes.find(needle) != std::string::npos) return it->path().string();
  }
  return "";
}

}  // namespace sb::testing

#include "tests/integration/agent_process.h"

#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
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

}  // namespace

// ---------- helpers ----------

std::string SwitchboardBinary() {
  const char* bin = std::getenv("SWITCHBOARD_BIN");
  return bin ? bin : "";
}

std::string Tail(const std::string& file, size_t bytes) {
  std::string all = ReadAll(file);
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

std::string Reply::Describe() const {
  if (status == 0) return "no response (" + error + ")";
  return "HTTP " + std::to_string(status) + ": " + raw;
}

// ---------- AgentProcess ----------

namespace {

std::string LogPathOf(const std::string& data_dir, const ProcessSpec& spec) {
  return fs::path(data_dir).lexically_normal().parent_path().string() + "/" + spec.log_name;
}

}  // namespace

std::string AgentProcess::LogPath() const {
  return LogPathOf(data_dir_, spec_);
}

Result<std::unique_ptr<AgentProcess>> AgentProcess::Start(
    const std::string& data_dir, const std::vector<std::string>& extra_args,
    const ProcessSpec& spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<AgentProcess> p, Launch(data_dir, extra_args, spec));
  RETURN_IF_ERROR(p->WaitUntilReady());
  return p;
}

Result<std::unique_ptr<AgentProcess>> AgentProcess::Launch(
    const std::string& data_dir, const std::vector<std::string>& extra_args,
    const ProcessSpec& spec) {
  std::string bin = SwitchboardBinary();
  if (bin.empty())
    return Status::FailedPrecondition("SWITCHBOARD_BIN is not set (run via meson test)");
  std::vector<std::string> args = {bin, spec.command, "--data", data_dir};
  if (std::find(extra_args.begin(), extra_args.end(), "--api") == extra_args.end()) {
    args.insert(args.end(), {"--api", "127.0.0.1:0"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  SpawnOptions options;
  options.args = std::move(args);
  options.env = spec.env;
  options.output_file = LogPathOf(data_dir, spec);
  ASSIGN_OR_RETURN(Process process, Process::Spawn(options));
  std::unique_ptr<AgentProcess> p(new AgentProcess(std::move(process)));
  p->data_dir_ = data_dir;
  p->spec_ = spec;
  return p;
}

Status AgentProcess::WaitUntilReady(std::chrono::milliseconds deadline) {
  // Ready once agent.json names this child (a killed run's file may still be there).
  std::string runtime = data_dir_ + "/" + spec_.runtime_file;
  std::string log = LogPath();
  std::string api;
  pid_t pid = process_.pid();
  bool exited = false;
  bool ready = WaitFor(
      [&] {
        if (!process_.running()) return exited = true;
        json j = json::parse(ReadAll(runtime), nullptr, false);
        if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
            j["pid"].get<pid_t>() != pid || !j.contains("api") || !j["api"].is_string()) {
          return false;
        }
        api = j["api"].get<std::string>();
        return true;
      },
      deadline);
  if (exited) {
    return Status::Unavailable("the agent exited during start-up (" +
                               process_.exit_status()->ToString() + "); log:\n" + Tail(log));
  }
  if (!ready)
    return Status::Unavailable("the agent did not write " + runtime + " in time; log:\n" +
                               Tail(log));
  size_t colon = api.rfind(':');
  port_ = colon == std::string::npos ? 0 : std::atoi(api.c_str() + colon + 1);
  if (port_ <= 0) return Status::Internal("bad api in agent.json: " + api);
  std::string token = ReadAll(data_dir_ + "/api.token");
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) return Status::Internal("no token in " + data_dir_ + "/api.token");
  token_ = token;
  // agent.json is written before the server loop runs; wait until it answers.
  if (!WaitFor([&] { return Get("/healthz").status == 200; }, deadline)) {
    return Status::Unavailable("the agent does not answer /healthz; log:\n" + Tail(log));
  }
  return Status::Ok();
}

AgentProcess::~AgentProcess() = default;  // the Process kills it if still running

void AgentProcess::Kill() {
  process_.Kill();
}

Result<int> AgentProcess::Stop(std::chrono::milliseconds deadline) {
  if (process_.pid() <= 0) return Status::FailedPrecondition("the agent is not running");
  Signal(SIGTERM);
  return WaitForExit(deadline);
}

void AgentProcess::Signal(int sig) {
  process_.Signal(sig);
}

Result<int> AgentProcess::WaitForExit(std::chrono::milliseconds deadline) {
  if (process_.pid() <= 0) return Status::FailedPrecondition("the agent is not running");
  Result<ExitStatus> status = process_.Wait(deadline);
  if (!status.ok()) {
    Kill();
    return Status::Unavailable("the agent did not exit within " + std::to_string(deadline.count()) +
                               " ms; killed it");
  }
  if (status->signal) {
    return Status::Internal("the agent died from signal " + std::to_string(status->signal));
  }
  return status->code;
}

Reply AgentProcess::Send(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& authorization) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(120));
  client.set_write_timeout(std::chrono::seconds(60));
  httplib::Headers headers;
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  httplib::Result r{nullptr, httplib::Error::Unknown};
  if (method == "GET")
    r = client.Get(path, headers);
  else if (method == "PUT")
    r = client.Put(path, headers, body, "application/json");
  else if (method == "POST")
    r = client.Post(path, headers, body, "application/json");
  else if (method == "DELETE")
    r = client.Delete(path, headers);
  Reply reply;
  if (!r) {
    reply.error = httplib::to_string(r.error());
    return reply;
  }
  reply.status = r->status;
  reply.raw = r->body;
  reply.body = json::parse(r->body, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return reply;
}

Reply AgentProcess::Get(const std::string& path) const {
  return Send("GET", path, "", "Bearer " + token_);
}
Reply AgentProcess::Put(const std::string& path, const json& body) const {
  return Send("PUT", path, body.dump(), "Bearer " + token_);
}
Reply AgentProcess::PutRaw(const std::string& path, const std::string& body) const {
  return Send("PUT", path, body, "Bearer " + token_);
}
Reply AgentProcess::Delete(const std::string& path) const {
  return Send("DELETE", path, "", "Bearer " + token_);
}
Reply AgentProcess::Post(const std::string& path, const json& body) const {
  return Send("POST", path, body.dump(), "Bearer " + token_);
}

}  // namespace sb::testing

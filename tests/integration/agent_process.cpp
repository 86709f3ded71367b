#include "tests/integration/agent_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

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

// Reaps `pid` if it has exited; returns true with its wait status then.
bool Reaped(pid_t pid, int* wstatus) {
  pid_t r = ::waitpid(pid, wstatus, WNOHANG);
  return r == pid;
}

}  // namespace

// ---------- TempDir ----------

TempDir::TempDir() {
  char tmpl[] = "/tmp/sb-test-XXXXXX";
  char* made = ::mkdtemp(tmpl);
  if (!made) std::abort();  // no temporary directory: nothing a test could do
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---------- helpers ----------

std::string SwitchboardBinary() {
  const char* bin = std::getenv("SWITCHBOARD_BIN");
  return bin ? bin : "";
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
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

std::string AgentProcess::LogPath() const {
  return fs::path(data_dir_).lexically_normal().parent_path().string() + "/" + spec_.log_name;
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
  std::unique_ptr<AgentProcess> p(new AgentProcess());
  p->data_dir_ = data_dir;
  p->spec_ = spec;

  // Everything the child needs is prepared before fork: after it, only exec-safe calls.
  std::vector<std::string> args = {bin, spec.command, "--data", data_dir};
  if (std::find(extra_args.begin(), extra_args.end(), "--api") == extra_args.end()) {
    args.insert(args.end(), {"--api", "127.0.0.1:0"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = p->LogPath();
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::IoError("cannot open " + log);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(null_fd);
    return Status::IoError("fork failed");
  }
  if (pid == 0) {
    // Dies with the test, so a crashed test leaves no agent behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  p->pid_ = pid;
  return p;
}

Status AgentProcess::WaitUntilReady(std::chrono::milliseconds deadline) {
  // Ready once agent.json names this child (a killed run's file may still be there).
  std::string runtime = data_dir_ + "/" + spec_.runtime_file;
  std::string log = LogPath();
  std::string api;
  int wstatus = 0;
  bool exited = false;
  bool ready = WaitFor(
      [&] {
        if (Reaped(pid_, &wstatus)) return exited = true;
        json j = json::parse(ReadAll(runtime), nullptr, false);
        if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
            j["pid"].get<pid_t>() != pid_ || !j.contains("api") || !j["api"].is_string()) {
          return false;
        }
        api = j["api"].get<std::string>();
        return true;
      },
      deadline);
  if (exited) {
    pid_ = -1;
    return Status::Unavailable("the agent exited during start-up (status " +
                               std::to_string(wstatus) + "); log:\n" + Tail(log));
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

AgentProcess::~AgentProcess() {
  if (pid_ > 0) Kill();
}

void AgentProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  ::waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

Result<int> AgentProcess::Stop(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return Status::FailedPrecondition("the agent is not running");
  Signal(SIGTERM);
  return WaitForExit(deadline);
}

void AgentProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

Result<int> AgentProcess::WaitForExit(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return Status::FailedPrecondition("the agent is not running");
  int wstatus = 0;
  pid_t pid = pid_;
  if (!WaitFor([&] { return Reaped(pid, &wstatus); }, deadline)) {
    Kill();
    return Status::Unavailable("the agent did not exit within " + std::to_string(deadline.count()) +
                               " ms; killed it");
  }
  pid_ = -1;
  if (WIFSIGNALED(wstatus)) {
    return Status::Internal("the agent died from signal " + std::to_string(WTERMSIG(wstatus)));
  }
  return WEXITSTATUS(wstatus);
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

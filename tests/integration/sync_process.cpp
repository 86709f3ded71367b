#include "tests/integration/sync_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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
  std::vector<std::string> all = args;
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::IoError("pipe failed");
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    ::close(null_fd);
    return Status::IoError("fork failed");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(null_fd, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ::close(null_fd);
  CommandOutput out;
  auto until = std::chrono::steady_clock::now() + deadline;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.output.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (timed_out) {
    return Status::Unavailable(Joined(args) + " did not finish in time: " + out.output);
  }
  out.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
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

Result<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return Status::IoError("cannot bind a port on 127.0.0.1");
  return static_cast<int>(ntohs(addr.sin_port));
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
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  ProcessSpec spec{"broker", "broker.json", "broker.log"};
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
                                                        const BrokerProcess& broker) {
  ProcessSpec spec;
  spec.log_name = fs::path(data_dir).lexically_normal().filename().string() + ".log";
  return AgentProcess::Start(data_dir, broker.AgentArgs(), spec);
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

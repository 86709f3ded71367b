#include "testing/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace sb::testing {
namespace {

// The parent's environment with `extra` ("NAME=value") added or replacing.
std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    bool replaced = false;
    for (const std::string& x : extra) replaced = replaced || name_of(x) == name_of(entry);
    if (!replaced) env.push_back(std::move(entry));
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

ExitStatus FromWaitStatus(int wstatus) {
  ExitStatus s;
  if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  } else {
    s.code = WEXITSTATUS(wstatus);
  }
  return s;
}

}  // namespace

std::string ExitStatus::ToString() const {
  return signal ? "killed by signal " + std::to_string(signal)
                : "exit code " + std::to_string(code);
}

Result<Process> Process::Spawn(const SpawnOptions& options) {
  if (options.args.empty()) return Status::InvalidArgument("no program to run");
  // Everything the child needs is prepared before fork: after it, only exec-safe calls.
  std::vector<std::string> args = options.args;
  std::vector<char*> argv = Pointers(args);
  std::vector<std::string> env = Environment(options.env);
  std::vector<char*> envp = Pointers(env);
  int in_fd = -1, out_fd = -1, read_fd = -1;
  auto close_all = [&] {
    CloseFd(in_fd);
    CloseFd(out_fd);
    CloseFd(read_fd);
  };
  if (options.null_stdin && (in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
    return Status::IoError("cannot open /dev/null");
  }
  if (!options.output_file.empty()) {
    out_fd = ::open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                    options.output_mode);
    if (out_fd < 0) {
      close_all();
      return Status::IoError("cannot open " + options.output_file);
    }
  } else if (options.capture_output) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      close_all();
      return Status::IoError("pipe failed");
    }
    read_fd = fds[0];
    out_fd = fds[1];
  }
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    close_all();
    return Status::IoError(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    if (in_fd >= 0) ::dup2(in_fd, 0);
    if (out_fd >= 0) {
      ::dup2(out_fd, 1);
      ::dup2(out_fd, 2);
    }
    if (cwd && ::chdir(cwd) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  Process p;
  p.pid_ = pid;
  p.output_fd_ = read_fd;
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      output_fd_(std::exchange(other.output_fd_, -1)),
      status_(std::move(other.status_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    Kill();
    CloseOutput();
    pid_ = std::exchange(other.pid_, -1);
    output_fd_ = std::exchange(other.output_fd_, -1);
    status_ = std::move(other.status_);
  }
  return *this;
}

Process::~Process() {
  Kill();
  CloseOutput();
}

void Process::Reaped(int wstatus) {
  status_ = FromWaitStatus(wstatus);
  pid_ = -1;
}

void Process::CloseOutput() {
  CloseFd(output_fd_);
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int wstatus = 0;
  if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
    Reaped(wstatus);
    return false;
  }
  return true;
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void Process::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Wait();
}

ExitStatus Process::Wait() {
  if (pid_ > 0) {
    int wstatus = 0;
    while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
    Reaped(wstatus);
  }
  return status_.value_or(ExitStatus{});
}

Result<ExitStatus> Process::Wait(std::chrono::milliseconds deadline) {
  if (!WaitFor([&] { return !running(); }, deadline)) {
    return Status::Unavailable("still running after " + std::to_string(deadline.count()) + " ms");
  }
  return status_.value_or(ExitStatus{});
}

Result<ExitStatus> Process::Stop(std::chrono::milliseconds deadline) {
  Signal(SIGTERM);
  Result<ExitStatus> s = Wait(deadline);
  if (!s.ok()) {
    Kill();
    return Status::Unavailable("did not exit within " + std::to_string(deadline.count()) +
                               " ms of SIGTERM; killed it");
  }
  return s;
}

Status Process::ReadOutput(std::chrono::milliseconds deadline, std::string* out) {
  if (output_fd_ < 0) return Status::FailedPrecondition("the output is not captured");
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Unavailable("no end of output in time");
    pollfd p{output_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready <= 0) continue;  // EINTR or time: the loop checks the deadline
    char buf[4096];
    ssize_t n = ::read(output_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  CloseOutput();
  return Status::Ok();
}

pid_t Process::Release() {
  CloseOutput();
  return std::exchange(pid_, -1);
}

Result<ExitStatus> WaitForPid(pid_t pid) {
  int wstatus = 0;
  pid_t r = -1;
  while ((r = ::waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR) {
  }
  if (r != pid) return Status::FailedPrecondition("no child " + std::to_string(pid));
  return FromWaitStatus(wstatus);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sb::testing

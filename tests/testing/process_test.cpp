// The one fork/exec harness (testing/process.h) and the temporary directory, on /bin/sh.
#include "testing/process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "testing/free_port.h"
#include "testing/temp_dir.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

SpawnOptions Shell(const std::string& script) {
  SpawnOptions o;
  o.args = {"/bin/sh", "-c", script};
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Process, CapturesOutputAndTheExitCode) {
  SpawnOptions o = Shell("echo out; echo err >&2; exit 3");
  o.capture_output = true;
  Result<Process> p = Process::Spawn(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::string out;
  ASSERT_TRUE(p->ReadOutput(5s, &out).ok());
  EXPECT_EQ(out, "out\nerr\n");
  ExitStatus s = p->Wait();
  EXPECT_EQ(s.code, 3);
  EXPECT_EQ(s.signal, 0);
  EXPECT_FALSE(s.success());
  EXPECT_EQ(p->pid(), -1);
}

TEST(Process, AppendsOutputToAFileInTheGivenDirectoryWithTheGivenEnvironment) {
  TempDir dir;
  SpawnOptions o = Shell("echo \"$SB_PROCESS_TEST\"; pwd");
  o.env = {"SB_PROCESS_TEST=hello"};
  o.cwd = dir.path();
  o.output_file = dir / "log";
  for (int i = 0; i < 2; ++i) {
    Result<Process> p = Process::Spawn(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_TRUE(p->Wait().success());
  }
  std::string once = "hello\n" + dir.path() + "\n";
  EXPECT_EQ(ReadFile(dir / "log"), once + once);
}

TEST(Process, WaitWithADeadlineLeavesARunningChildRunning) {
  Result<Process> p = Process::Spawn(Shell("exec sleep 30"));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Wait(50ms).ok());
  EXPECT_TRUE(p->running());
  p->Signal(SIGTERM);
  Result<ExitStatus> s = p->Wait(5s);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signal, SIGTERM);
  EXPECT_EQ(s->ShellCode(), 128 + SIGTERM);
  EXPECT_FALSE(p->running());
}

TEST(Process, StopKillsAChildThatIgnoresSigterm) {
  TempDir dir;
  SpawnOptions o = Shell("trap '' TERM; echo ready; exec sleep 30");  // sleep inherits the trap
  o.output_file = dir / "log";
  Result<Process> p = Process::Spawn(o);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(WaitFor([&] { return ReadFile(dir / "log") == "ready\n"; }, 5s));
  EXPECT_FALSE(p->Stop(200ms).ok());
  EXPECT_FALSE(p->running());
  ASSERT_TRUE(p->exit_status().has_value());
  EXPECT_EQ(p->exit_status()->signal, SIGKILL);
}

TEST(Process, DestroyingItKillsTheChild) {
  pid_t pid = -1;
  {
    Result<Process> p = Process::Spawn(Shell("exec sleep 30"));
    ASSERT_TRUE(p.ok());
    pid = p->pid();
    ASSERT_GT(pid, 0);
  }
  EXPECT_NE(::kill(pid, 0), 0);  // killed and reaped: no such process
}

TEST(Process, AReleasedChildIsWaitedForByPid) {
  Result<Process> p = Process::Spawn(Shell("exit 4"));
  ASSERT_TRUE(p.ok());
  pid_t pid = p->Release();
  EXPECT_EQ(p->pid(), -1);
  Result<ExitStatus> s = WaitForPid(pid);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->code, 4);
  EXPECT_FALSE(WaitForPid(pid).ok());  // reaped already
}

TEST(Process, AProgramThatCannotRunExitsWith127) {
  SpawnOptions o;
  o.args = {"/nonexistent/program"};
  Result<Process> p = Process::Spawn(o);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Wait().code, 127);
}

TEST(Process, AnUnopenableOutputFileIsAnError) {
  SpawnOptions o = Shell("true");
  o.output_file = "/nonexistent/dir/log";
  EXPECT_FALSE(Process::Spawn(o).ok());
}

TEST(TempDir, IsRemovedWithItsContents) {
  std::string path;
  {
    TempDir dir("sb-process-test");
    path = dir.path();
    std::ofstream(dir / "file") << "x";
    EXPECT_TRUE(std::ifstream(dir / "file").good());
  }
  EXPECT_FALSE(std::ifstream(path + "/file").good());
}

TEST(FreePort, GivesAPortOnLoopback) {
  Result<int> port = FreePort();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_GT(*port, 0);
}

}  // namespace
}  // namespace sb::testing

// Starting and stopping a real `switchboard agent` process: refusals at start-up, and clean
// shutdown on SIGTERM / SIGINT at any moment.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/integration/agent_process.h"

namespace sb::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Launches an agent that is expected to refuse to start; returns its exit code and log.
std::pair<int, std::string> RefusedStart(const std::string& dir,
                                         const std::vector<std::string>& args = {}) {
  auto a = AgentProcess::Launch(dir, args);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  if (!a.ok()) return {-1, ""};
  auto code = (*a)->WaitForExit(10s);
  EXPECT_TRUE(code.ok()) << code.status().ToString();
  return {code.ok() ? *code : -1, Tail((*a)->LogPath())};
}

// Blocks until `name` is renamed into the directory watched by `fd`, or 10 s pass.
bool AwaitRenamedInto(int fd, const std::string& name) {
  alignas(inotify_event) char buf[4096];
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buf + off);
      if (ev->len > 0 && name == ev->name) return true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  return false;
}

TEST(AgentLifecycle, SigtermStopsCleanlyAndRemovesTheRuntimeFile) {
  TempDir tmp;
  auto a = AgentProcess::Start(tmp / "agent");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto code = (*a)->Stop();
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0);
  EXPECT_FALSE(fs::exists(tmp / "agent/agent.json"));
  EXPECT_NE(Tail(tmp / "agent.log").find("agent stopped"), std::string::npos);
}

TEST(AgentLifecycle, SigintStopsCleanly) {
  TempDir tmp;
  auto a = AgentProcess::Start(tmp / "agent");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  (*a)->Signal(SIGINT);
  auto code = (*a)->WaitForExit(10s);
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0);
}

// Regression: SIGTERM that arrives after the agent wrote agent.json but before its HTTP loop
// runs must still stop it (httplib's stop() does nothing before listen starts).
TEST(AgentLifecycle, SigtermRightAfterTheRuntimeFileAppearsStillStops) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  fs::create_directories(dir);
  constexpr int kTries = 20;
  for (int i = 0; i < kTries; ++i) {
    int fd = ::inotify_init1(IN_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_GE(::inotify_add_watch(fd, dir.c_str(), IN_MOVED_TO), 0);
    auto a = AgentProcess::Launch(dir);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    bool appeared = AwaitRenamedInto(fd, "agent.json");
    (*a)->Signal(SIGTERM);
    ::close(fd);
    ASSERT_TRUE(appeared) << Tail((*a)->LogPath());
    auto code = (*a)->WaitForExit(3s);
    ASSERT_TRUE(code.ok()) << "try " << i + 1 << ": SIGTERM sent right after agent.json appeared: "
                           << code.status().message() << "\nlog:\n"
                           << Tail((*a)->LogPath(), 600);
    EXPECT_EQ(*code, 0);
  }
}

TEST(AgentLifecycle, ForeignDirectoryIsRefusedAtStart) {
  TempDir tmp;
  fs::create_directories(tmp / "photos");
  std::ofstream(tmp / "photos/cat.jpg") << "meow";
  auto [code, log] = RefusedStart(tmp / "photos");
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("not a Switchboard data directory"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp / "photos/db"));
}

TEST(AgentLifecycle, LooseTokenPermissionsAreRefusedAtStart) {
  TempDir tmp;
  {
    auto a = AgentProcess::Start(tmp / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE((*a)->Stop().ok());
  }
  ASSERT_EQ(::chmod((tmp / "agent/api.token").c_str(), 0644), 0);
  auto [code, log] = RefusedStart(tmp / "agent");
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("chmod 600"), std::string::npos) << log;
}

TEST(AgentLifecycle, NonLoopbackApiAddressIsRefused) {
  TempDir tmp;
  auto [code, log] = RefusedStart(tmp / "agent", {"--api", "0.0.0.0:0"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("127.0.0.1 only"), std::string::npos) << log;
}

TEST(AgentLifecycle, UnknownConfigSettingIsRefused) {
  TempDir tmp;
  std::ofstream(tmp / "agent.toml") << "api = \"127.0.0.1:0\"\nmax_skew = 5\n";
  auto [code, log] = RefusedStart(tmp / "agent", {"--config", tmp / "agent.toml"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("max_skew"), std::string::npos) << log;
}

TEST(AgentLifecycle, RestartAfterSigkillServesTheSameReplica) {
  TempDir tmp;
  std::string replica;
  {
    auto a = AgentProcess::Start(tmp / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    replica = (*a)->Send("GET", "/healthz", "", "").body["replica"];
    (*a)->Kill();
  }
  EXPECT_TRUE(fs::exists(tmp / "agent/agent.json"));  // left behind by the killed agent
  auto b = AgentProcess::Start(tmp / "agent");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->Send("GET", "/healthz", "", "").body["replica"], replica);
}

TEST(AgentLifecycle, AgentKilledDuringItsFirstStartCanStartAgain) {
  // The kill lands at a random moment of creating the data directory (seeded, printed).
  const unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  for (int i = 0; i < 12; ++i) {
    TempDir tmp;
    auto a = AgentProcess::Launch(tmp / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    int delay_ms = static_cast<int>(rng() % 60);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    (*a)->Kill();
    auto b = AgentProcess::Start(tmp / "agent");
    ASSERT_TRUE(b.ok()) << "killed after " << delay_ms << " ms: " << b.status().ToString();
    EXPECT_EQ((*b)->Get("/v1/records").status, 200);
  }
}

}  // namespace
}  // namespace sb::testing

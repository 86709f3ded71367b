// Issue 14: idle half-requests cannot exhaust a local HTTP API ("64 half-sent requests exhaust
// an agent API's threads"). Against a real `switchboard agent` (and a real broker) on loopback,
// many connections each send the start of a request line and then trickle one byte every 2 s —
// never finishing, yet faster than the per-read timeout — while a normal authenticated
// GET /v1/status must still be answered. The test asserts only that it is answered (within a
// generous 30 s); the latency it observed is printed, never compared.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/integration/agent_process.h"
#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// `connections` loopback connections to `port`, each of which sent "GET /v1/status?slow=" and
// then one more byte every `interval` (from a thread of their own) until this object goes.
// Never a complete request line. Connections the server closed are counted, not reopened.
class Slowloris {
 public:
  Slowloris(int port, int connections, milliseconds interval) : interval_(interval) {
    for (int i = 0; i < connections; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) break;
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const std::string start = "GET /v1/status?slow=";
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
          ::send(fd, start.data(), start.size(), MSG_NOSIGNAL) < 0) {
        ::close(fd);
        continue;
      }
      fds_.push_back(fd);
    }
    open_.assign(fds_.size(), true);
    thread_ = std::thread([this] { Trickle(); });
  }

  ~Slowloris() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }

  Slowloris(const Slowloris&) = delete;
  Slowloris& operator=(const Slowloris&) = delete;

  int opened() const { return static_cast<int>(fds_.size()); }
  // How many the server has closed (or answered) so far.
  int cut() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (bool o : open_) n += o ? 0 : 1;
    return n;
  }

 private:
  void Trickle() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
      for (size_t i = 0; i < fds_.size(); ++i) {
        if (!open_[i]) continue;
        char c = 0;
        ssize_t peek = ::recv(fds_[i], &c, 1, MSG_PEEK | MSG_DONTWAIT);
        bool closed = peek >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        if (closed || ::send(fds_[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) open_[i] = false;
      }
    }
  }

  const milliseconds interval_;
  std::vector<int> fds_;
  std::mutex mu_;           // guards open_ and stop_
  std::vector<bool> open_;  // per fds_ entry: not yet closed by the server
  bool stop_ = false;
  std::condition_variable cv_;
  std::thread thread_;
};

struct Answer {
  int status = 0;      // 0: no HTTP answer before the deadline
  std::string error;   // the last transport error
  double seconds = 0;  // from the first attempt to the answer (or the deadline)
  int attempts = 0;
};

// GET /v1/status with the bearer token, as a client would; a refused or cut connection is tried
// again (every 250 ms) until `deadline`.
Answer StatusWithin(int port, const std::string& token, seconds deadline) {
  Answer a;
  const auto start = Steady::now();
  const auto end = start + deadline;
  while (Steady::now() < end) {
    ++a.attempts;
    auto left = std::chrono::duration_cast<milliseconds>(end - Steady::now());
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(std::min<milliseconds>(left, seconds(5)));
    client.set_read_timeout(left);
    auto r = client.Get("/v1/status", {{"Authorization", "Bearer " + token}});
    if (r && r->status == 200) {
      a.status = 200;
      break;
    }
    a.status = r ? r->status : 0;
    a.error = r ? r->body : httplib::to_string(r.error());
    if (r && r->status != 503) break;                // an answer, but not the one expected
    std::this_thread::sleep_for(milliseconds(250));  // paces retries; nothing waits on it
  }
  a.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  return a;
}

void Report(const char* what, Slowloris& slow, const Answer& a) {
  std::cout << what << ": " << slow.opened() << " slow connections open; GET /v1/status -> "
            << a.status << " after " << a.seconds << " s, " << a.attempts << " attempt(s); "
            << slow.cut() << " slow connections cut by the server so far"
            << (a.error.empty() ? "" : " (last error: " + a.error + ")") << "\n";
}

class ApiLimits : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    if (agent_) std::cerr << "--- agent.log ---\n" << Tail(agent_->LogPath(), 3000) << "\n";
  }

  void StartAgent() {
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }

  TempDir tmp_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ApiLimits, SixtyFourHalfSentRequestsDoNotStarveTheAgentApi) {
  StartAgent();
  if (HasFatalFailure()) return;
  Slowloris slow(agent_->port(), 64, milliseconds(2000));
  ASSERT_EQ(slow.opened(), 64);
  Answer a = StatusWithin(agent_->port(), agent_->token(), seconds(30));
  Report("agent, 64 half-sent requests", slow, a);
  EXPECT_EQ(a.status, 200) << a.error;
}

TEST_F(ApiLimits, MoreHalfSentRequestsThanTheConnectionLimitDoNotStarveTheAgentApi) {
  StartAgent();
  if (HasFatalFailure()) return;
  // More than the server admits at once (128): those beyond are refused with a 503 and the
  // admitted ones are cut at their header deadline, so a client that retries gets in.
  Slowloris slow(agent_->port(), 200, milliseconds(2000));
  ASSERT_EQ(slow.opened(), 200);
  Answer a = StatusWithin(agent_->port(), agent_->token(), seconds(30));
  Report("agent, 200 half-sent requests", slow, a);
  EXPECT_EQ(a.status, 200) << a.error;
  // The agent still serves ordinary requests afterwards.
  EXPECT_EQ(agent_->Get("/healthz").status, 200);
}

TEST_F(ApiLimits, SixtyFourHalfSentRequestsDoNotStarveTheBrokerApi) {
  auto b = BrokerProcess::Create(tmp_ / "broker");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::unique_ptr<BrokerProcess> broker = std::move(b).value();
  Status started = broker->Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  Slowloris slow(broker->api_port(), 64, milliseconds(2000));
  ASSERT_EQ(slow.opened(), 64);
  Answer a = StatusWithin(broker->api_port(), broker->token(), seconds(30));
  Report("broker, 64 half-sent requests", slow, a);
  EXPECT_EQ(a.status, 200) << a.error << "\n" << Tail(broker->LogPath(), 3000);
}

}  // namespace
}  // namespace sb::testing

// BoundedHttpServer in one process, with small limits: a connection beyond the limit is turned
// away at once, headers that trickle in are cut at the header deadline, and stop() returns
// (joining every thread) while slow clients are still connected. No timing is asserted: waits
// have generous deadlines and only what happened is checked.
#include "http/http_limits.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace sb {
namespace {

using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A raw loopback connection (closed when it goes).
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Everything the server sends until it closes the connection, waiting up to `deadline` for
  // that; `closed` says whether it did.
  std::string ReadUntilClosed(std::chrono::milliseconds deadline, bool& closed) {
    std::string out;
    closed = false;
    const auto end = Steady::now() + deadline;
    while (Steady::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // True when the server answers or closes the connection within `wait`.
  bool HeardFromServer(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }

 private:
  int fd_;
  bool connected_ = false;
};

class BoundedServerTest : public ::testing::Test {
 protected:
  void Start(HttpLimits limits) {
    server_ = std::make_unique<BoundedHttpServer>(limits);
    server_->Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    listener_ = std::thread([this] { server_->listen_after_bind(); });
    // httplib ignores stop() until it listens: wait for that, so that TearDown can stop it.
    const auto end = Steady::now() + 10s;
    while (!server_->is_running() && Steady::now() < end) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(server_->is_running());
  }

  void TearDown() override {
    if (!listener_.joinable()) return;
    server_->stop();
    listener_.join();
  }

  int Hello() {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10s);
    auto r = client.Get("/hello");
    return r ? r->status : 0;
  }

  std::unique_ptr<BoundedHttpServer> server_;
  std::thread listener_;
  int port_ = 0;
};

TEST_F(BoundedServerTest, AConnectionBeyondTheLimitIsTurnedAwayAtOnce) {
  HttpLimits limits;
  limits.max_connections = 2;
  limits.header_deadline = 30s;  // the slow ones stay for the whole test
  Start(limits);
  RawConnection slow1(port_), slow2(port_);
  ASSERT_TRUE(slow1.connected() && slow2.connected());
  ASSERT_TRUE(slow1.Send("GET /hello HTTP/1.1\r\nX-Slow: "));
  ASSERT_TRUE(slow2.Send("GET /hello HTTP/1.1\r\nX-Slow: "));
  // Accepted after both (one listening thread, in order): no room left.
  RawConnection third(port_);
  ASSERT_TRUE(third.connected());
  bool closed = false;
  std::string reply = third.ReadUntilClosed(20s, closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
}

TEST_F(BoundedServerTest, HeadersThatTrickleInAreCutAtTheDeadline) {
  HttpLimits limits;
  limits.header_deadline = 1s;  // each byte comes well within the 5 s per-read timeout
  Start(limits);
  RawConnection slow(port_);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.Send("GET /hello HTTP/1.1\r\nX-Slow: "));
  bool cut = false;
  const auto end = Steady::now() + 30s;
  // The request is never complete, so any answer (a 400, or the connection closing) is the cut.
  while (!cut && Steady::now() < end) cut = !slow.Send("a") || slow.HeardFromServer(200ms);
  EXPECT_TRUE(cut) << "a connection trickling one header byte every 200 ms stayed open for 30 s";
  EXPECT_EQ(Hello(), 200);  // a whole request still gets through
}

TEST_F(BoundedServerTest, ARequestSentWholeIsServedAlongsideSlowOnes) {
  HttpLimits limits;
  limits.max_connections = 4;
  limits.header_deadline = 30s;
  Start(limits);
  RawConnection slow1(port_), slow2(port_), slow3(port_);
  for (RawConnection* c : {&slow1, &slow2, &slow3}) {
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(c->Send("GET /hello HTTP/1.1\r\nX-Slow: "));
  }
  EXPECT_EQ(Hello(), 200);
}

TEST_F(BoundedServerTest, StopReturnsWhileSlowClientsAreConnected) {
  HttpLimits limits;
  limits.header_deadline = 60s;
  Start(limits);
  EXPECT_EQ(Hello(), 200);  // it listens
  RawConnection slow1(port_), slow2(port_);
  ASSERT_TRUE(slow1.Send("GET /hello HTTP/1.1\r\nX-Slow: "));
  ASSERT_TRUE(slow2.Send("GET /hel"));
  // TearDown stops the server and joins its listening thread, which joins every connection's.
}

}  // namespace
}  // namespace sb

// The TCP relay (testing/tcp_relay.h) in front of a real echo server on loopback: it forwards,
// a partition cuts connections and refuses new ones, a stall holds bytes until healed, and a
// target that is down ends the client's connection.
#include "testing/tcp_relay.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "testing/free_port.h"
#include "testing/process.h"

namespace sb::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// An echo server: every connection gets back what it sends, until it closes.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof addr;
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(fd_, 16) == 0 &&
          ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        if (stop_) {
          ::close(c);
          return;
        }
        workers_.emplace_back([c] {
          char buf[4096];
          ssize_t n;
          while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) ::send(c, buf, n, MSG_NOSIGNAL);
          ::close(c);
        });
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& w : workers_) w.detach();
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

// A blocking client connection; -1 when refused.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};  // a broken relay fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Reads exactly n bytes (or what came before the end or an error).
std::string ReadN(int fd, size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

// Whether anything is readable on fd within `ms` (data or the connection's end).
bool Readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

TEST(TcpRelay, ForwardsBothWays) {
  EchoServer echo;
  ASSERT_TRUE(echo.ok());
  auto relay = TcpRelay::Start(echo.port());
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  int fd = Connect((*relay)->port());
  ASSERT_GE(fd, 0);
  std::string big(300000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] { ::send(fd, big.data(), big.size(), MSG_NOSIGNAL); });
  EXPECT_EQ(ReadN(fd, big.size()), big);
  writer.join();
  ::close(fd);
  // Counted just after the bytes were passed on: the echo may be read a moment before.
  EXPECT_TRUE(WaitFor([&] { return (*relay)->stats().bytes == 2 * big.size(); }))
      << (*relay)->stats().bytes;
  EXPECT_EQ((*relay)->stats().accepted, 1u);
}

TEST(TcpRelay, APartitionCutsConnectionsAndRefusesNewOnesUntilHealed) {
  EchoServer echo;
  ASSERT_TRUE(echo.ok());
  auto relay = TcpRelay::Start(echo.port());
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  int port = (*relay)->port();
  int fd = Connect(port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "ping", 4, MSG_NOSIGNAL), 4);
  ASSERT_EQ(ReadN(fd, 4), "ping");

  (*relay)->Partition();
  EXPECT_EQ((*relay)->mode(), TcpRelay::Mode::kPartitioned);
  char c;
  EXPECT_LE(::recv(fd, &c, 1, 0), 0) << "the open connection must end";
  ::close(fd);
  EXPECT_EQ(Connect(port), -1) << "a new connection must be refused";
  EXPECT_EQ((*relay)->stats().cut, 1u);

  ASSERT_TRUE((*relay)->Heal().ok());
  EXPECT_EQ((*relay)->port(), port);
  fd = Connect(port);
  ASSERT_GE(fd, 0) << "healed: the same port accepts again";
  ASSERT_EQ(::send(fd, "pong", 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(ReadN(fd, 4), "pong");
  ::close(fd);
}

TEST(TcpRelay, AStallHoldsBytesWithTheConnectionOpenAndHealingDeliversThemInOrder) {
  EchoServer echo;
  ASSERT_TRUE(echo.ok());
  auto relay = TcpRelay::Start(echo.port());
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  int fd = Connect((*relay)->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "a", 1, MSG_NOSIGNAL), 1);
  ASSERT_EQ(ReadN(fd, 1), "a");

  (*relay)->Stall();
  uint64_t before = (*relay)->stats().bytes;
  ASSERT_EQ(::send(fd, "bcd", 3, MSG_NOSIGNAL), 3) << "the connection stays open";
  // Whatever the wait, a stalled relay passes nothing (the echo would be back at once).
  EXPECT_FALSE(Readable(fd, 300)) << "nothing crosses a stall";
  EXPECT_EQ((*relay)->stats().bytes, before);
  int second = Connect((*relay)->port());
  EXPECT_GE(second, 0) << "a stall accepts new connections (and passes nothing)";

  ASSERT_TRUE((*relay)->Heal().ok());
  EXPECT_EQ(ReadN(fd, 3), "bcd");
  ASSERT_EQ(::send(second, "e", 1, MSG_NOSIGNAL), 1);
  EXPECT_EQ(ReadN(second, 1), "e");
  ::close(second);
  ::close(fd);
}

TEST(TcpRelay, ATargetThatIsDownEndsTheClientsConnection) {
  auto unused = FreePort();
  ASSERT_TRUE(unused.ok());
  auto relay = TcpRelay::Start(*unused);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  int fd = Connect((*relay)->port());
  ASSERT_GE(fd, 0) << "the relay itself accepts";
  char c;
  EXPECT_EQ(::recv(fd, &c, 1, 0), 0) << "then ends the connection: its target refused";
  ::close(fd);
  EXPECT_EQ((*relay)->stats().target_refused, 1u);
}

}  // namespace
}  // namespace sb::testing

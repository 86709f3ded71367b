// CURVE sockets and the ZAP handler over real TCP on 127.0.0.1. Nothing here sleeps: every
// wait polls a socket or a condition with a deadline. "Nothing arrives" is checked by polling
// for kQuiet after the refusal was observed (ZAP callback or socket monitor event).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <zmq.hpp>

#include "crypto/identity.h"
#include "transport/sockets.h"
#include "transport/zap.h"

namespace sb {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kWait = 5s;       // for what must happen
constexpr auto kQuiet = 1500ms;  // for what must not

Identity Gen(const std::string& org) {
  Result<Identity> id = Identity::Generate(org);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return std::move(id).value();
}

// Receives one multipart message within `timeout`, or nothing.
std::optional<std::vector<zmq::message_t>> Recv(zmq::socket_t& s,
                                                std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return std::nullopt;
    if (zmq::poll(&item, 1, left) > 0) break;
  }
  std::vector<zmq::message_t> parts;
  do {
    zmq::message_t m;
    if (!s.recv(m, zmq::recv_flags::dontwait)) break;
    parts.push_back(std::move(m));
  } while (parts.back().more());
  return parts;
}

// Collects a socket's monitor events (event id, value) so a test can wait for one.
class Monitor {
 public:
  Monitor(zmq::context_t& ctx, zmq::socket_t& socket) {
    static int n = 0;
    std::string addr = "inproc://monitor-" + std::to_string(++n);
    EXPECT_EQ(zmq_socket_monitor(socket.handle(), addr.c_str(), ZMQ_EVENT_ALL), 0);
    pair_ = zmq::socket_t(ctx, zmq::socket_type::pair);
    pair_.set(zmq::sockopt::linger, 0);
    pair_.connect(addr);
  }

  // The value of the first event in `mask` to arrive within kWait.
  std::optional<uint32_t> WaitFor(uint16_t mask) {
    auto deadline = Clock::now() + kWait;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto parts = Recv(pair_, left);
      if (!parts || parts->empty() || (*parts)[0].size() < 6) continue;
      uint16_t event;
      uint32_t value;
      std::memcpy(&event, (*parts)[0].data(), 2);
      std::memcpy(&value, (*parts)[0].data<char>() + 2, 4);
      if (event & mask) return value;
    }
    return std::nullopt;
  }

 private:
  zmq::socket_t pair_;
};

constexpr uint16_t kHandshakeFailed = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                      ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                      ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

class CurveZap : public ::testing::Test {
 protected:
  void SetUp() override {
    enrolled_[alice_.pub.curve_public] = "org-a";
    zap_ = std::make_unique<ZapAuthenticator>(
        ctx_,
        [this](const std::string& key) -> std::optional<std::string> {
          std::lock_guard lock(mu_);
          ++authorize_calls_;
          if (throw_in_authorize_) throw std::runtime_error("roster unavailable");
          auto it = enrolled_.find(key);
          if (it == enrolled_.end()) return std::nullopt;
          return it->second;
        },
        [this](const std::string& key, const std::string& why) {
          std::lock_guard lock(mu_);
          refusals_.emplace_back(key, why);
          cv_.notify_all();
        });
    Result<zmq::socket_t> b = MakeBrokerSocket(ctx_, broker_, "tcp://127.0.0.1:*", {});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_socket_ = std::move(b).value();
    endpoint_ = broker_socket_.get(zmq::sockopt::last_endpoint);
    broker_monitor_ = std::make_unique<Monitor>(ctx_, broker_socket_);
  }

  zmq::socket_t Agent(const Identity& id, const std::string& broker_key = "") {
    Result<zmq::socket_t> s = MakeAgentSocket(
        ctx_, id, broker_key.empty() ? broker_.pub.curve_public : broker_key, endpoint_, {});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }

  // The client says `text` once its connection is up (agent sockets use ZMQ_IMMEDIATE, so
  // until the handshake completes there is nowhere to send); the broker must receive it from
  // `org` and answer; the client must get the answer.
  void ExpectExchange(zmq::socket_t& client, const std::string& org, const std::string& text) {
    zmq::pollitem_t item{client.handle(), 0, ZMQ_POLLOUT, 0};
    ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(kWait)), 1) << "never connected";
    ASSERT_TRUE(client.send(zmq::buffer(text), zmq::send_flags::dontwait));
    auto got = Recv(broker_socket_, kWait);
    ASSERT_TRUE(got.has_value()) << "the broker got nothing";
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[1].to_string(), text);
    EXPECT_STREQ((*got)[1].gets("User-Id"), org.c_str());
    broker_socket_.send((*got)[0], zmq::send_flags::sndmore);
    broker_socket_.send(zmq::buffer("re: " + text), zmq::send_flags::none);
    auto reply = Recv(client, kWait);
    ASSERT_TRUE(reply.has_value()) << "the client got no reply";
    EXPECT_EQ((*reply)[0].to_string(), "re: " + text);
  }

  // A DEALER refused by ZAP is not reconnected by libzmq and has no pipe left, so a blocking
  // send could wait forever: clients that may be refused send without waiting.
  static void Say(zmq::socket_t& client, const std::string& text) {
    (void)client.send(zmq::buffer(text), zmq::send_flags::dontwait);
  }

  // A CURVE client built by hand with `monitor` attached before it connects, so that no
  // handshake event can be missed. Unlike MakeAgentSocket's it queues messages before the
  // handshake (no ZMQ_IMMEDIATE): a refused client's message is sent, and must not arrive.
  zmq::socket_t MonitoredClient(const Identity& id, std::unique_ptr<Monitor>& monitor,
                                const std::string& broker_key = "") {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::curve_serverkey,
          broker_key.empty() ? broker_.pub.curve_public : broker_key);
    s.set(zmq::sockopt::curve_publickey, id.pub.curve_public);
    s.set(zmq::sockopt::curve_secretkey, id.curve_secret);
    monitor = std::make_unique<Monitor>(ctx_, s);
    s.connect(endpoint_);
    return s;
  }

  void ExpectBrokerHearsNothing(std::chrono::milliseconds quiet = kQuiet) {
    auto got = Recv(broker_socket_, quiet);
    EXPECT_FALSE(got.has_value()) << "the broker received " << (*got).back().to_string();
  }

  bool WaitForRefusals(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return refusals_.size() >= n; });
  }

  std::pair<std::string, std::string> Refusal(size_t i) {
    std::lock_guard lock(mu_);
    return refusals_.at(i);
  }

  int AuthorizeCalls() {
    std::lock_guard lock(mu_);
    return authorize_calls_;
  }

  zmq::context_t ctx_;
  Identity broker_ = Gen("broker");
  Identity alice_ = Gen("org-a");
  std::mutex mu_;  // guards enrolled_, refusals_, authorize_calls_, throw_in_authorize_
  std::condition_variable cv_;
  std::map<std::string, std::string> enrolled_;
  std::vector<std::pair<std::string, std::string>> refusals_;
  int authorize_calls_ = 0;
  bool throw_in_authorize_ = false;
  std::unique_ptr<ZapAuthenticator> zap_;
  zmq::socket_t broker_socket_;
  std::unique_ptr<Monitor> broker_monitor_;
  std::string endpoint_;
};

TEST_F(CurveZap, EnrolledClientTalksAndIsKnownByItsOrg) {
  zmq::socket_t client = Agent(alice_);
  ExpectExchange(client, "org-a", "hello");
  ExpectExchange(client, "org-a", "again");
  EXPECT_EQ(AuthorizeCalls(), 1);  // once per connection, not per message
}

TEST_F(CurveZap, UnknownKeyIsRefusedAndTheClientHearsNothing) {
  Identity mallory = Gen("mallory");
  std::unique_ptr<Monitor> client_monitor;
  zmq::socket_t client = MonitoredClient(mallory, client_monitor);
  Say(client, "let me in");
  ASSERT_TRUE(WaitForRefusals(1));
  EXPECT_EQ(Refusal(0).first, mallory.pub.curve_public);
  EXPECT_NE(Refusal(0).second.find("not enrolled"), std::string::npos) << Refusal(0).second;
  // The client learns why: a ZMTP ERROR carrying the ZAP status code.
  EXPECT_EQ(client_monitor->WaitFor(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), 400u);
  EXPECT_EQ(broker_monitor_->WaitFor(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), 400u);
  ExpectBrokerHearsNothing();
  EXPECT_FALSE(Recv(client, 0ms).has_value());
}

TEST_F(CurveZap, ClientPinningAnotherBrokerKeyCannotTalk) {
  std::unique_ptr<Monitor> client_monitor;
  zmq::socket_t client = MonitoredClient(alice_, client_monitor, Gen("impostor").pub.curve_public);
  Say(client, "hello");
  // The client is told nothing specific (the server just hangs up) and keeps reconnecting.
  EXPECT_TRUE(client_monitor->WaitFor(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL).has_value());
  EXPECT_EQ(broker_monitor_->WaitFor(kHandshakeFailed),
            uint32_t{ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC});
  ExpectBrokerHearsNothing();
  EXPECT_EQ(AuthorizeCalls(), 0);  // the CURVE handshake fails before ZAP is asked
}

TEST_F(CurveZap, PlaintextClientsGetNothing) {
  for (bool plain : {false, true}) {
    zmq::socket_t client(ctx_, zmq::socket_type::dealer);
    client.set(zmq::sockopt::linger, 0);
    if (plain) {  // the PLAIN mechanism (username/password), also not CURVE
      client.set(zmq::sockopt::plain_username, "org-a");
      client.set(zmq::sockopt::plain_password, "secret");
    }
    client.connect(endpoint_);
    Say(client, "hello");
    EXPECT_EQ(broker_monitor_->WaitFor(kHandshakeFailed),
              uint32_t{ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH});
    ExpectBrokerHearsNothing();
  }
  EXPECT_EQ(AuthorizeCalls(), 0);
}

TEST_F(CurveZap, RevokedKeyIsRefusedOnItsNextConnection) {
  zmq::socket_t first = Agent(alice_);
  ExpectExchange(first, "org-a", "before");
  {
    std::lock_guard lock(mu_);
    enrolled_.clear();
  }
  std::unique_ptr<Monitor> second_monitor;
  zmq::socket_t second = MonitoredClient(alice_, second_monitor);
  Say(second, "after");
  ASSERT_TRUE(WaitForRefusals(1));
  EXPECT_EQ(Refusal(0).first, alice_.pub.curve_public);
  auto got = Recv(broker_socket_, kQuiet);
  EXPECT_FALSE(got.has_value());
  // ZAP runs only at the handshake: a connection opened before the revocation still carries
  // messages (with the old User-Id). Cutting it off is the broker's job.
  ExpectExchange(first, "org-a", "still here");
}

TEST_F(CurveZap, AuthorizeThatThrowsRefusesTheClient) {
  {
    std::lock_guard lock(mu_);
    throw_in_authorize_ = true;
  }
  std::unique_ptr<Monitor> client_monitor;
  zmq::socket_t client = MonitoredClient(alice_, client_monitor);
  Say(client, "hello");
  ASSERT_TRUE(WaitForRefusals(1));
  EXPECT_NE(Refusal(0).second.find("roster unavailable"), std::string::npos);
  EXPECT_EQ(client_monitor->WaitFor(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), 500u);
  ExpectBrokerHearsNothing(500ms);
}

TEST_F(CurveZap, ServerInAnotherZapDomainIsRefused) {
  zmq::socket_t other(ctx_, zmq::socket_type::router);
  other.set(zmq::sockopt::linger, 0);
  other.set(zmq::sockopt::curve_server, true);
  other.set(zmq::sockopt::curve_secretkey, broker_.curve_secret);
  other.set(zmq::sockopt::zap_domain, "other");
  other.bind("tcp://127.0.0.1:*");
  Result<zmq::socket_t> client = MakeAgentSocket(ctx_, alice_, broker_.pub.curve_public,
                                                 other.get(zmq::sockopt::last_endpoint), {});
  ASSERT_TRUE(client.ok());
  Say(*client, "hello");
  ASSERT_TRUE(WaitForRefusals(1));
  EXPECT_NE(Refusal(0).second.find("domain 'other'"), std::string::npos) << Refusal(0).second;
  EXPECT_FALSE(Recv(other, 500ms).has_value());
}

TEST_F(CurveZap, OversizeMessageIsDroppedWithItsConnection) {
  SocketLimits small;
  small.max_message_bytes = 1024;
  Result<zmq::socket_t> b = MakeBrokerSocket(ctx_, broker_, "tcp://127.0.0.1:*", small);
  ASSERT_TRUE(b.ok());
  Monitor monitor(ctx_, *b);
  Result<zmq::socket_t> client = MakeAgentSocket(ctx_, alice_, broker_.pub.curve_public,
                                                 b->get(zmq::sockopt::last_endpoint), {});
  ASSERT_TRUE(client.ok());
  zmq::pollitem_t item{client->handle(), 0, ZMQ_POLLOUT, 0};
  ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(kWait)), 1) << "never connected";
  ASSERT_TRUE(client->send(zmq::buffer(std::string(2048, 'x')), zmq::send_flags::dontwait));
  EXPECT_TRUE(monitor.WaitFor(ZMQ_EVENT_DISCONNECTED).has_value());
  EXPECT_FALSE(Recv(*b, 500ms).has_value());
}

TEST_F(CurveZap, WithoutAZapHandlerNoClientGetsIn) {
  zmq::context_t bare;  // no ZapAuthenticator on this context
  Result<zmq::socket_t> b = MakeBrokerSocket(bare, broker_, "tcp://127.0.0.1:*", {});
  ASSERT_TRUE(b.ok());
  Monitor monitor(bare, *b);
  Result<zmq::socket_t> client = MakeAgentSocket(bare, alice_, broker_.pub.curve_public,
                                                 b->get(zmq::sockopt::last_endpoint), {});
  ASSERT_TRUE(client.ok());
  Say(*client, "hello");
  EXPECT_TRUE(monitor.WaitFor(kHandshakeFailed).has_value());
  EXPECT_FALSE(Recv(*b, kQuiet).has_value());
}

TEST_F(CurveZap, ASecondHandlerOnTheContextFailsLoudly) {
  EXPECT_THROW(ZapAuthenticator(ctx_, [](const std::string&) { return std::nullopt; }),
               std::runtime_error);
}

TEST_F(CurveZap, FactoriesReportErrorsWithTheEndpoint) {
  Result<zmq::socket_t> bad = MakeBrokerSocket(ctx_, broker_, "tcp://nonsense", {});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tcp://nonsense"), std::string::npos)
      << bad.status().ToString();
  Result<zmq::socket_t> taken = MakeBrokerSocket(ctx_, broker_, endpoint_, {});
  EXPECT_EQ(taken.status().code(), Code::kUnavailable) << taken.status().ToString();
  EXPECT_NE(taken.status().message().find(endpoint_), std::string::npos);
  Result<zmq::socket_t> key = MakeAgentSocket(ctx_, alice_, "not a key", endpoint_, {});
  EXPECT_EQ(key.status().code(), Code::kInvalidArgument) << key.status().ToString();
}

// ---------- hostile bytes on the CURVE port (after libzmq's tests/test_security_curve.cpp) ----

class RawTcp {
 public:
  explicit RawTcp(const std::string& endpoint) {
    int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawTcp() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may already have hung up
      off += static_cast<size_t>(n);
    }
  }
  // Reads (and discards) until the server closes the connection; false at the deadline.
  bool ClosedByServer() {
    auto deadline = Clock::now() + kWait;
    char buf[4096];
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Greeting(const std::string& mechanism, char major = 3, char minor = 0) {
  std::string g;
  g += '\xff';
  g += std::string(8, '\0');
  g += '\x7f';
  g += major;
  g += minor;
  g += mechanism + std::string(20 - mechanism.size(), '\0');
  g += '\0';  // as-server: no
  g += std::string(31, '\0');
  return g;
}

std::string Command(const std::string& name, const std::string& data) {
  std::string body = std::string(1, static_cast<char>(name.size())) + name + data;
  return std::string(1, '\x04') + static_cast<char>(body.size()) + body;
}

std::string Random(size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A CURVE HELLO: version 1.0, 72 bytes padding, C', short nonce, 80-byte signature box.
std::string Hello(std::mt19937_64& rng, char major = 1, size_t padding = 72) {
  return Command("HELLO", std::string{major, 0} + std::string(padding, '\0') + Random(32, rng) +
                              Random(8, rng) + Random(80, rng));
}

TEST_F(CurveZap, HostileBytesOnTheCurvePortNeitherCrashNorGetIn) {
  std::mt19937_64 rng(99);
  struct Case {
    std::string name;
    std::string bytes;
  };
  std::string curve = Greeting("CURVE");
  std::vector<Case> cases = {
      {"random bytes", Random(4096, rng)},
      {"signature then random bytes", curve.substr(0, 10) + Random(4096, rng)},
      {"NULL mechanism", Greeting("NULL") + Command("READY", "")},
      {"PLAIN mechanism", Greeting("PLAIN") + Command("HELLO", std::string(2, '\0'))},
      {"unauthenticated message", curve + std::string("\x00\x05hello", 7)},
      {"HELLO of the wrong length", curve + Hello(rng, 1, 71)},
      {"HELLO with another command name", curve + Command("BOGUS", Hello(rng).substr(8))},
      {"HELLO of another version", curve + Hello(rng, 2)},
      {"HELLO whose box does not open", curve + Hello(rng)},
      {"INITIATE before HELLO", curve + Command("INITIATE", Random(200, rng))},
      {"huge command length", curve + std::string("\x06\x7f\xff\xff\xff\xff\xff\xff\xff", 9)},
      {"ZMTP 3.1 greeting, garbage", Greeting("CURVE", 3, 1) + Random(300, rng)},
  };
  for (const Case& c : cases) {
    RawTcp raw(endpoint_);
    ASSERT_TRUE(raw.connected()) << c.name;
    raw.Send(c.bytes);
    EXPECT_TRUE(raw.ClosedByServer()) << c.name << ": the server kept the connection open";
  }
  EXPECT_EQ(AuthorizeCalls(), 0);
  ExpectBrokerHearsNothing(0ms);
  zmq::socket_t client = Agent(alice_);
  ExpectExchange(client, "org-a", "still serving");
}

}  // namespace
}  // namespace sb

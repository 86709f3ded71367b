#include "agents/sync_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <zmq.hpp>

#include "base/utf8.h"

namespace sb {
namespace {

// Why a CURVE handshake failed without a reason from libzmq. A broker with another key and a
// connection closed before any broker spoke (a TCP relay or load balancer whose broker is
// down) look the same to libzmq; they differ in whether a ZeroMQ peer greets at all: libzmq
// sends its 10-byte ZMTP signature (0xFF, 8 bytes, 0x7F) as soon as it accepts a connection.
// So a plain TCP connection waits up to `timeout_ms` for that signature.
std::string WhyHandshakeFailed(const std::string& endpoint, int timeout_ms) {
  const std::string kUnreachable =
      "the connection to the broker at " + endpoint +
      " closed before any broker answered: is the broker running, and is what is in between "
      "(a proxy, a relay, a firewall) passing the connection through?";
  const std::string kOtherKey =
      "the broker at " + endpoint +
      " answered, but the encrypted handshake failed: is --broker-key the broker's identity.pub?";
  std::string rest = endpoint.rfind("tcp://", 0) == 0 ? endpoint.substr(6) : "";
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return kOtherKey;
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) return kOtherKey;
  std::string why = kUnreachable;
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    bool connected = ::connect(fd, found->ai_addr, found->ai_addrlen) == 0 || errno == EINPROGRESS;
    unsigned char sig[10];
    size_t got = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (connected && got < sizeof sig) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      ssize_t n = ::recv(fd, sig + got, sizeof sig - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == sizeof sig && sig[0] == 0xFF && sig[9] == 0x7F) why = kOtherKey;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

}  // namespace

SyncClient::SyncClient(LocalDirectory* dir, Clock* clock, const Identity& me, Options options)
    : options_(std::move(options)),
      me_(me),
      clock_(clock),
      dir_(dir),
      session_(dir, clock, me, options_.broker.sign_public, options_.session),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  session_.set_referrals(options_.referrals);
  session_.set_quarantine(options_.quarantine);
  if (options_.referrals) options_.referrals->set_on_queued([this] { Wake(); });
  // Push an edit as soon as it is durable, not at the next tick.
  dir_->set_on_outbox([this] { Wake(); });
}

SyncClient::~SyncClient() {
  Stop();
  dir_->set_on_outbox(nullptr);
  if (options_.referrals) options_.referrals->set_on_queued(nullptr);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void SyncClient::Wake() {
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

Status SyncClient::Start() {
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void SyncClient::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SyncClient::Run() {
  zmq::context_t ctx(1);
  // libzmq never reconnects a socket whose handshake ZAP refused, so after a refusal the
  // socket is made anew (the key may be enrolled later), at most every kRetryMs.
  constexpr uint64_t kRetryMs = 5000;
  int generation = 0;
  std::optional<zmq::socket_t> socket, monitor;
  uint64_t recreate_at = 0;   // steady ms; 0: no recreation pending
  uint64_t diagnosed_at = 0;  // steady ms of the last WhyHandshakeFailed
  std::string diagnosis;
  bool handshake_failed = false;  // since the last successful handshake
  auto steady_ms = [this] { return clock_->MonotonicMillis(); };
  auto open = [&]() -> bool {
    if (socket) zmq_socket_monitor(socket->handle(), nullptr, 0);
    monitor.reset();
    socket.reset();
    // The monitor is attached, and its reader connected, before the socket connects: a
    // handshake that completed first was never reported, and the agent then waited for it
    // forever without saying Hello (seen once in CI as an agent that never connected).
    std::string monitor_ep = "inproc://sync-monitor-" + std::to_string(++generation);
    auto attach = [&](zmq::socket_t& s) -> Status {
      if (zmq_socket_monitor(s.handle(), monitor_ep.c_str(),
                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
        return Status::IoError("cannot monitor the sync socket: " +
                               std::string(zmq_strerror(zmq_errno())));
      }
      monitor.emplace(ctx, zmq::socket_type::pair);
      monitor->connect(monitor_ep);
      return Status::Ok();
    };
    Result<zmq::socket_t> made = MakeAgentSocket(ctx, me_, options_.broker.curve_public,
                                                 options_.endpoint, options_.limits, attach);
    if (!made.ok()) {
      monitor.reset();
      spdlog::error("sync: {}", made.status().ToString());
      session_.OnDisconnected(made.status().message());
      return false;
    }
    socket.emplace(std::move(made).value());
    return true;
  };
  if (!open()) return;

  auto send_all = [&](const std::vector<std::string>& out) {
    for (const std::string& m : out) {
      zmq::message_t msg(m.data(), m.size());
      // Immediate mode: with no connection the send fails; the session resends later.
      (void)socket->send(msg, zmq::send_flags::dontwait);
    }
  };
  spdlog::info("sync: connecting to {}", options_.endpoint);
  while (!stop_) {
    // One turn of the loop. A socket error on one turn (libzmq throws for any errno but
    // EAGAIN) is logged and the loop goes on; only a terminated context ends it.
    try {
      if (recreate_at != 0 && steady_ms() >= recreate_at) {
        recreate_at = 0;
        spdlog::info("sync: trying the broker again");
        if (!open()) return;
      }
      zmq::pollitem_t items[] = {{socket->handle(), 0, ZMQ_POLLIN, 0},
                                 {monitor->handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, wake_fd_ >= 0 ? 3 : 2, std::chrono::milliseconds(50));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("sync: poll failed: {}", e.what());
        break;
      }
      if (items[2].revents & ZMQ_POLLIN) {
        uint64_t n;
        (void)!::read(wake_fd_, &n, sizeof n);
      }
      if (items[1].revents & ZMQ_POLLIN) {
        zmq::message_t ev, addr;
        if (monitor->recv(ev) && monitor->recv(addr) && ev.size() >= 6) {
          uint16_t event;
          std::memcpy(&event, ev.data(), 2);
          if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            handshake_failed = false;
            send_all(session_.OnConnected());
          } else if (event == ZMQ_EVENT_DISCONNECTED) {
            // After a refusal or a failed handshake the disconnect follows; keep that as the
            // reason shown.
            session_.OnDisconnected(recreate_at != 0 || handshake_failed
                                        ? ""
                                        : "disconnected from the broker; reconnecting");
          } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            handshake_failed = true;
            session_.OnDisconnected(
                "the broker refused this agent's key: it is not enrolled, or was revoked "
                "(ask the network's maintainers: switchboard enroll add)");
            if (recreate_at == 0) recreate_at = steady_ms() + kRetryMs;
          } else {
            handshake_failed = true;
            // Asked again at most every 10 s: a broker that stays down is not probed at
            // every reconnection.
            if (diagnosed_at == 0 || steady_ms() >= diagnosed_at + 10'000) {
              diagnosed_at = steady_ms();
              diagnosis = WhyHandshakeFailed(options_.endpoint, 1000);
            }
            session_.OnDisconnected(diagnosis);
          }
        }
      }
      if (items[0].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 64; ++i) {
          zmq::message_t msg;
          auto got = socket->recv(msg, zmq::recv_flags::dontwait);
          if (!got) break;
          send_all(session_.OnMessage(
              std::string_view(static_cast<const char*>(msg.data()), msg.size())));
        }
      }
      send_all(session_.Tick());
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      spdlog::error("sync: socket error: {}", e.what());
    } catch (const std::exception& e) {
      spdlog::error("sync: unexpected error: {}", Printable(e.what(), 300));
    }
  }
  if (socket) zmq_socket_monitor(socket->handle(), nullptr, 0);
}

}  // namespace sb

#include "tests/integration/raw_client.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <atomic>
#include <cstring>
#include <random>

#include "conflict/codec.h"
#include "transport/sockets.h"

namespace sb::testing {

using namespace std::chrono_literals;

Monitor::Monitor(zmq::context_t& ctx, zmq::socket_t& socket) {
  static std::atomic<int> n{0};
  std::string addr = "inproc://raw-client-monitor-" + std::to_string(++n);
  EXPECT_EQ(zmq_socket_monitor(socket.handle(), addr.c_str(), ZMQ_EVENT_ALL), 0);
  pair_ = zmq::socket_t(ctx, zmq::socket_type::pair);
  pair_.set(zmq::sockopt::linger, 0);
  pair_.connect(addr);
}

bool Monitor::WaitFor(uint16_t mask, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  zmq::pollitem_t item{pair_.handle(), 0, ZMQ_POLLIN, 0};
  while (std::chrono::steady_clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (zmq::poll(&item, 1, std::max(left, 1ms)) <= 0) continue;
    zmq::message_t frame;
    if (!pair_.recv(frame, zmq::recv_flags::dontwait)) continue;
    bool first = frame.size() >= 6;
    uint16_t event = 0;
    if (first) std::memcpy(&event, frame.data(), 2);
    while (frame.more()) (void)pair_.recv(frame, zmq::recv_flags::dontwait);  // the address
    if (first && (event & mask)) return true;
  }
  return false;
}

RawClient::RawClient(zmq::context_t& ctx, Identity id, const std::string& broker_curve,
                     const std::string& endpoint)
    : id_(std::move(id)), replica_(std::random_device{}() | 0x100000000ull) {
  Result<zmq::socket_t> s = MakeAgentSocket(ctx, id_, broker_curve, endpoint, SocketLimits{});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (s.ok()) socket_ = std::move(s).value();
  socket_.set(zmq::sockopt::sndtimeo, 5000);
}

bool RawClient::SendBytes(const std::string& bytes) {
  zmq::message_t m(bytes.data(), bytes.size());
  try {
    return socket_.send(m, zmq::send_flags::none).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

std::optional<proto::Message> RawClient::Recv(std::chrono::milliseconds deadline) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (zmq::poll(&item, 1, left) > 0) break;
  }
  zmq::message_t m;
  if (!socket_.recv(m, zmq::recv_flags::dontwait)) return std::nullopt;
  Result<proto::Message> msg =
      proto::DecodeEnvelope(std::string_view(static_cast<const char*>(m.data()), m.size()));
  EXPECT_TRUE(msg.ok()) << "the broker sent undecodable bytes: " << msg.status().ToString();
  if (!msg.ok()) return std::nullopt;
  return std::move(msg).value();
}

bool RawClient::Join() {
  return Send(Hello()) && Expect<proto::Welcome>().has_value();
}

Delta RawClient::OwnRecordDelta(const std::vector<std::pair<std::string, Value>>& fields) const {
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  Hlc stamp = Hlc::Make(now, 1);
  Record r(id_.pub.org, "organization");
  Record delta(id_.pub.org, "organization");
  std::vector<std::pair<std::string, Value>> all = fields;
  all.emplace_back("owner", id_.pub.org);
  for (const auto& [field, value] : all) {
    Record d = r.WriteDelta(field, value, replica_, stamp);
    r.Join(d);
    delta.Join(d);
  }
  return Delta{replica_, stamp, {delta}};
}

proto::SignedDelta RawClient::SignedBytes(const std::string& bytes) const {
  return proto::SignedDelta{bytes, org(), org(), Sign(id_, bytes)};
}

proto::SignedDelta RawClient::Signed(const Delta& delta) const {
  return SignedBytes(EncodeDelta(delta));
}

}  // namespace sb::testing

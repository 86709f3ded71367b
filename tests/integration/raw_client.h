// Test harness: a raw protocol client — an organization's keys on a CURVE DEALER, speaking
// bytes — for tests that play a broken or hostile peer against a real `switchboard broker`
// process, and a monitor for the socket's events. Nothing here sleeps to synchronize: every
// wait polls with a deadline.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "conflict/record.h"
#include "crypto/identity.h"
#include "transport/protocol.h"

namespace sb::testing {

// Collects a socket's monitor events so a test can wait for one.
class Monitor {
 public:
  Monitor(zmq::context_t& ctx, zmq::socket_t& socket);
  // Whether an event in `mask` arrives within `deadline`.
  bool WaitFor(uint16_t mask, std::chrono::milliseconds deadline);

 private:
  zmq::socket_t pair_;
};

class RawClient {
 public:
  // Connects with `id`'s keys to the broker at `endpoint` whose CURVE key is `broker_curve`.
  RawClient(zmq::context_t& ctx, Identity id, const std::string& broker_curve,
            const std::string& endpoint);

  // False when the message could not be queued in time (no connection).
  bool SendBytes(const std::string& bytes);
  bool Send(const proto::Message& m) { return SendBytes(proto::EncodeEnvelope(m)); }

  // The next message within `deadline`, decoded (nullopt: nothing, or undecodable — which
  // fails the test: a broker never sends what it cannot decode itself).
  std::optional<proto::Message> Recv(std::chrono::milliseconds deadline);

  // Skips other messages until one of type T arrives, within `deadline`.
  template <typename T>
  std::optional<T> Expect(std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      std::optional<proto::Message> m = Recv(left);
      if (!m) return std::nullopt;
      if (auto* t = std::get_if<T>(&*m)) return *t;
    }
    return std::nullopt;
  }

  proto::Hello Hello(uint32_t version = proto::kProtocolVersion) const {
    return proto::Hello{version, replica_, 0, 64, 0};
  }
  // Hello and the Welcome that answers it; false when none came.
  bool Join();

  // A well-formed delta creating (or editing) this organization's own record with `fields`.
  Delta OwnRecordDelta(const std::vector<std::pair<std::string, Value>>& fields = {
                           {"name", std::string("Hostile Org")}}) const;
  // `delta` encoded, signed with this organization's key, as a push item.
  proto::SignedDelta Signed(const Delta& delta) const;
  proto::SignedDelta SignedBytes(const std::string& delta_bytes) const;

  const Identity& id() const { return id_; }
  const std::string& org() const { return id_.pub.org; }
  ReplicaId replica() const { return replica_; }
  zmq::socket_t& socket() { return socket_; }

 private:
  Identity id_;
  ReplicaId replica_;
  zmq::socket_t socket_;
};

}  // namespace sb::testing

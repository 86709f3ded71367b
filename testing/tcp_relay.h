// A TCP relay for fault tests: listens on a loopback port and forwards every connection to a
// target port on 127.0.0.1, byte for byte, until told otherwise. Put one between each agent and
// the broker (the agent's --broker names the relay's port) and the network between them can be
// cut or frozen at will while both processes run:
//
//   open         forwards both ways (the start, and after Heal)
//   partitioned  every connection is closed (both sides see it) and the listening socket too,
//                so new connections are refused (ECONNREFUSED) until Heal
//   stalled      nothing is read or written: connections stay open, bytes pile up in the
//                kernel's buffers, the peers see silence (a black hole); new connections are
//                accepted and connected on, but nothing crosses either. Heal resumes forwarding
//                what was held, in order
//
// The target being down is not a fault of the relay's: a connection whose target refuses is
// closed at once (the client sees its connection end), as a direct connection would be refused.
// One thread polls every socket; the mode changes return once that thread has applied them.
// The relay keeps its port across Partition/Heal (SO_REUSEADDR).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "base/status.h"

namespace sb::testing {

class TcpRelay {
 public:
  enum class Mode { kOpen, kPartitioned, kStalled };

  struct Stats {
    uint64_t accepted = 0;        // connections accepted from clients
    uint64_t target_refused = 0;  // of those, closed because the target did not accept
    uint64_t cut = 0;             // connections closed by Partition
    uint64_t bytes = 0;           // bytes forwarded, both ways
  };

  // Listens on 127.0.0.1:`listen_port` (0: a free port) and forwards to 127.0.0.1:`target_port`.
  static Result<std::unique_ptr<TcpRelay>> Start(int target_port, int listen_port = 0);
  ~TcpRelay();  // closes everything
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  // Each returns once the relay's thread has applied it. Heal fails (and the relay stays
  // partitioned) only when the port cannot be bound again.
  void Partition();
  void Stall();
  Status Heal();

  Mode mode() const;
  Stats stats() const;
  static const char* ModeName(Mode m);

 private:
  struct Loop;
  TcpRelay() = default;
  Status SetMode(Mode m);

  int port_ = 0;
  int target_port_ = 0;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace sb::testing

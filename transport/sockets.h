// Socket factories with Switchboard's security and limits applied. Every socket is CURVE;
// there is no plaintext option.
#pragma once

#include <functional>
#include <string>

#include <zmq.hpp>

#include "base/status.h"
#include "crypto/identity.h"

namespace sb {

struct SocketLimits {
  // A peer is dead after `heartbeat_timeout_ms` without an answer to a ping. Generous on
  // purpose: a peer that is slow because it is busy (a broker serving thousands, an agent
  // applying a large import on a small machine) must not be cut off and made to start over —
  // that is how a loaded network livelocks. A killed process is noticed at once anyway (its
  // connections close).
  //
  // The broker pings far less often than agents do: libzmq (4.3) keeps an I/O thread's timers
  // in one ordered map and cancels a timer by walking it, and every answered ping cancels
  // one; with 10,000 connections, 5-second pings from the broker side took most of its I/O
  // threads (measured with bench swarm). For the same reason no side asks the other to keep
  // a timer for it (ZMQ_HEARTBEAT_TTL 0): each side notices a silent peer by its own pings.
  int heartbeat_ivl_ms = 5000;           // ZMQ_HEARTBEAT_IVL (agents)
  int broker_heartbeat_ivl_ms = 30000;   // ZMQ_HEARTBEAT_IVL (the broker)
  int heartbeat_timeout_ms = 30000;      // ZMQ_HEARTBEAT_TIMEOUT
  int reconnect_ivl_ms = 100;            // agent: first reconnect delay
  int reconnect_ivl_max_ms = 5000;       // agent: backoff cap
  int64_t max_message_bytes = 16 << 20;  // ZMQ_MAXMSGSIZE
  int sndhwm = 100000, rcvhwm = 100000;
  // Connections waiting to be accepted (ZMQ_BACKLOG; libzmq's default is 100). After a broker
  // restart thousands of agents reconnect at once; with a short queue their SYNs are dropped
  // and TCP retries them with backoff growing to minutes. The kernel caps it at somaxconn.
  int backlog = 4096;
  bool immediate = true;  // agent: ZMQ_IMMEDIATE (queue nothing before the handshake)
};

// The broker's ROUTER: CURVE server with `broker`'s keys, ZAP domain kZapDomain with domain
// enforcement (ZMQ_ZAP_ENFORCE_DOMAIN), ZMQ_ROUTER_MANDATORY (no silent drops), heartbeats,
// ZMQ_MAXMSGSIZE, linger 0; bound to `endpoint`. A ZapAuthenticator must already run on `ctx`.
Result<zmq::socket_t> MakeBrokerSocket(zmq::context_t& ctx, const Identity& broker,
                                       const std::string& endpoint, const SocketLimits& limits);

// An agent's DEALER: CURVE client with `agent`'s keys, pinned to `broker_curve_public` (Z85),
// heartbeats, reconnect with backoff, ZMQ_MAXMSGSIZE, ZMQ_IMMEDIATE; connected to `endpoint`.
// Until a handshake completes there is no pipe: send with dontwait (or poll for ZMQ_POLLOUT),
// never blocking. libzmq (4.3) does not reconnect a socket whose key the broker's ZAP handler
// refused (a monitor sees ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with the status code, 400): the
// caller must make a new socket to try again. A wrong broker key shows only as
// ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, and libzmq retries it every reconnect_ivl.
// `before_connect`, when given, runs on the configured socket before it connects: the place to
// attach a monitor (and connect its reader), since a handshake that completes before the
// monitor is there is never reported.
Result<zmq::socket_t> MakeAgentSocket(
    zmq::context_t& ctx, const Identity& agent, const std::string& broker_curve_public,
    const std::string& endpoint, const SocketLimits& limits,
    const std::function<Status(zmq::socket_t&)>& before_connect = {});

}  // namespace sb

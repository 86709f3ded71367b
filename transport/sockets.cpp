#include "transport/sockets.h"

#include <zmq.h>

#include "transport/zap.h"

// A draft option in zmq.h (guarded by ZMQ_BUILD_DRAFT_API) that Debian's libzmq 4.3 honours:
// with it, a CURVE server refuses every client when no ZAP handler answers, instead of
// accepting any key.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif
// Also a draft option of libzmq 4.3 that Debian's build honours.
#ifndef ZMQ_ROUTER_NOTIFY
#define ZMQ_ROUTER_NOTIFY 97
#define ZMQ_NOTIFY_CONNECT 1
#define ZMQ_NOTIFY_DISCONNECT 2
#endif

namespace sb {

namespace {

Status ZmqError(const std::string& what, int err) {
  std::string message = what + ": " + zmq_strerror(err);
  switch (err) {
    case EADDRINUSE:
    case EADDRNOTAVAIL:
      return Status::Unavailable(message);
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
      return Status::InvalidArgument(message);
    case ETERM:
      return Status::FailedPrecondition(message);
    default:
      return Status::IoError(message);
  }
}

// Sets options on one socket, remembering the first failure.
class Options {
 public:
  Options(zmq::socket_t& socket, const std::string& endpoint)
      : socket_(socket), endpoint_(endpoint) {}

  template <typename T>
  Options& Set(int option, const char* name, T value) {
    return Raw(option, name, &value, sizeof value);
  }
  Options& Set(int option, const char* name, const std::string& value) {
    return Raw(option, name, value.data(), value.size());
  }
  Status status() const { return status_; }

 private:
  Options& Raw(int option, const char* name, const void* value, size_t size) {
    if (status_.ok() && zmq_setsockopt(socket_.handle(), option, value, size) != 0) {
      status_ = ZmqError(std::string("cannot set ") + name + " on the socket for " + endpoint_,
                         zmq_errno());
    }
    return *this;
  }
  zmq::socket_t& socket_;
  const std::string& endpoint_;
  Status status_;
};

void Common(Options& o, const SocketLimits& limits, int heartbeat_ivl_ms) {
  o.Set(ZMQ_LINGER, "ZMQ_LINGER", 0)
      .Set(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", heartbeat_ivl_ms)
      .Set(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", limits.heartbeat_timeout_ms)
      .Set(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", 0)
      .Set(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", static_cast<int64_t>(limits.max_message_bytes))
      .Set(ZMQ_SNDHWM, "ZMQ_SNDHWM", limits.sndhwm)
      .Set(ZMQ_RCVHWM, "ZMQ_RCVHWM", limits.rcvhwm);
}

Result<zmq::socket_t> NewSocket(zmq::context_t& ctx, zmq::socket_type type,
                                const std::string& endpoint) {
  try {
    return zmq::socket_t(ctx, type);
  } catch (const zmq::error_t& e) {
    return ZmqError("cannot create a socket for " + endpoint, e.num());
  }
}

}  // namespace

Result<zmq::socket_t> MakeBrokerSocket(zmq::context_t& ctx, const Identity& broker,
                                       const std::string& endpoint, const SocketLimits& limits) {
  Result<std::string> secret = Z85Decode32(broker.curve_secret);
  if (!secret.ok()) return secret.status().WithContext("the broker's curve secret key");
  ASSIGN_OR_RETURN(zmq::socket_t socket, NewSocket(ctx, zmq::socket_type::router, endpoint));
  Options o(socket, endpoint);
  Common(o, limits, limits.broker_heartbeat_ivl_ms);
  o.Set(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1)
      .Set(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", *secret)
      .Set(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", std::string(kZapDomain))
      .Set(ZMQ_ZAP_ENFORCE_DOMAIN, "ZMQ_ZAP_ENFORCE_DOMAIN", 1)
      .Set(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", 1)
      .Set(ZMQ_BACKLOG, "ZMQ_BACKLOG", limits.backlog);
  // Where libzmq was built with it: an empty message from a peer's routing id when its
  // connection ends, so the broker forgets the session at once. Debian's libzmq 4.3 refuses
  // the option (EINVAL); then a gone peer is noticed at the next send to it (heartbeats
  // close the connection; ROUTER_MANDATORY makes that send fail with EHOSTUNREACH).
  int notify = ZMQ_NOTIFY_DISCONNECT;
  (void)zmq_setsockopt(socket.handle(), ZMQ_ROUTER_NOTIFY, &notify, sizeof notify);
  RETURN_IF_ERROR(o.status());
  if (zmq_bind(socket.handle(), endpoint.c_str()) != 0) {
    return ZmqError("cannot bind " + endpoint, zmq_errno());
  }
  return socket;
}

Result<zmq::socket_t> MakeAgentSocket(zmq::context_t& ctx, const Identity& agent,
                                      const std::string& broker_curve_public,
                                      const std::string& endpoint, const SocketLimits& limits,
                                      const std::function<Status(zmq::socket_t&)>& before_connect) {
  Result<std::string> server = Z85Decode32(broker_curve_public);
  if (!server.ok()) return server.status().WithContext("the broker's curve public key");
  Result<std::string> pub = Z85Decode32(agent.pub.curve_public);
  if (!pub.ok()) return pub.status().WithContext("the agent's curve public key");
  Result<std::string> secret = Z85Decode32(agent.curve_secret);
  if (!secret.ok()) return secret.status().WithContext("the agent's curve secret key");
  ASSIGN_OR_RETURN(zmq::socket_t socket, NewSocket(ctx, zmq::socket_type::dealer, endpoint));
  Options o(socket, endpoint);
  Common(o, limits, limits.heartbeat_ivl_ms);
  o.Set(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", *server)
      .Set(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", *pub)
      .Set(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", *secret)
      .Set(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", limits.reconnect_ivl_ms)
      .Set(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX", limits.reconnect_ivl_max_ms)
      // Queue nothing for a connection that is not up: the sync session resends after the
      // next handshake, so stale messages never arrive out of their session.
      .Set(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", limits.immediate ? 1 : 0);
  RETURN_IF_ERROR(o.status());
  if (before_connect) RETURN_IF_ERROR(before_connect(socket));
  if (zmq_connect(socket.handle(), endpoint.c_str()) != 0) {
    return ZmqError("cannot connect to " + endpoint, zmq_errno());
  }
  return socket;
}

}  // namespace sb

// The ZAP handler (ZeroMQ RFC 27) that makes CURVE mean "enrolled": without one, a libzmq
// CURVE server accepts any client that knows its public key. It serves
// inproc://zeromq.zap.01 on the given context from its own thread, accepts only the CURVE
// mechanism in domain kZapDomain, and asks `authorize` whether a client key is enrolled;
// accepted clients get their organization id as the ZAP User-Id, which every message from them
// then carries (zmq_msg_gets(msg, "User-Id")). Identity always comes from there.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

namespace sb {

inline constexpr char kZapDomain[] = "switchboard";

class ZapAuthenticator {
 public:
  // Returns the organization id for an enrolled, unrevoked CURVE public key (Z85), or nullopt.
  // Called from the ZAP thread; must be thread-safe.
  using Authorize = std::function<std::optional<std::string>(const std::string& curve_z85)>;
  // Called (from the ZAP thread) for every refusal, for logging: key and reason.
  using OnRefuse = std::function<void(const std::string& curve_z85, const std::string& why)>;

  // Binds the ZAP endpoint on `ctx` (must be done before any CURVE server socket binds) and
  // starts serving.
  ZapAuthenticator(zmq::context_t& ctx, Authorize authorize, OnRefuse on_refuse = {});
  ~ZapAuthenticator();  // stops the thread
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

 private:
  void Run();
  zmq::context_t& ctx_;
  Authorize authorize_;
  OnRefuse on_refuse_;
  zmq::socket_t socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sb

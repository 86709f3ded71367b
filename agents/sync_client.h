// The agent's connection to the broker: a ZeroMQ DEALER over CURVE (broker key pinned) and a
// socket monitor, driven by one thread that feeds AgentSync. Reconnects with backoff (libzmq);
// every completed handshake starts a new session (Hello).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "agents/sync_session.h"
#include "crypto/identity.h"
#include "transport/sockets.h"

namespace sb {

class SyncClient {
 public:
  struct Options {
    std::string endpoint;   // tcp://HOST:PORT
    PublicIdentity broker;  // from the broker's identity.pub (curve and sign keys)
    SocketLimits limits;
    AgentSync::Options session;
    ReferralBook* referrals = nullptr;  // carries referrals too (not owned)
    Quarantine* quarantine = nullptr;   // where unusable messages are kept (not owned)
  };

  SyncClient(LocalDirectory* dir, Clock* clock, const Identity& me, Options options);
  ~SyncClient();  // stops the thread
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  Status Start();
  void Stop();
  // Makes the loop look at the outbox and referral queue now instead of at its next tick
  // (safe from any thread).
  void Wake();
  SyncStatus status() const { return session_.status(); }
  const std::string& endpoint() const { return options_.endpoint; }

 private:
  void Run();

  Options options_;
  const Identity& me_;
  Clock* clock_;
  LocalDirectory* dir_;
  AgentSync session_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;  // eventfd
  std::thread thread_;
};

}  // namespace sb

// One partner agent, composed: its local directory over the store, the quarantine of what it
// cannot use, the referral book, the session with the broker and the local API. This is the one
// place the agent's parts are wired — what `switchboard agent`, the benchmarks and the protocol
// simulator assemble — and so the one place their order of construction and of destruction is
// kept (the sync client unhooks itself from the referral book and the directory: it goes first).
//
//   Agent::Options o;
//   o.replica = dir.replica;
//   o.identity = std::move(keys);      // optional: without keys edits wait in the outbox
//   o.broker = broker_public;          // with keys: a referral book, and Connect() may sync
//   ASSIGN_OR_RETURN(auto agent, Agent::Open(dir.store.get(), SystemClock::Get(), o));
//   RETURN_IF_ERROR(agent->Connect("tcp://127.0.0.1:7400"));   // or OpenSession() (sans-IO)
//
// Thread safety: Open, Connect, OpenSession, BindApi and the destructor from one thread; the
// parts are as thread-safe as their own headers say.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agents/api_server.h"
#include "agents/local_directory.h"
#include "agents/referral_book.h"
#include "agents/sync_client.h"
#include "agents/sync_session.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "store/quarantine.h"
#include "store/store.h"

namespace sb {

class Agent {
 public:
  struct Options {
    ReplicaId replica = 0;
    uint64_t max_skew_ms = 60'000;
    // The agent's keys (`switchboard init`). Without them it edits offline, never syncs.
    std::optional<Identity> identity;
    // The broker's public identity (its identity.pub). With keys: the agent can sync, and keeps
    // a referral book unless `referrals` is false.
    std::optional<PublicIdentity> broker;
    bool referrals = true;
    // When the referral pre-key rotates and how long a retired one's secret is kept.
    ReferralBook::PreKeyPolicy pre_keys;
    // Keep what arrives or is stored and cannot be used aside (store/quarantine.h) instead of
    // dropping it silently.
    bool quarantine = true;
    AgentSync::Options session;
  };

  // Loads the directory, the quarantine and the referral book from `store` (not owned; it must
  // outlive the agent). An error names what could not be loaded.
  static Result<std::unique_ptr<Agent>> Open(Store* store, Clock* clock, Options options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Syncs with the broker at `endpoint` (tcp://HOST:PORT) on the sync client's own thread,
  // over CURVE pinned to the broker's key. Needs keys and the broker's identity.
  Status Connect(const std::string& endpoint, SocketLimits limits = {});
  // Stops syncing (the client's thread ends; edits wait in the outbox).
  void Disconnect();
  // A sans-IO session for a caller that carries the messages itself (the protocol simulator):
  // the same session the sync client drives, without the socket. Made anew by each call.
  Result<AgentSync*> OpenSession();

  // Binds the local API (host and port from `options`; port 0 picks one); this agent fills in
  // the directory's organization, the referral book, the quarantine and the sync status.
  // Returns the bound port. ServeApi() blocks until StopApi() (safe from any thread).
  Result<int> BindApi(ApiServer::Options options);
  void ServeApi();
  void StopApi();

  LocalDirectory* directory() const { return directory_.get(); }
  ReferralBook* referrals() const { return referrals_.get(); }  // null without keys
  Quarantine* quarantine() const { return quarantine_.get(); }  // null when not kept
  SyncClient* sync() const { return client_.get(); }            // null unless connected
  AgentSync* session() const { return session_.get(); }         // from OpenSession
  const std::optional<Identity>& identity() const { return options_.identity; }
  // The sync session's state for GET /v1/status (null when the agent does not sync).
  nlohmann::json SyncStatusJson() const;

 private:
  Agent(Clock* clock, Options options);

  Clock* clock_;
  Options options_;
  std::string endpoint_;
  // Declared in construction order; destroyed the other way round.
  std::unique_ptr<LocalDirectory> directory_;
  std::unique_ptr<Quarantine> quarantine_;
  std::unique_ptr<ReferralBook> referrals_;
  std::unique_ptr<AgentSync> session_;
  std::unique_ptr<SyncClient> client_;
  std::unique_ptr<ApiServer> api_;
};

}  // namespace sb

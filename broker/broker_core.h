// The broker's logic, without sockets: sessions, ingest, the log, fan-out with credit-based
// flow control, catch-up and snapshots. The event loop (broker_server.h, or the simulator)
// feeds it messages from authenticated peers and sends what it returns. Everything here runs
// on one thread; only the Roster is shared (it is thread-safe).
//
// Log: Cf::kLog, seq (8 bytes BE) -> one encoded LogEntry (the signed delta as pushed).
// Meta: "log_head", "log_start" (entries below log_start were trimmed; an agent whose cursor
// is older gets a snapshot). Each agent's confirmed position lives in its session only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/log_limiter.h"
#include "broker/ingest.h"
#include "broker/referral_relay.h"
#include "broker/review_journal.h"
#include "broker/roster.h"
#include "conflict/edit.h"
#include "conflict/directory.h"
#include "conflict/hlc.h"
#include "schemas/clock.h"
#include "store/quarantine.h"
#include "store/store.h"
#include "transport/identity.h"
#include "transport/protocol.h"

namespace sb {

struct Outgoing {
  std::string peer;   // ZeroMQ routing id
  std::string bytes;  // an encoded envelope
};

struct SessionInfo {
  std::string peer, org, role;
  ReplicaId replica = 0;
  uint64_t sent = 0, acked = 0;
  uint32_t credits = 0;
};

struct BrokerStats {
  uint64_t pushes = 0, accepted = 0, rejected = 0, throttled = 0, malformed = 0;
  uint64_t failed = 0;       // messages whose handling failed (quarantined, refused)
  uint64_t quarantined = 0;  // entries kept in the quarantine since the start
  uint64_t log_head = 0, log_start = 1, records = 0;
  uint64_t bytes_out = 0, updates_out = 0, snapshots = 0;
};

class BrokerCore {
 public:
  struct Options {
    IngestLimits limits;
    uint64_t max_skew_ms = 60'000;
    uint64_t log_retention = 1'000'000;  // entries kept; older ones are trimmed
    uint32_t max_entries_per_update = 256;
    size_t snapshot_chunk_records = 512;
    double rate_per_s = 2000;   // deltas per organization per second, sustained
    double rate_burst = 20000;  // and in a burst
  };

  BrokerCore(Store* store, Clock* clock, const Identity& broker, Roster* roster, Options options);
  Status Load();

  // A message from `peer`, authenticated as organization `org` (ZAP User-Id). Never throws
  // and never stops: a message whose handling fails for any reason is refused, counted,
  // logged (rate-limited per organization) and quarantined, and the broker moves on.
  void OnMessage(const std::string& peer, const std::string& org, std::string_view bytes,
                 std::vector<Outgoing>* out);
  // The peer is gone (send failed, or the loop noticed).
  void OnDisconnected(const std::string& peer);
  // Streams log entries within each session's credits, resends the roster after changes, cuts
  // off revoked sessions. Call after every message and periodically.
  void Pump(std::vector<Outgoing>* out);

  const Directory& state() const { return dir_; }
  Quarantine& quarantine() { return quarantine_; }
  BrokerStats stats() const;
  std::vector<SessionInfo> Sessions() const;
  // Trims the log to the retention (also done as the log grows).
  Status TrimLog(uint64_t keep);

  // Referral handoffs (referral_relay.h): counts only, never contents.
  Result<std::map<std::string, uint64_t>> ReferralCountsByStatus() const {
    return referrals_.CountsByStatus();
  }
  AuditLog& audit() { return referrals_.audit(); }

  // --- Review (broker/review.h): writes the broker makes on a maintainer's behalf. ---
  // `plan` returns record deltas written against the state by the broker's own replica
  // (review_replica()) at the timestamp it is given; they are signed with the broker's key,
  // logged as authored by `maintainer_org`, joined and written to history in one durable
  // batch, and reach every agent like an accepted push. Returns the log seq, or 0 when the
  // plan changes nothing. On error nothing changes. With `audit_action` ("review.approve"...),
  // the batch also appends one audit entry per record (actor: `maintainer_org`, subject: the
  // record id; never values or reasons).
  using MaintainerPlan =
      std::function<Result<std::vector<Record>>(const Directory&, ReplicaId, Hlc)>;
  Result<uint64_t> ApplyMaintainerWrite(const MaintainerPlan& plan,
                                        const std::string& maintainer_org,
                                        const std::string& audit_action = "");
  // The same for edits (validated by the field schema, planned with PlanEdit).
  Result<uint64_t> ApplyMaintainerEdit(std::vector<RecordEdit> edits,
                                       const std::string& maintainer_org);
  ReplicaId review_replica() const { return review_replica_; }
  ReviewJournal& journal() { return journal_; }
  const Store& store() const { return *store_; }
  const Roster& roster() const { return *roster_; }
  uint64_t NowMillis() const { return clock_->NowMillis(); }

 private:
  struct Session {
    std::string org;
    Role role = Role::kPartner;
    ReplicaId replica = 0;
    uint64_t sent = 0;   // last seq sent
    uint64_t acked = 0;  // last seq the agent confirmed applying
    uint32_t credits = 0;
    uint64_t roster_version = 0;
  };
  struct Bucket {
    double tokens = 0;
    uint64_t at_ms = 0;
  };

  void Handle(const std::string& peer, const std::string& org, std::string_view bytes,
              std::vector<Outgoing>* out);
  // Keeps a message aside for the maintainers (rate-limited per organization).
  void SetAside(const std::string& org, std::string_view bytes, const std::string& reason);
  // What OnMessage does when Handle failed: count, log, quarantine, refuse.
  void Failed(const std::string& peer, const std::string& org, std::string_view bytes,
              const std::string& why, std::vector<Outgoing>* out);
  // Logs a warning about `org`, at most one line per interval per organization (a hostile
  // peer cannot flood the log); the next line says how many were held back.
  void WarnOrg(const std::string& org, const std::string& line);
  void PumpSession(const std::string& peer, Session& s, uint64_t roster_version, bool* erase,
                   std::vector<Outgoing>* out);
  void Send(const std::string& peer, const proto::Message& m, std::vector<Outgoing>* out);
  void Refuse(const std::string& peer, const std::string& code, const std::string& message,
              std::vector<Outgoing>* out);
  void OnHello(const std::string& peer, const std::string& org, const proto::Hello& h,
               std::vector<Outgoing>* out);
  void OnPush(const std::string& peer, Session& s, const proto::Push& p,
              std::vector<Outgoing>* out);
  void SendRoster(const std::string& peer, Session& s, std::vector<Outgoing>* out);
  // Sends referral updates to every session of their organization.
  void RouteReferrals(std::vector<ReferralRelay::Outbound> updates, std::vector<Outgoing>* out);
  void SendSnapshot(const std::string& peer, Session& s, std::vector<Outgoing>* out);
  bool TakeToken(const std::string& org);
  // A maintainer's own writes need no second opinion: publishes the moderated values it wrote
  // and vets the organizations it created (review.h, SelfPublication).
  void PublishMaintainerWrites(const std::vector<Delta>& accepted, const std::string& org);
  proto::SignedDelta ForRecipient(const proto::SignedDelta& sd, const Session& s);
  const Record* Lookup(const std::string& id) const { return dir_.Find(id); }

  Store* store_;
  Clock* clock_;
  const Identity& broker_;
  Roster* roster_;
  Options options_;
  HlcClock hlc_;
  Directory dir_;
  uint64_t log_head_ = 0, log_start_ = 1;
  uint64_t snapshot_counter_ = 0;
  std::map<std::string, Session> sessions_;  // by routing id
  std::map<std::string, Bucket> buckets_;    // by organization
  BrokerStats stats_;
  ReferralRelay referrals_;
  uint64_t next_expiry_check_ms_ = 0;
  ReviewJournal journal_{store_};
  Quarantine quarantine_{store_};
  LogLimiter log_limiter_;        // warnings per organization
  LogLimiter quarantine_limiter_{6'000};  // quarantine writes per organization
  ReplicaId review_replica_ = 0;  // derived from the broker's signing key; bound to its org
};

}  // namespace sb

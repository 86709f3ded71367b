// The agent's referral inbox and outbox (DESIGN.md §7): sealing and sending referrals,
// opening the ones addressed to this organization, taking lifecycle steps, and keeping each
// referral's history as the broker orders it. Works offline: steps and new referrals wait in
// a queue until the sync session hands them to the broker; the roster (with every partner's
// public keys) is kept on disk so that an offline agent can still seal a referral.
//
// Stored in the `referrals` column family:
//   r/<id>           the referral (JSON: header, consent, signed sealed body, signed steps,
//                    status, steps waiting for the broker, refusals)
//   k/<id>           its data key (32 bytes); purge deletes it, and with it every way to read
//                    the payload on this agent
//   q/<seq, 8 bytes> a ReferralPost waiting for the broker's ack
//   p/<id, 16 hex>   one of this organization's referral pre-keys: id (8 bytes), secret (32),
//                    public (32), created and retired times (8 each, big-endian; retired 0:
//                    current). Referrals to this organization are sealed to the current one
//                    (forward secrecy); a retired one is kept for `pre_key_grace_ms` so that
//                    referrals sealed to it before the rotation still open, then destroyed.
//   d/<id, 16 hex>   a destroyed pre-key's id (no key): a referral sealed to it is declined,
//                    while one sealed to an id this agent never had (another agent of the same
//                    organization) is set aside for that agent to take
// the `roster` column family (org -> JSON with role and public keys), meta `referral_cursor`,
// and the hash-chained audit log (store/audit.h). Each change is one batch.
//
// Thread safety: all methods may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "crypto/identity.h"
#include "store/audit.h"
#include "store/quarantine.h"
#include "store/store.h"
#include "transport/protocol.h"
#include "transport/referral_rules.h"
#include "transport/sealed.h"

namespace sb {

struct ReferralRequest {
  std::string to;           // recipient organization id
  std::string service;      // optional
  std::string urgency;      // emergency | urgent | routine
  uint64_t expires_ms = 0;  // 0: 14 days from now
  std::string consent_scope, consent_by;
  uint64_t consent_at_ms = 0;  // 0: now
  std::string payload_json;    // an object: alias, contact, contact_times, language, needs, notes
};

struct ReferralStep {
  std::string action, actor, reason;
  uint64_t at_ms = 0;
};

struct ReferralInfo {
  std::string id, box;  // box: "outbox" (we sent it) | "inbox"
  std::string sender, recipient, service, urgency, status;
  uint64_t created_ms = 0, expires_ms = 0;
  std::string consent_scope, consent_by;
  uint64_t consent_at_ms = 0;
  std::vector<ReferralStep> steps;   // as the broker ordered them
  std::vector<std::string> waiting;  // our steps not yet confirmed by the broker
  std::string refused;               // the broker's reason, if it refused our last post
  bool at_broker = false;            // the broker has confirmed the referral itself
  bool purged = false;
};

class ReferralBook {
 public:
  ReferralBook(Store* store, Clock* clock, const Identity& me, std::string broker_sign_public);
  Status Load();

  // --- for users (the API and CLI) ---
  Result<ReferralInfo> Send(const ReferralRequest& req);
  // accept | decline (reason required) | start | complete | cancel
  Result<ReferralInfo> Act(const std::string& id, const std::string& action,
                           const std::string& reason);
  // box: "", "inbox" or "outbox"; status: "" or a status name.
  Result<std::vector<ReferralInfo>> List(const std::string& box, const std::string& status) const;
  Result<ReferralInfo> Get(const std::string& id) const;
  // The decrypted payload (JSON text). NotFound when purged.
  Result<std::string> Payload(const std::string& id) const;
  // After closure: destroys the data key and the sealed copy on this agent.
  Status Purge(const std::string& id);
  std::vector<std::string> KnownOrganizations() const;

  // --- for the sync session ---
  // Keeps the roster's keys (durably, then in memory). On error neither changes: the caller
  // asks for the roster again. OnRoster only logs the error.
  Status SaveRoster(const proto::Roster& r);
  void OnRoster(const proto::Roster& r);
  // Posts waiting for the broker, oldest first.
  std::vector<proto::ReferralPost> Pending(size_t max) const;
  // Settles the post `ack` answers. An ack with code "unavailable" (the broker could not
  // save the post) settles nothing: the post stays queued and goes again.
  Status OnAck(const proto::ReferralPostAck& ack);
  // Applies an update. An update that can never be used (a forged step, a history that
  // changed, a referral that breaks a limit) is quarantined and its version stepped over; a
  // new referral that breaks a limit is also declined with the reason. Errors returned are
  // transient (FailedPrecondition: the roster is behind; IoError): the update comes again.
  Status OnUpdate(const proto::ReferralUpdate& u);
  // Quarantines `u` with `why` and steps the cursor over it (for a caller whose handling of
  // `u` failed in a way OnUpdate could not report).
  Status SetAside(const proto::ReferralUpdate& u, const Status& why);
  uint64_t cursor() const;
  size_t queue_depth() const;

  // --- pre-keys (forward secrecy) ---
  // How often the pre-key rotates, and how long a retired one's secret is kept (so referrals
  // sealed to it while it was current can still be opened). Set before Load.
  struct PreKeyPolicy {
    uint64_t rotate_ms = 7ull * 24 * 3600 * 1000;
    uint64_t grace_ms = 14ull * 24 * 3600 * 1000;
  };
  void set_pre_key_policy(PreKeyPolicy p) {
    MutexLock lock(mu_);
    pre_key_policy_ = p;
  }
  // The current pre-key, signed, for the Hello; rotates first when it is due, and destroys the
  // retired secrets past their grace. Empty if the store failed (logged).
  proto::SignedPreKey CurrentPreKey();
  // Its id alone (no signature made): 0 if none.
  uint64_t CurrentPreKeyId();
  // Rotates now (a new current pre-key; the old one retired) and destroys retired secrets past
  // their grace. Returns the new pre-key's id and how many secrets were destroyed.
  Result<std::pair<uint64_t, size_t>> RotatePreKey();
  // Ids of the pre-key secrets this agent still holds, oldest first.
  std::vector<uint64_t> HeldPreKeys() const;
  // The pre-key id each organization in the roster has published (0: none yet).
  std::map<std::string, uint64_t> RosterPreKeys() const;

  AuditLog& audit() { return audit_; }
  // Where updates that can never be used are kept aside (not owned; optional). Set before
  // the sync session starts.
  void set_quarantine(Quarantine* q) { quarantine_ = q; }
  // Called (from the caller's thread) after a post was queued, to wake the sync loop.
  void set_on_queued(std::function<void()> fn) {
    MutexLock lock(mu_);
    on_queued_ = std::move(fn);
  }

 private:
  void Queued() REQUIRES(mu_);
  struct Entry;
  struct Key {
    Role role = Role::kPartner;
    std::string sign, box;
    bool revoked = false;
    proto::SignedPreKey pre_key;  // checked against `sign` when saved; empty: none (yet)
  };
  struct HeldPreKey {
    PreKeyPair pair;
    uint64_t created_ms = 0, retired_ms = 0;  // retired 0: the current one
  };
  // Rotates when `force` or due, then destroys what is past its grace. Under mu_.
  Result<size_t> MaintainPreKeys(bool force) REQUIRES(mu_);
  // The current (unretired) pre-key, or null.
  const HeldPreKey* CurrentHeld() const REQUIRES(mu_);
  // The data key of a referral to us sealed to one of our pre-keys; NotFound when that pre-key's
  // secret was destroyed.
  Result<std::string> OpenWithPreKey(const proto::ReferralBody& body) const REQUIRES(mu_);
  Result<std::optional<Entry>> Read(const std::string& id) const;
  // Keeps the in-memory index (box, status, creation) in step with a committed entry.
  void Index(const Entry& e) REQUIRES(mu_);
  static ReferralInfo Info(const Entry& e);
  // OnUpdate's work (under mu_); errors are transient or reasons to quarantine.
  Status ApplyUpdate(const proto::ReferralUpdate& u) REQUIRES(mu_);
  // A new referral that breaks a limit: kept without payload, quarantined, and declined.
  Status RefuseOnReceipt(const proto::ReferralUpdate& u, const proto::ReferralBody& body,
                         const Status& why) REQUIRES(mu_);
  Status SaveCursor(uint64_t version) REQUIRES(mu_);
  Status SetAsideLocked(const proto::ReferralUpdate& u, const Status& why) REQUIRES(mu_);
  bool VerifyStep(const proto::Signed& s, const proto::TransitionBody& t, const std::string& sender,
                  const std::string& recipient) const REQUIRES(mu_);

  Store* store_;
  Clock* clock_;
  const Identity& me_;
  std::string broker_sign_public_;
  AuditLog audit_;
  mutable Mutex mu_;  // guards everything below but quarantine_ (set once, before use)
  std::map<std::string, Key> roster_ GUARDED_BY(mu_);
  std::map<uint64_t, HeldPreKey> pre_keys_ GUARDED_BY(mu_);  // by id
  std::set<uint64_t> destroyed_pre_keys_ GUARDED_BY(mu_);
  PreKeyPolicy pre_key_policy_ GUARDED_BY(mu_);
  struct Summary {
    std::string box, status;
    uint64_t created_ms = 0;
  };
  std::map<std::string, Summary> index_ GUARDED_BY(mu_);  // every referral, so listing reads
                                                          // only matches
  uint64_t cursor_ GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  size_t queue_depth_ GUARDED_BY(mu_) = 0;
  std::function<void()> on_queued_ GUARDED_BY(mu_);
  Quarantine* quarantine_ = nullptr;
};

}  // namespace sb

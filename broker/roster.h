// The broker's roster: which organizations are enrolled, with which role and keys, and which
// replica ids belong to them. Persisted in the store's `roster` column family:
//   "org/<org id>"        -> JSON {"org","role","curve","box","sign","enrolled_at","revoked"}
//   "replica/<16 hex>"    -> org id (bound on the replica's first Hello; never rebound)
// Thread-safe: the ZAP thread authorizes keys while the event loop and the API read and write.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "conflict/causal_context.h"
#include "crypto/identity.h"
#include "store/audit.h"
#include "store/store.h"
#include "transport/protocol.h"  // Role

namespace sb {

struct Member {
  PublicIdentity identity;  // identity.org is the organization id
  Role role = Role::kPartner;
  uint64_t enrolled_at_ms = 0;
  bool revoked = false;
  // Bumps each time the organization's keys are replaced (Rekey): a session started under an
  // older epoch was authenticated by a key that is no longer the organization's.
  uint32_t key_epoch = 0;
  // The signing keys it had before (newest first, at most proto::kMaxRetiredSignKeys): log
  // entries signed while they were current must still verify at the agents.
  std::vector<std::string> retired_sign_keys;
  // Its current referral pre-key, as its agent published it in a Hello (signature checked).
  proto::SignedPreKey pre_key;
};

class Roster {
 public:
  explicit Roster(Store* store) : store_(store) {}
  Status Load();

  // Enrollment is a ceremony, each step its own call; each is durable on return together with
  // its entry in `audit` (when given; actor `actor`, subject the organization id), and
  // changes nothing when it fails. No step takes over an organization by accident:
  //
  // Enroll: a new organization. AlreadyExists for an organization id that is enrolled or
  // was revoked (replacing keys is Rekey, coming back is Reinstate), or for keys (CURVE,
  // signing or box) another organization holds.
  Status Enroll(const PublicIdentity& identity, Role role, uint64_t now_ms,
                AuditLog* audit = nullptr, const std::string& actor = "broker");
  // Replaces an enrolled, unrevoked organization's keys (identity.org names it) and bumps its
  // key epoch: the old CURVE key is refused from now on and its sessions are cut. NotFound
  // for an organization not enrolled, FailedPrecondition for a revoked one (Reinstate it),
  // InvalidArgument for the same keys, AlreadyExists for keys another organization holds.
  // `*before` (when given) receives the member as it was.
  Status Rekey(const PublicIdentity& identity, uint64_t now_ms, Member* before = nullptr,
               AuditLog* audit = nullptr, const std::string& actor = "broker");
  // Changes an enrolled organization's role (partner | maintainer); its keys stay. NotFound,
  // FailedPrecondition for a revoked organization, InvalidArgument for the role it has.
  Status SetRole(const std::string& org, Role role, uint64_t now_ms, AuditLog* audit = nullptr,
                 const std::string& actor = "broker");
  // Revokes; NotFound for an unknown organization, FailedPrecondition if already revoked.
  Status Revoke(const std::string& org, uint64_t now_ms = 0, AuditLog* audit = nullptr,
                const std::string& actor = "broker");
  // Reinstates a revoked organization, with the keys it had or with `new_keys` (when given;
  // new_keys->org must be `org`; the key epoch bumps as for Rekey). NotFound /
  // FailedPrecondition (not revoked) / AlreadyExists (keys another organization holds).
  Status Reinstate(const std::string& org, uint64_t now_ms,
                   const PublicIdentity* new_keys = nullptr, AuditLog* audit = nullptr,
                   const std::string& actor = "broker");

  // Keeps `k` as `org`'s current referral pre-key when it is newer (a higher id) than the one
  // kept and signed by the organization's current signing key; durable on return, and sent to
  // every session as a roster change. Ok (nothing changes) for the pre-key already kept;
  // InvalidArgument for a bad signature or an older id; NotFound / FailedPrecondition.
  Status SetPreKey(const std::string& org, const proto::SignedPreKey& k);

  std::optional<Member> Find(const std::string& org) const;
  // The organization of an enrolled, unrevoked CURVE key (Z85).
  std::optional<std::string> AuthorizeCurve(const std::string& curve_z85) const;
  std::vector<Member> List() const;
  // Bumps on every change, so sessions know to send what changed.
  uint64_t version() const;
  // The members enrolled, re-enrolled or revoked after `version` (what a session that was
  // sent the roster at `version` has not seen), in organization order.
  std::vector<Member> ChangedSince(uint64_t version) const;

  // Binds `replica` to `org` on first use; refuses a replica already bound to another org
  // (PermissionDenied), and a new one when `org` has `max_per_org` bound already
  // (ResourceExhausted; 0: no limit). Bindings are permanent.
  Status BindReplica(ReplicaId replica, const std::string& org, size_t max_per_org = 0);
  // The organization `replica` is bound to, or "" when it is not bound.
  std::string OrgOfReplica(ReplicaId replica) const;
  // Every bound replica id with its organization (tombstone collection's horizon, gc.h).
  std::map<ReplicaId, std::string> Replicas() const;

 private:
  Store* store_;
  mutable Mutex mu_;  // guards everything below
  std::map<std::string, Member> members_ GUARDED_BY(mu_);
  std::map<std::string, std::string> by_curve_ GUARDED_BY(mu_);  // curve Z85 -> org
  std::map<ReplicaId, std::string> replicas_ GUARDED_BY(mu_);
  std::map<std::string, size_t> replicas_of_org_ GUARDED_BY(mu_);
  // org -> the version its last change made
  std::map<std::string, uint64_t> changed_at_ GUARDED_BY(mu_);
  uint64_t version_ GUARDED_BY(mu_) = 1;

  // Writes `m` (and the audit entry `action`, when `audit` is given) in one commit, then
  // updates the maps. `m` replaces whatever the roster held for its organization.
  Status Save(Member m, uint64_t now_ms, AuditLog* audit, const std::string& actor,
              const std::string& action) REQUIRES(mu_);
  // The organization other than `org` holding any of `id`'s keys, or "".
  std::string KeyHolder(const PublicIdentity& id, const std::string& org) const REQUIRES(mu_);
};

}  // namespace sb

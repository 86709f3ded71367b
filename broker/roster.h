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
#include "store/store.h"
#include "transport/protocol.h"  // Role

namespace sb {

struct Member {
  PublicIdentity identity;  // identity.org is the organization id
  Role role = Role::kPartner;
  uint64_t enrolled_at_ms = 0;
  bool revoked = false;
};

class Roster {
 public:
  explicit Roster(Store* store) : store_(store) {}
  Status Load();

  // Enrolls (or re-enrolls with new keys/role) an organization; durable on return. Refuses a
  // CURVE key already bound to another organization.
  Status Enroll(const PublicIdentity& identity, Role role, uint64_t now_ms);
  // Revokes; durable on return. NotFound for an unknown organization.
  Status Revoke(const std::string& org);

  std::optional<Member> Find(const std::string& org) const;
  // The organization of an enrolled, unrevoked CURVE key (Z85).
  std::optional<std::string> AuthorizeCurve(const std::string& curve_z85) const;
  std::vector<Member> List() const;
  // Bumps on every change, so sessions know to send what changed.
  uint64_t version() const;
  // The members enrolled, re-enrolled or revoked after `version` (what a session that was
  // sent the roster at `version` has not seen), in organization order.
  std::vector<Member> ChangedSince(uint64_t version) const;

  // Binds `replica` to `org` on first use; refuses a replica already bound to another org.
  Status BindReplica(ReplicaId replica, const std::string& org);
  // The organization `replica` is bound to, or "" when it is not bound.
  std::string OrgOfReplica(ReplicaId replica) const;

 private:
  Store* store_;
  mutable Mutex mu_;  // guards everything below
  std::map<std::string, Member> members_ GUARDED_BY(mu_);
  std::map<std::string, std::string> by_curve_ GUARDED_BY(mu_);  // curve Z85 -> org
  std::map<ReplicaId, std::string> replicas_ GUARDED_BY(mu_);
  // org -> the version its last change made
  std::map<std::string, uint64_t> changed_at_ GUARDED_BY(mu_);
  uint64_t version_ GUARDED_BY(mu_) = 1;
};

}  // namespace sb

// The broker's side of referral handoffs (DESIGN.md §7): it checks, orders and stores each
// referral and each lifecycle step, holds the sealed referral until the recipient's agent
// acknowledges it (the `deliver` step), expires unanswered referrals, and tells both parties
// every change. It never holds a key that opens a payload: the ciphertext is stored as it came
// and deleted once delivered (or expired).
//
// Stored in the `referrals` column family:
//   r/<id>                       the referral (JSON: header, signed body until delivered,
//                                signed transitions, status, version)
//   o/<org>/<version, 8 bytes>   -> id: each party's index of changes, for catch-up
//   e/<expires ms, 8 bytes>/<id> -> "": unanswered referrals, for expiry
// and meta `referral_version`. Each change, its indexes and its audit entry are one batch.
//
// Thread safety: none; BrokerCore calls it on its event-loop thread (and under its lock).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "broker/roster.h"
#include "crypto/identity.h"
#include "store/audit.h"
#include "store/store.h"
#include "transport/protocol.h"

namespace sb {

class ReferralRelay {
 public:
  // `max_open_per_pair`: how many of one sender's referrals to one recipient may be unanswered
  // (sent or delivered, neither accepted nor declined nor over) at once; more are refused
  // with code `quota` (a burst aimed at one organization stays contained). 0: no limit.
  ReferralRelay(Store* store, Clock* clock, const Identity& broker, Roster* roster,
                size_t max_open_per_pair = 50);

  Status Load();

  // An update for one organization's agents.
  using Outbound = std::pair<std::string, proto::ReferralUpdate>;

  // Handles a post from `org` (its identity from its key). Returns the ack; appends the
  // updates to send (to both parties) to `out`.
  proto::ReferralPostAck OnPost(const std::string& org, const proto::ReferralPost& post,
                                std::vector<Outbound>* out);

  // Everything that changed for `org` after `cursor` (its agent's referral cursor).
  Result<std::vector<proto::ReferralUpdate>> Since(const std::string& org, uint64_t cursor) const;

  // Expires unanswered referrals whose time has come; appends the updates to `out`.
  Status ExpireDue(std::vector<Outbound>* out);

  // Referrals by status (counts only).
  Result<std::map<std::string, uint64_t>> CountsByStatus() const;

  AuditLog& audit() { return audit_; }
  // How many sealed bodies were dropped (delivered, answered or over) since the last call:
  // the store still holds them in its files until they are erased (Store::Erase).
  uint64_t TakeBodiesDropped() { return std::exchange(bodies_dropped_, 0); }
  uint64_t version() const { return version_; }

 private:
  struct Stored;
  Result<std::optional<Stored>> Read(const std::string& id) const;
  proto::ReferralUpdate UpdateFor(const Stored& r, const std::string& org) const;
  // Commits `r` (new version, indexes, audit entry) and queues updates for both parties.
  // `was_open`: whether the referral was unanswered before this change (for the quota).
  Status Save(Stored r, const std::string& old_expiry_key, uint64_t old_version, bool was_open,
              const std::string& actor, const std::string& action, std::vector<Outbound>* out);
  proto::ReferralPostAck NewReferral(const std::string& org, const proto::ReferralPost& post,
                                     std::vector<Outbound>* out);
  proto::ReferralPostAck Transition(const std::string& org, const proto::ReferralPost& post,
                                    std::vector<Outbound>* out);

  Store* store_;
  Clock* clock_;
  const Identity& broker_;
  Roster* roster_;
  AuditLog audit_;
  uint64_t version_ = 0;
  // Posts the broker could not save (its store failed; refused as "unavailable"), by
  // (organization, referral): the post's seq. A later post of that referral depends on it, so
  // it is refused as "unavailable" too until the failed one, posted again, is saved.
  std::map<std::pair<std::string, std::string>, uint64_t> unsaved_;
  size_t max_open_per_pair_;
  uint64_t bodies_dropped_ = 0;
  // Unanswered referrals per (sender, recipient), rebuilt by Load from the expiry index.
  std::map<std::pair<std::string, std::string>, size_t> open_;
};

}  // namespace sb

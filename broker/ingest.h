// Validation of one pushed delta at the broker, before anything is merged. Checks, in order:
// the claimed author is the authenticated organization; size; the author's Ed25519 signature;
// decoding; the delta's replica is the session's (bound to the organization); clock skew;
// the field schema; that every new dot is the author replica's own and that the causal
// context claims no other replica's dots the broker has not seen (so a forged context cannot
// erase others' writes); ownership (a partner edits only its organization's records, a new
// record belongs to its creator's organization); maintainer-only fields. The reason a delta
// is refused is returned for the agent and the log; the state is not touched.
#pragma once

#include <string>

#include "broker/roster.h"
#include "conflict/directory.h"
#include "conflict/field_schema.h"
#include "conflict/hlc.h"
#include "transport/protocol.h"

namespace sb {

struct Author {
  std::string org;
  Role role = Role::kPartner;
  ReplicaId replica = 0;
};

struct IngestLimits {
  size_t partner_delta_bytes = 256 << 10;
  size_t maintainer_delta_bytes = 4 << 20;
};

// `lookup(id)` returns the broker's current state of a record (nullptr if none), including
// records accepted earlier in the same batch.
template <typename Lookup>
Result<Delta> ValidatePush(const proto::SignedDelta& signed_delta, const Author& who,
                           const Lookup& lookup, const Roster& roster, const HlcClock& clock,
                           uint64_t now_ms, const IngestLimits& limits);

// The non-template core, with lookup as a std::function.
Result<Delta> ValidatePushImpl(const proto::SignedDelta& signed_delta, const Author& who,
                               const std::function<const Record*(const std::string&)>& lookup,
                               const Roster& roster, const HlcClock& clock, uint64_t now_ms,
                               const IngestLimits& limits);

template <typename Lookup>
Result<Delta> ValidatePush(const proto::SignedDelta& signed_delta, const Author& who,
                           const Lookup& lookup, const Roster& roster, const HlcClock& clock,
                           uint64_t now_ms, const IngestLimits& limits) {
  return ValidatePushImpl(signed_delta, who, lookup, roster, clock, now_ms, limits);
}

// The part of `delta` that organization `org` (with `role`) may read: fields whose audience
// excludes it are removed (owner-only and maintainer-only fields of other organizations'
// records, confidential addresses), judged on the broker's current state of each record.
// Records left with no visible field are dropped. `*filtered` tells whether anything was cut.
// Each record is its AudienceView (conflict/views.h), whose hidden values' dots are not in the
// context the recipient receives.
Delta FilterFor(const Delta& delta, const std::string& org, Role role,
                const std::function<const Record*(const std::string&)>& lookup, bool* filtered);

// Whether a reader may see a field with `audience` (conflict/views.h CanRead).
bool Visible(Audience audience, bool is_owner, Role role);

// Why the broker did not take `what` (a push, a referral step) when its store failed to save
// it, for the refusal on the wire (code `unavailable`: the agent keeps it and sends it again).
// A full disk and an I/O error are named as such, with the broker's store message.
std::string NotSavedReason(const Status& store_error, const std::string& what);

}  // namespace sb

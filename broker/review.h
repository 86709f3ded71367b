// The maintainers' review queue, derived from state (DESIGN.md §8): a pure function of the
// broker's directory, the refused pushes it keeps (review_journal.h) and the roster's replica
// bindings, so it rebuilds identically after a restart. Four kinds of item:
//   conflict          a field with siblings (or a record edited while deleted)
//   new_organization  an organization no maintainer has vetted (approved absent)
//   moderated_change  a moderated field whose proposed value differs from its published one
//   refused_push      a push the broker refused at ingest, until a maintainer settles it
// Item ids are derived from what was reviewed ("m-" + a hash of the record, the field and the
// writes involved), so an id goes stale the moment what it names changes: a decision is only
// ever applied to exactly what the maintainer looked at.
//
// Decisions (PlanDecision) are maintainer writes, planned here and committed by BrokerCore as
// ordinary deltas that sync to every agent (schemas/FORMATS.md, "Review"):
//   moderated_change  approve: <f>@published := proposed (and clears an old rejection note)
//                     reject:  <f> := published (or cleared), <f>@rejected := proposed,
//                              <f>@rejected_reason := reason
//                     resolve: <f> := value, <f>@published := value
//   new_organization  approve: approved := true;  reject: approved := false, vetting_note := reason
//   conflict          approve: keep the displayed value; resolve: <f> := value (for a moderated
//                     field also published); a record edited while deleted: resolve with
//                     "restore" or "delete"
//   refused_push      approve: apply what it tried, as the maintainer; reject: dismiss
// Pure: no I/O, time passed in.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "broker/review_journal.h"
#include "conflict/directory.h"
#include "conflict/edit.h"
#include "conflict/field_schema.h"
#include "conflict/hlc.h"

namespace sb {

enum class ReviewKind { kConflict, kNewOrganization, kModeratedChange, kRefusedPush };
const char* ReviewKindName(ReviewKind k);
Result<ReviewKind> ParseReviewKind(std::string_view s);

enum class ReviewAction { kApprove, kReject, kResolve };
const char* ReviewActionName(ReviewAction a);

// Maps a replica to the organization it is bound to ("" when unknown).
using OrgOfReplica = std::function<std::string(ReplicaId)>;

struct ReviewWrite {
  nlohmann::json value;
  std::string org;  // the writer's organization (from the roster), "" if unknown
  ReplicaId replica = 0;
  uint64_t at_ms = 0;
};

struct ReviewItem {
  std::string id;
  ReviewKind kind = ReviewKind::kConflict;
  std::string detail;  // conflict: its kind; refused_push: the reason
  std::string org;     // the record's owner; refused_push: the organization refused
  std::string org_name;
  std::string record, record_kind, record_name;
  std::string field;  // "" for record-level items
  nlohmann::json before, after;
  std::vector<ReviewWrite> siblings;  // conflict: every sibling, displayed first
  ReviewWrite who;                    // who proposed it, when
  std::vector<std::string> actions;   // what a maintainer may do
  uint64_t refusal_seq = 0;           // refused_push
};

// The whole queue, oldest first (then by id).
std::vector<ReviewItem> DeriveQueue(const Directory& dir, const std::vector<RefusedPush>& refusals,
                                    const OrgOfReplica& org_of, const FieldSchema& schema);

struct ReviewFilter {
  std::optional<ReviewKind> kind;
  std::string org, field, q;  // q: substring of the record's or organization's name or id
  uint64_t min_age_ms = 0;
  bool Matches(const ReviewItem& item, uint64_t now_ms) const;
};

struct Decision {
  ReviewAction action = ReviewAction::kApprove;
  std::string reason;    // reject (required, at most 1000 bytes)
  nlohmann::json value;  // resolve: the value to write (text, number, boolean or null)
};

// The record deltas that carry out `d` on `item`, planned against `dir` as `replica` at
// `stamp`. InvalidArgument for an action the item does not allow or a bad value or reason
// (naming the rule); nothing is planned then.
Result<std::vector<Record>> PlanDecision(const ReviewItem& item, const Decision& d,
                                         const Directory& dir, const FieldSchema& schema,
                                         ReplicaId replica, Hlc stamp);

// The writes a maintainer's accepted push implies: moderated fields the maintainer wrote are
// published at once, and an organization a maintainer created (or assigned) is vetted.
// `delta` is the pushed record delta, `after` the record once joined, `author` the pushing
// replica.
RecordEdit SelfPublication(const Record& delta, const Record& after, ReplicaId author,
                           const FieldSchema& schema);

// Converts a JSON value to the type `kind.field` holds (text stays text; "12" for an integer
// field and "true" for a boolean one are accepted, as from a command line).
Result<Value> ValueForField(const FieldSchema& schema, const std::string& kind,
                            const std::string& field, const nlohmann::json& v);

// The replica id the broker writes maintainer decisions with: derived from its signing key
// (BLAKE2b), so it is stable without being stored, and never 0.
ReplicaId ReviewReplicaFor(std::string_view broker_sign_public);

nlohmann::json ValueToJson(const std::optional<Value>& v);
nlohmann::json ItemJson(const ReviewItem& item, uint64_t now_ms);

}  // namespace sb

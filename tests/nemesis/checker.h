// The nemesis test's checker: a history of what the workload asked the agents to do (and what
// they answered), the views read from the broker and every agent once the network has been
// healed and has settled, and the verdict.
//
// The history. Every request is recorded with the agent it went to, its operation, what it
// wrote, and when it began and ended (a monotonic clock). A request is *acknowledged* when the
// agent answered 2xx; *attempted* when it got no answer (the agent was killed or cut off: it may
// or may not have landed) or an error status (it should not have landed, but the checker does
// not rely on that). Each agent's requests are made one at a time, in order.
//
// The views. The broker's view is its own state, read through its console API (every field
// with its siblings). An agent's view is what its local API shows that agent's organization
// and role. The workload only writes fields whose audience is `public` and that are not
// moderated, on records whose organization a maintainer approved before the faults began, so
// every agent's audience includes every field the checker compares.
//
// What the checker reports:
//
// * diverged: an agent whose view of a workload record differs from the broker's: present or
//   absent, deleted or not, or a compared field's displayed value or its set of sibling values
//   (for sets: the elements). Converged means no agent diverges.
//
// * lost, per operation (judged on the broker's view; "begun after w was acknowledged" is the
//   real-time condition without which no writer can have seen w, so it is necessary for
//   superseding w, and a loss reported by these rules is a loss for certain):
//   - scalar write w (record r, field f, value v): lost when v is not among the values of r.f
//     (the displayed value or any sibling), no value of r.f was written by a request (any
//     agent's, acknowledged or attempted) that began after w was acknowledged, and no delete
//     of r began after then. A concurrent write may win the display, but in an MV-register it
//     leaves w as a sibling; only a write that had seen w removes it. A delete removes every
//     value its writer had seen (Record::DeleteDelta), and a restore brings none back.
//   - set write w (record r, set field f, contents S): each element e of S is lost when e is
//     not in r.f and no request that began after w was acknowledged wrote contents without e
//     or deleted r (a write that replaces the contents removes only what its writer had seen;
//     a concurrent add of e wins: add-wins).
//   - delete d of r: lost when r is not deleted and no restore of r could have superseded d:
//     none was made by another agent at all, nor by d's agent after d began.
//   - restore s of r: lost when r is deleted and no delete of r could have superseded s (the
//     same rule, mirrored).
//   - phantom: a value or element of a compared field that no request ever wrote, or a
//     workload record the broker has that no request created.
//   A write the agent answered as unchanged (it already held that value or contents) wrote
//   nothing: it is neither lost nor a write that supersedes another.
//   A write the broker refused is no loss when the writer's agent lists the record among its
//   rejections (the user was told why); those are counted as rejected.
//
// * referrals: every referral whose send was acknowledged (HTTP 201, with its id) must be
//   listed exactly once in the sender's outbox and, unless it was cancelled before it reached
//   the recipient, exactly once in the recipient's inbox (missing: lost; twice: duplicated),
//   with the same status on both sides, no step of ours still waiting for the broker, and no
//   step recorded twice in its history (a delivery twice). Every acknowledged action
//   (accept, decline, start, complete, cancel) must be in the referral's steps on both sides or
//   be the one the broker refused (the referral's `refused` reason on the actor's side, e.g.
//   the sender cancelled first); else it is lost. A referral nobody sent is a phantom.
//
// The report also counts acknowledged writes by kind and the faults the nemesis injected (the
// test fills those in).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace sb::nemesis {

using nlohmann::json;

enum class OpKind { kCreate, kScalar, kSet, kDelete, kRestore };
const char* OpKindName(OpKind k);

// One request to an agent's directory API.
struct WriteOp {
  OpKind kind = OpKind::kScalar;
  std::string agent;      // the agent (its name in the test) the request went to
  std::string record;     // the record's id
  std::string field;      // kScalar, kSet: the field written
  json value;             // kScalar: the value; kSet: the contents (an array of text)
  json fields;            // kCreate: every field the record was created with
  uint64_t begin_us = 0;  // when the request began (monotonic microseconds)
  uint64_t end_us = 0;    // when it ended
  bool acked = false;     // the agent answered 2xx
  // The agent answered that the write changed nothing (op "unchanged": the field already held
  // that value or those contents), so it wrote nothing that could compete with another write.
  bool unchanged = false;
};

// One request to an agent's referral API.
struct ReferralOp {
  std::string action;  // "send", "accept", "decline", "start", "complete", "cancel"
  std::string agent;   // who made it
  std::string id;      // the referral (for "send": from the reply; "" when unknown)
  std::string to;      // "send": the recipient's agent
  uint64_t begin_us = 0, end_us = 0;
  bool acked = false;
};

struct History {
  std::vector<WriteOp> writes;
  std::vector<ReferralOp> referrals;
  std::map<std::string, std::string> org_of;  // agent name -> its organization id
};

// A field as a view shows it.
struct FieldView {
  json value;                  // the displayed value (for a set: the sorted elements)
  std::vector<json> siblings;  // every concurrent value, sorted (empty when there is one)
  bool operator==(const FieldView& o) const { return value == o.value && siblings == o.siblings; }
};

struct RecordView {
  bool deleted = false;
  std::map<std::string, FieldView> fields;  // the compared fields that have a value
  bool operator==(const RecordView& o) const { return deleted == o.deleted && fields == o.fields; }
};

using View = std::map<std::string, RecordView>;  // record id -> record (absent: not there)

// A referral as one agent lists it.
struct ReferralView {
  std::string id, box, status, refused, sender, recipient;
  std::vector<std::string> actions;  // its steps' actions, in order
  size_t waiting = 0;                // our steps the broker has not confirmed
};

struct Observation {
  View broker;
  std::map<std::string, View> agents;                             // agent name -> view
  std::map<std::string, std::vector<ReferralView>> referrals;     // agent name -> its list
  std::map<std::string, std::set<std::string>> rejected_records;  // agent -> records refused
};

struct Report {
  std::map<std::string, uint64_t> acked;       // acknowledged writes by kind (and referral ops)
  std::map<std::string, uint64_t> attempted;   // requests without a 2xx answer, by kind
  std::map<std::string, uint64_t> faults;      // filled in by the test: injected, by kind
  std::vector<std::string> lost;               // one line per lost write, element, referral step
  std::vector<std::string> diverged;           // one line per agent and record that differs
  std::vector<std::string> referral_problems;  // lost, duplicated, split or stuck referrals
  std::vector<std::string> phantoms;           // values or referrals nobody wrote
  uint64_t rejected = 0;                       // acknowledged writes the broker refused (told)
  uint64_t referrals_checked = 0;
  double converge_seconds = -1;  // filled in by the test: from healing to converged

  bool ok() const {
    return lost.empty() && diverged.empty() && referral_problems.empty() && phantoms.empty();
  }
  uint64_t AckedTotal() const;
  std::string Summary() const;  // the figures, then every problem (first 50 of each)
};

// The fields the checker compares (every one public and not moderated).
const std::vector<std::string>& ComparedFields();
// Whether `field` holds a set of text.
bool IsSetField(const std::string& field);

// Reads a record as an agent's or the broker's API shows it ({"deleted", "fields": {name:
// {"value", "siblings": [{"value"}...]}}}) into a RecordView of the compared fields.
RecordView RecordFromJson(const json& record);

Report Check(const History& history, const Observation& observed);

}  // namespace sb::nemesis

// What the broker keeps for review beside the directory state (DESIGN.md §8), all in its store:
//
//   meta     "review/refused/" + seq (8 bytes BE)  -> JSON of a push refused at ingest:
//            {"seq","at_ms","org","replica","reason","truncated",
//             "changes": [{"record","kind","values": {field: value}, "sets": {field: [..]}}]}
//   meta     "review/settled/" + seq (8 bytes BE)  -> JSON {"decision","reason","at_ms","by"}
//   history  record id + 0x00 + log seq (8 bytes BE) -> JSON
//            {"seq","at_ms","org","replica","via","op","fields"}: one line per accepted change
//
// Refusals are kept (newest `max_refusals`) until a maintainer settles them; the review queue
// is derived from these keys and the directory state, so it rebuilds identically after a
// restart. Staging writes into the caller's WriteBatch, so a refusal or a history line is
// durable together with the push that caused it.
//
// Thread safety: not thread-safe; the broker calls it under the lock that guards BrokerCore.
// The read methods only read the store and may run on any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "conflict/record.h"
#include "store/audit.h"
#include "store/store.h"

namespace sb {

// One record a refused push tried to change: the values it wrote (Null clears a field) and
// the complete contents of the sets it changed.
struct RefusedChange {
  std::string record, kind;
  std::map<std::string, Value> values;
  std::map<std::string, std::vector<std::string>> sets;
};

struct RefusedPush {
  uint64_t seq = 0;
  uint64_t at_ms = 0;
  std::string org;  // the organization whose push was refused
  ReplicaId replica = 0;
  std::string reason;
  bool truncated = false;  // the summary was cut (too large): it can be dismissed, not applied
  std::vector<RefusedChange> changes;
  bool settled = false;
  std::string decision;  // "applied" | "dismissed" once settled
};

struct BrokerHistoryEntry {
  uint64_t seq = 0;  // the broker's log position
  uint64_t at_ms = 0;
  std::string org;  // the author organization
  ReplicaId replica = 0;
  std::string via;  // "push" (an agent's) or "review" (a maintainer's decision at the broker)
  std::string op;   // update | delete | restore
  std::vector<std::string> fields;
  std::string by;  // who: the author organization, or "<org>/<maintainer>" for a named maintainer
};

class ReviewJournal {
 public:
  explicit ReviewJournal(Store* store, size_t max_refusals = 2000)
      : store_(store), max_refusals_(max_refusals) {}

  // Finds the oldest and newest refusal kept.
  Status Load();

  // Stages a refused push: the reason and a bounded summary of what it tried to change
  // (`delta_bytes` is decoded defensively; undecodable bytes keep only the reason).
  // Drops the oldest refusal when more than max_refusals are kept.
  void StageRefusal(WriteBatch* batch, uint64_t at_ms, const std::string& org, ReplicaId replica,
                    const std::string& reason, std::string_view delta_bytes);
  // Stages one history line per record of an accepted delta logged at `seq`; `by` names the
  // person when a named maintainer wrote it ("" for the organization `org`).
  static void StageHistory(WriteBatch* batch, const Delta& delta, const std::string& org,
                           uint64_t seq, const std::string& via, const std::string& by = "");

  // Every refusal kept, oldest first, with whether it was settled.
  Result<std::vector<RefusedPush>> Refusals() const;
  Result<RefusedPush> Refusal(uint64_t seq) const;
  // Marks a refusal settled; durable on return. NotFound for an unknown one. With `audit`, an
  // entry (actor `by`, action "review.<decision>", subject "refused-push/<seq>") is appended
  // in the same batch.
  Status Settle(uint64_t seq, const std::string& decision, const std::string& reason,
                const std::string& by, uint64_t at_ms, AuditLog* audit = nullptr);
  // The same, staged in `batch` (committed by the caller, with the writes the decision makes).
  // FailedPrecondition when already settled; nothing is staged then.
  Status StageSettle(WriteBatch* batch, uint64_t seq, const std::string& decision,
                     const std::string& reason, const std::string& by, uint64_t at_ms,
                     AuditLog* audit = nullptr);

  // Changes whenever a refusal is staged or settled (for caches of the derived queue).
  uint64_t version() const { return version_; }

  // The newest `max` history lines of a record, oldest first.
  Result<std::vector<BrokerHistoryEntry>> History(const std::string& record, size_t max) const;

 private:
  Store* store_;
  size_t max_refusals_;
  uint64_t first_ = 0, next_ = 1;  // kept refusals are [first_, next_)
  uint64_t version_ = 0;
};

}  // namespace sb

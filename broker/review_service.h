// The review queue as a service for the broker's API and console: derives the queue from the
// broker's state (review.h), carries out maintainers' decisions through BrokerCore, and shows
// records with their history. One instance per broker process.
//
// Thread safety: every method may be called from any thread; each runs its work on the broker's
// event loop (loop_tasks.h), which owns the core, and waits for the answer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "broker/loop_tasks.h"
#include "broker/review.h"

namespace sb {

class ReviewService {
 public:
  // `maintainer_org`: whom decisions are attributed to (the broker's organization).
  ReviewService(BrokerCore* core, LoopTasks* loop, std::string maintainer_org)
      : core_(core), loop_(loop), maintainer_org_(std::move(maintainer_org)) {}
  ReviewService(const ReviewService&) = delete;
  ReviewService& operator=(const ReviewService&) = delete;

  // {"items": [item...], "total": N (before the limit), "counts": {kind: N} (whole queue)}
  Result<nlohmann::json> List(const ReviewFilter& filter, size_t limit);
  // The item, the record as it is now (every field: value, published, pending, siblings,
  // rejection) and its history. NotFound for an unknown (or since changed) id.
  Result<nlohmann::json> Show(const std::string& id);
  // Carries out a decision made by `by` (a maintainer's actor string, "<org>/<name>"; "" for
  // the broker's organization itself): the audit entry, the review journal and the record's
  // history name them. `via` ("api", "console") goes to the log line. Returns
  // {"id", "action", "seq"} (seq: the broker log position of the maintainer's write; 0 when
  // nothing had to be written, e.g. a dismissed refusal).
  Result<nlohmann::json> Decide(const std::string& id, const Decision& d, const std::string& via,
                                const std::string& by = "");
  // Approves each id in turn (one task on the loop per id, so other work goes on between
  // them); {"results": [{"id", "ok", "seq" | "error"}]}.
  nlohmann::json BulkApprove(const std::vector<std::string>& ids, const std::string& via,
                             const std::string& by = "");

  // Directory search for the console: summaries of records whose id, name or displayed text
  // contains `q` (case-insensitive), optionally of one kind.
  Result<nlohmann::json> Search(const std::string& q, const std::string& kind, size_t limit);
  // One record as Show presents it, without a review item.
  Result<nlohmann::json> Record(const std::string& id);

 private:
  // On the loop. The derived queue; recomputed only when the log or the refusals changed.
  const std::vector<ReviewItem>& Queue();
  const ReviewItem* Find(const std::string& id);
  nlohmann::json RecordJson(const sb::Record& r);

  BrokerCore* core_;
  LoopTasks* loop_;
  std::string maintainer_org_;
  // Cache (the loop's): the queue as of this log head and journal version.
  std::vector<ReviewItem> queue_;
  uint64_t queue_head_ = UINT64_MAX, queue_journal_ = UINT64_MAX;
};

}  // namespace sb

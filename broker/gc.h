// Tombstone collection at the broker (DESIGN.md §4 "Tombstones", README "Tombstone
// collection"): which log position every live agent has acknowledged, and what may be dropped
// below it.
//
// The horizon is the smallest durable acknowledged cursor (meta "cursor/<replica>") over the
// replicas of enrolled, unrevoked organizations. Two kinds of replica do not hold it back:
// - a replica of a revoked (or no longer enrolled) organization, at once: its agent is cut
//   off and never sent anything again;
// - a *stale* replica: not connected, and its last acknowledgement is older than the maximum
//   age (BrokerCore::Options::gc_max_ack_age_ms, 30 days by default).
// A connected replica always counts, however old its last acknowledgement: it is live.
//
// Ignoring a replica is safe whatever its cursor: a replica whose cursor is below a horizon
// collection used is sent a checkpoint instead of the log (the log below the horizon may
// touch collected records), with the ids collected since its cursor (proto::Collected); its
// queued edits of collected records are refused to review ("record X was deleted and
// collected on DATE"). So the age only decides how long an agent may stay away and still get
// deltas, never whether a collected record can come back.
//
// A record is collected when it is deleted (deleted=true, no value left but the owner) and
// its last write (the newest line of its broker history, whose keys are log positions) is at
// or below the horizon. One batch drops its state and its history and keeps its id
// (meta "collected/<id>" -> {"seq","at_ms"}, ids only) so that a late push touching it is
// refused rather than applied as a new record: add-wins would otherwise bring it back.
// Record ids are random UUIDs made by the agent that creates the record, so a push touching
// a collected id is always an edit made before its agent learned of the deletion (or an
// import re-using an old id): it goes to review with the reason, never silently applied and
// never silently dropped. A maintainer cannot write a collected id either (the write is
// refused with the same reason): a record that should come back is created anew.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conflict/causal_context.h"

namespace sb {

// Meta keys (the broker's store): "cursor/<16 hex>" -> the replica's durable acknowledged
// cursor (8 bytes BE); "acked_at/<16 hex>" -> when it was saved (ms, 8 bytes BE);
// "collected/<id>" -> JSON {"seq","at_ms"}; "gc_horizon" -> the highest horizon used.
inline constexpr char kGcCursorPrefix[] = "cursor/";
inline constexpr char kGcAckedAtPrefix[] = "acked_at/";
inline constexpr char kGcCollectedPrefix[] = "collected/";
inline constexpr char kGcHorizonKey[] = "gc_horizon";

// What the broker knows of one bound replica when it computes the horizon.
struct GcReplica {
  ReplicaId replica = 0;
  bool member_live = false;  // its organization is enrolled and not revoked
  bool connected = false;    // it has a session now
  uint64_t cursor = 0;       // its durable acknowledged cursor (0: none saved)
  uint64_t acked_at_ms = 0;  // when that cursor was last saved (or first seen)
};

struct GcHorizon {
  uint64_t seq = 0;                // entries at or below it are acknowledged by every live replica
  std::vector<ReplicaId> counted;  // the replicas that held it
  std::vector<ReplicaId> stale;    // ignored for their age
  std::vector<ReplicaId> revoked;  // ignored: organization revoked or gone
};

// The horizon over `replicas` with the log at `log_head`: the smallest cursor of the counted
// replicas, never above `log_head` (log_head when none counts). Pure; see above for the rules.
GcHorizon ComputeGcHorizon(const std::vector<GcReplica>& replicas, uint64_t log_head,
                           uint64_t now_ms, uint64_t max_ack_age_ms);

// The outcome of one collection (BrokerCore::CollectTombstones).
struct GcReport {
  uint64_t horizon = 0;
  size_t deleted_seen = 0;  // deleted records looked at
  size_t collected = 0;     // of which dropped now
  size_t stale = 0, revoked = 0, counted = 0;
  uint64_t collected_total = 0;  // ids kept as collected, ever
};

}  // namespace sb

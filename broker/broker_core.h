// The broker's logic, without sockets: sessions, ingest with group commit, the log, fan-out
// with flow control, checkpoints. The event loop (broker_server.h, or the simulator) feeds it
// messages from authenticated peers and sends what it returns. Runs on one thread; the Roster
// and the Quarantine it holds are thread-safe, nothing else is.
//
// Scale (DESIGN.md §11, issue 15):
// - Sessions resume. A Hello with `resume` on the connection of a live session (a repeat while
//   the Welcome was slow) changes nothing in flight; only a Hello on a new connection, or one
//   without `resume`, starts the stream over from the agent's cursor. No timer restarts a
//   session here.
// - Flow control is a window, not a credit count: the agent says how many entries and bytes
//   it takes in flight (Hello) and acknowledges its durable cursor (Credit); the broker never
//   has more than that in flight for a session, so queues are bounded. A Credit with `rewind`
//   asks for everything after its cursor again (the agent dropped a gap, or took a refused
//   edit back).
// - Fan-out costs once per audience view (fanout.h): every entry is projected and encoded once
//   per view and the same bytes go to every session of that view.
// - A new or far-behind agent gets a checkpoint — the current state in the partners' view,
//   built once and shared by every agent that needs one within a while, plus its own records
//   whole — then the log after it, instead of the whole log entry by entry.
// - Pushes wait in one queue per organization; each Pump takes them round-robin (one push of
//   each organization in turn, bounded per turn), validates them and commits them in synced
//   batches (group commit), then acknowledges them. A flood waits in its own queue.
// - A session far behind a flood of edits to a few records is sent those records' current
//   state at once and the entries it covers as positions only (Options::
//   coalesce_backlog_entries), so another organization's edit does not wait behind the flood.
// - Per-organization quotas (Options): sessions, replica ids, full catch-ups from cursor 0 per
//   interval, log bytes per hour, pushes waiting; each refusal is counted (quota_refusals).
// - Pump serves sessions round-robin with bounded work per turn, so no agent waits behind
//   another and the loop gets back to its socket quickly.
// - Each agent's acknowledged cursor is kept durably (meta "cursor/<replica>"), written in
//   batches every few seconds.
//
// Log: Cf::kLog, seq (8 bytes BE) -> one encoded LogEntry (the signed delta as pushed).
// Meta: "log_head", "log_start" (entries below log_start were trimmed).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/log_limiter.h"
#include "broker/fanout.h"
#include "broker/gc.h"
#include "broker/ingest.h"
#include "broker/referral_relay.h"
#include "broker/review_journal.h"
#include "broker/roster.h"
#include "conflict/directory.h"
#include "conflict/edit.h"
#include "conflict/hlc.h"
#include "crypto/identity.h"
#include "store/quarantine.h"
#include "store/store.h"
#include "transport/protocol.h"

namespace sb {

// One message for one peer. The bytes may be shared with other peers' messages (the same
// projection of a log entry, the same checkpoint chunk): never modify them.
struct Outgoing {
  std::string peer;     // ZeroMQ routing id
  SharedBytes message;  // an encoded envelope
  const std::string& bytes() const { return *message; }
};

struct SessionInfo {
  std::string peer, org, role;
  ReplicaId replica = 0;
  uint64_t sent = 0, acked = 0;
  uint32_t window = 0;
  uint64_t in_flight_bytes = 0;
  bool checkpoint = false;
};

struct BrokerStats {
  uint64_t pushes = 0, accepted = 0, rejected = 0, throttled = 0, malformed = 0;
  uint64_t failed = 0;       // messages whose handling failed (quarantined, refused)
  uint64_t quarantined = 0;  // entries kept in the quarantine since the start
  uint64_t log_head = 0, log_start = 1, records = 0;
  uint64_t bytes_out = 0, updates_out = 0, snapshots = 0;
  uint64_t sessions = 0;
  uint64_t hellos = 0, resumes = 0, restarts = 0, rewinds = 0;  // session starts and repeats
  uint64_t dropped = 0;  // sessions ended because their peer was gone (a send could not be queued)
  uint64_t group_commits = 0, pushes_committed = 0;       // group commit
  uint64_t projections_made = 0, projections_reused = 0;  // fan-out cache
  uint64_t checkpoints_built = 0;
  uint64_t coalesced = 0;  // lagging sessions sent the state of a stretch of log at once
  // Refusals for an organization's quotas: sessions, replica ids, full catch-ups (Hellos),
  // log bytes per hour and queued pushes (pushes).
  uint64_t quota_refusals = 0;
  uint64_t catchup_refusals = 0;    // of which: Hellos from cursor 0 over the catch-up quota
  uint64_t log_quota_refusals = 0;  // of which: pushes over the log-bytes quota
  uint64_t pushes_queued = 0;       // pushes waiting in the per-organization queues now
};

class BrokerCore {
 public:
  struct Options {
    IngestLimits limits;
    uint64_t max_skew_ms = 60'000;
    uint64_t log_retention = 1'000'000;  // entries kept; older ones are trimmed
    uint32_t max_entries_per_update = 256;
    size_t snapshot_chunk_records = 512;
    double rate_per_s = 2000;   // deltas per organization per second, sustained
    double rate_burst = 20000;  // and in a burst
    // Flow control and fairness.
    uint32_t default_window_bytes = 4 << 20;  // when the agent names none
    uint32_t max_window_bytes = 16 << 20;
    uint32_t min_window_bytes = 64 << 10;  // an agent's smaller window is raised to this
    // What all sessions may have in flight together: each session's byte window is at most an
    // equal share of it (never less than min_window_bytes), so what the broker and its sockets
    // hold for the stream stays bounded however many agents connect (at 4,000 agents with
    // 512 KiB windows the import's peak RSS was 1.1 GiB; with 128 KiB shares, 0.6 GiB).
    size_t in_flight_budget_bytes = 512 << 20;
    size_t batch_entry_bytes = 4 << 10;     // entries this small are batched per session; larger
                                            // ones go alone, as shared messages
    size_t batch_bytes = 64 << 10;          // a per-session batch message at most
    size_t turn_bytes = 8 << 20;            // work per Pump before it returns (more_work)
    size_t session_turn_bytes = 256 << 10;  // per session per Pump
    size_t fanout_cache_bytes = 128 << 20;
    size_t entry_cache_bytes = 256 << 20;  // decoded log entries kept
    // Checkpoints: built once and shared while no more than this is newer.
    uint64_t checkpoint_reuse_entries = 2000;
    uint64_t checkpoint_reuse_ms = 60'000;
    uint64_t cursor_flush_ms = 3'000;  // how often acknowledged cursors are made durable
    size_t group_commit_pushes = 256;  // pushes committed together at most
    // Per-organization quotas: what one partner can take of the broker however it behaves.
    size_t max_sessions_per_org = 16;         // concurrent sessions (agents) of one organization
    size_t max_replicas_per_org = 64;         // replica ids ever bound to one organization
    size_t max_open_referrals_per_pair = 50;  // unanswered referrals from one org to another
    // Bytes of log one partner's accepted pushes may write in an hour (a sliding allowance,
    // refilled continuously; maintainers are exempt: imports are theirs). A push arriving when
    // the allowance is spent is refused whole (kUnavailable: the agent keeps its outbox and
    // pushes again later).
    uint64_t log_bytes_per_hour = uint64_t{64} << 20;
    // Full catch-ups — a new session from cursor 0 on a non-empty log, which streams the whole
    // log or a checkpoint — at most this many per organization per interval; more Hellos from
    // cursor 0 are refused (kUnavailable, "try again in N s") until the interval has passed.
    // Only a catch-up that costs at least full_catchup_min_bytes (the log after cursor 0, or
    // the checkpoint if smaller) counts: on a small network starting over is cheap.
    size_t full_catchups_per_org = 2;
    uint64_t full_catchup_interval_ms = 60'000;
    uint64_t full_catchup_min_bytes = 1 << 20;
    // Fair ingest: pushes wait in one queue per organization and each turn takes them
    // round-robin — one push of each organization in turn — into the group commits, at most
    // ingest_turn_items items per turn. A flood waits in its own queue; another
    // organization's push goes into the next commit. An organization with more pushes than
    // this waiting has the next refused (kUnavailable: push again later).
    size_t ingest_turn_items = 2048;
    size_t max_queued_pushes_per_org = 64;
    // Fair fan-out: a session more than this many entries behind the head (its agent applies
    // slower than one organization pushes) is sent, in place of the next entry, the current
    // state of every record the entries up to the head touch (projected for its view, signed
    // by the broker), and the entries it covers as positions only. So another
    // organization's edit waits behind the state of the flooded records, not behind every
    // edit of the flood. 0: never.
    uint64_t coalesce_backlog_entries = 1024;
    // Sealed referral bodies the broker dropped are erased from its files (Store::Erase: a
    // flush and a compaction of the referrals) at most this often, and only when one was.
    uint64_t erase_interval_ms = 5'000;
    // Tombstone collection (broker/gc.h): deleted records every live agent has acknowledged
    // are dropped, at most this often (0: never; CollectTombstones still works when called).
    uint64_t gc_interval_ms = 3'600'000;
    // A replica not connected whose last acknowledgement is older than this is stale: it no
    // longer holds the horizon back, and when it comes back it is sent a checkpoint and its
    // edits of collected records go to review.
    uint64_t gc_max_ack_age_ms = uint64_t{30} * 24 * 3'600'000;
    // History lines kept per record (the newest); a collection drops older ones of the
    // records written since the last one. 0: all kept.
    size_t history_per_record = 200;
  };

  BrokerCore(Store* store, Clock* clock, const Identity& broker, Roster* roster, Options options);
  Status Load();

  // A message from `peer`, authenticated as organization `org` (by the key its connection
  // authenticated with; "" when that key is no longer enrolled: refused, the session cut,
  // like a revoked organization's). Never throws
  // and never stops: a message whose handling fails for any reason is refused, counted,
  // logged (rate-limited per organization) and quarantined, and the broker moves on. Pushes
  // are staged: their acknowledgements come out of the next Pump, after the group commit.
  void OnMessage(const std::string& peer, const std::string& org, std::string_view bytes,
                 std::vector<Outgoing>* out);
  // The peer's connection is gone.
  void OnDisconnected(const std::string& peer);
  // Commits staged pushes (one synced batch) and sends their acks; streams log entries and
  // checkpoint chunks within each session's window, round-robin, at most Options::turn_bytes;
  // resends the roster after changes; cuts off revoked sessions; expires referrals. Returns
  // true when work is left (call again soon rather than waiting for the socket).
  bool Pump(std::vector<Outgoing>* out);

  const Directory& state() const { return dir_; }
  Quarantine& quarantine() { return quarantine_; }
  BrokerStats stats() const;
  std::vector<SessionInfo> Sessions() const;
  size_t session_count() const { return sessions_.size(); }
  // Trims the log to the retention (also done as the log grows).
  Status TrimLog(uint64_t keep);

  // --- Tombstone collection (broker/gc.h) ---
  // Makes the acknowledged cursors durable, computes the horizon and drops, in one durable
  // batch, every deleted record whose last write is at or below it (state and history),
  // keeping its id as collected; tells every session which ids it dropped. Also run by Pump
  // every Options::gc_interval_ms. On error nothing is dropped.
  Result<GcReport> CollectTombstones(std::vector<Outgoing>* out);
  // The horizon collection would use now.
  GcHorizon Horizon() const;
  // When `id` was collected (ms since the epoch); nullopt when it was not.
  std::optional<uint64_t> CollectedAt(const std::string& id) const;
  size_t collected_count() const { return collected_.size(); }

  // Referral handoffs (referral_relay.h): counts only, never contents.
  Result<std::map<std::string, uint64_t>> ReferralCountsByStatus() const {
    return referrals_.CountsByStatus();
  }
  AuditLog& audit() { return referrals_.audit(); }

  // --- Review (broker/review.h): writes the broker makes on a maintainer's behalf. ---
  // `plan` returns record deltas written against the state by the broker's own replica
  // (review_replica()) at the timestamp it is given; they are signed with the broker's key,
  // logged as authored by `maintainer_org`, joined and written to history in one durable
  // batch, and reach every agent like an accepted push. Returns the log seq, or 0 when the
  // plan changes nothing. On error nothing changes. With `audit_action` ("review.approve"...),
  // the batch also appends one audit entry per record (actor: `maintainer_org`, subject: the
  // record id; never values or reasons). Staged pushes are committed first.
  using MaintainerPlan =
      std::function<Result<std::vector<Record>>(const Directory&, ReplicaId, Hlc)>;
  // `by`: the person (maintainers.h MaintainerActor) the audit entries and the history name;
  // `maintainer_org` when empty.
  // `also` stages further writes of the same decision in the same batch (a review journal's
  // settlement), also when the plan writes nothing; when it fails nothing is written.
  Result<uint64_t> ApplyMaintainerWrite(const MaintainerPlan& plan,
                                        const std::string& maintainer_org,
                                        const std::string& audit_action = "",
                                        const std::string& by = "",
                                        const std::function<Status(WriteBatch*)>& also = nullptr);
  // The same for edits (validated by the field schema, planned with PlanEdit).
  Result<uint64_t> ApplyMaintainerEdit(std::vector<RecordEdit> edits,
                                       const std::string& maintainer_org);
  ReplicaId review_replica() const { return review_replica_; }
  ReviewJournal& journal() { return journal_; }
  const Store& store() const { return *store_; }
  const Roster& roster() const { return *roster_; }
  uint64_t NowMillis() const { return clock_->NowMillis(); }

 private:
  // A checkpoint: the state at `log_seq` in one view, as signed chunks every session of the
  // view is sent (never marked last: each session's own closing chunk is).
  struct Checkpoint {
    uint64_t id = 0;
    uint64_t log_seq = 0;
    uint64_t epoch = 0;
    uint64_t built_ms = 0;
    std::vector<SharedBytes> chunks;
    size_t bytes = 0;
  };
  struct Session {
    std::string org;
    Role role = Role::kPartner;
    ReplicaId replica = 0;
    uint64_t acked = 0;  // the agent's durable cursor
    uint64_t sent = 0;   // the last entry sent
    uint32_t window = 1024;
    uint32_t window_bytes = 4 << 20;
    std::deque<std::pair<uint64_t, uint32_t>> in_flight;  // (last seq of a message, bytes)
    uint64_t in_flight_bytes = 0;
    uint64_t roster_version = 0;
    uint32_t key_epoch = 0;  // the organization's key epoch at Hello (Member::key_epoch)
    // A checkpoint being sent: its shared chunks, then the closing chunk.
    std::shared_ptr<const Checkpoint> checkpoint;
    uint32_t chunk_next = 0;  // the next chunk to send (== shared count: the closing one)
    uint32_t chunks_acked = 0;
    bool closing_sent = false;
    uint64_t cursor_saved = 0;  // the acked cursor last made durable
    bool due = false;           // in due_: Pump visits it
    uint64_t covered = 0;  // entries up to this one were sent as coalesced state: positions only
    bool own_entries = false;     // the agent asked for its own entries whole (restored)
    uint64_t coalesce_after = 0;  // no coalescing tried before `sent` reaches this
  };
  // A push waiting in its organization's queue (fair ingest), with the session it came on.
  struct QueuedPush {
    std::string peer;
    ReplicaId replica = 0;
    proto::Push push;
  };
  struct StagedPush {
    std::string peer;
    std::string org;
    proto::PushAck ack;
    std::vector<Delta> accepted;
    std::vector<Delta> published;  // the broker's publication of a maintainer's writes
    Role role = Role::kPartner;
  };
  struct StagedEntry {
    size_t bytes = 0;  // of the logged envelope
    proto::LogEntry entry;
    std::shared_ptr<const Delta> delta;
  };
  struct Bucket {
    double tokens = 0;
    uint64_t at_ms = 0;
  };

  void Handle(const std::string& peer, const std::string& org, std::string_view bytes,
              std::vector<Outgoing>* out);
  // Keeps a message aside for the maintainers (rate-limited per organization).
  void SetAside(const std::string& org, std::string_view bytes, const std::string& reason);
  // What OnMessage does when Handle failed: count, log, quarantine, refuse.
  void Failed(const std::string& peer, const std::string& org, std::string_view bytes,
              const std::string& why, std::vector<Outgoing>* out);
  // Logs a warning about `org`, at most one line per interval per organization (a hostile
  // peer cannot flood the log); the next line says how many were held back.
  void WarnOrg(const std::string& org, const std::string& line);
  void Send(const std::string& peer, const proto::Message& m, std::vector<Outgoing>* out);
  void SendShared(const std::string& peer, SharedBytes bytes, std::vector<Outgoing>* out);
  void Refuse(const std::string& peer, proto::RefusalCode code, const std::string& message,
              std::vector<Outgoing>* out);
  void OnHello(const std::string& peer, const std::string& org, const proto::Hello& h,
               std::vector<Outgoing>* out);
  // A Hello that counts its cursor in another log (this broker was restored from a backup,
  // store/backup.h) as one from the start of this log: a copy at cursor 0, a new session.
  proto::Hello InThisLog(const std::string& org, const proto::Hello& h) const;
  void OnCredit(Session& s, const proto::Credit& c);
  void MarkDue(const std::string& peer, Session& s);
  // The session's byte window now: its own, or its share of the in-flight budget if smaller.
  uint64_t WindowBytes(const Session& s) const;
  // Ends a session (keeping the replica index true); returns the next one.
  std::map<std::string, Session>::iterator EndSession(std::map<std::string, Session>::iterator it);
  // Queues the push in its organization's queue (fair ingest); refuses it when the queue is
  // full.
  void QueuePush(const std::string& peer, Session& s, proto::Push p, std::vector<Outgoing>* out);
  // Takes queued pushes round-robin across organizations into group commits, at most
  // Options::ingest_turn_items items.
  void StageQueued();
  // Validates the push against the staged state and stages what is accepted (refusals and
  // acks go to pending_).
  void StagePush(const std::string& peer, Session& s, const proto::Push& p);
  // Whether `org` may log more now (its log-bytes allowance is not spent); charges `bytes`.
  bool LogAllowance(const std::string& org, Role role);
  void ChargeLog(const std::string& org, Role role, size_t bytes);
  // Whether a new session of `org` from cursor 0 may start a full catch-up now (counts it);
  // otherwise `*retry_ms` says when one may.
  bool TakeFullCatchup(const std::string& org, uint64_t* retry_ms);
  // About what a session from cursor 0 costs to stream: the log, or a checkpoint if smaller.
  uint64_t FullCatchupCost() const;
  // Commits every staged push in one batch and queues their acks (in pending_).
  void CommitStaged();
  // The whole roster (after a Welcome), or only what changed since the session's last one.
  enum class RosterSend { kWhole, kChanges };
  void SendRoster(const std::string& peer, Session& s, RosterSend what, std::vector<Outgoing>* out);
  // Sends referral updates to every session of their organization.
  void RouteReferrals(std::vector<ReferralRelay::Outbound> updates, std::vector<Outgoing>* out);
  // Streams what the session may have; returns the bytes it cost this turn.
  size_t PumpSession(const std::string& peer, Session& s, uint64_t roster_version, bool* erase,
                     std::vector<Outgoing>* out);
  size_t PumpCheckpoint(const std::string& peer, Session& s, std::vector<Outgoing>* out);
  size_t PumpLog(const std::string& peer, Session& s, std::vector<Outgoing>* out);
  // Fair fan-out: the state of what entries s.sent+1 .. head touch, as entry s.sent+1 (see
  // Options::coalesce_backlog_entries); null when an entry cannot be read.
  SharedBytes CoalescedState(const Session& s);
  uint64_t coalesced_ = 0;  // coalesced messages sent (stats)
  bool CanSend(const Session& s) const;
  void NoteSent(Session& s, uint64_t last_seq, size_t bytes);
  // Whether an agent at `cursor` gets a checkpoint instead of the log.
  bool WantsCheckpoint(uint64_t cursor) const;
  void StartCheckpoint(Session& s);
  std::shared_ptr<const Checkpoint> CheckpointFor(const View& view);
  SharedBytes ClosingChunk(const Session& s);
  View ViewOf(const Session& s, LoggedEntry& e);
  // The log entry at `seq` (cached, decoded once); null when trimmed or unreadable.
  std::shared_ptr<LoggedEntry> Entry(uint64_t seq);
  void RememberEntry(std::shared_ptr<LoggedEntry> e);
  uint64_t LogBytesAfter(uint64_t cursor) const;
  bool TakeToken(const std::string& org);
  // A maintainer's own writes need no second opinion: the moderated values it wrote are
  // published and the organizations it created vetted (review.h, SelfPublication), in a broker
  // entry staged in the same batch as the push, so that no crash leaves the push without its
  // publication. `pushed` holds the push's deltas, accepted or already known (a retry heals a
  // publication that a broker before this one lost between two commits).
  void StagePublication(StagedPush& staged, const std::vector<Delta>& pushed, uint64_t now);
  // Appends a log entry carrying `sd` (its decoded `delta`) to the group commit being staged:
  // the next position, in the batch and in the entries to fan out once it is durable. Returns
  // the staged entry.
  const StagedEntry& StageLogEntry(proto::SignedDelta sd, std::shared_ptr<const Delta> delta);
  // A record as it will be once the staged batch is durable.
  const Record* StagedLookup(const std::string& id) const;
  // Joins committed deltas into the state, noting audience changes (the epoch).
  void JoinCommitted(const Delta& d);
  void SaveCursors(bool all);
  // Tombstone collection (broker_gc.cpp): loads acked cursors and collected ids.
  Status LoadGc();
  // Refused (FailedPrecondition, naming the record and the date) when record `id` was
  // collected, or when the encoded delta `delta_bytes` touches one (undecodable: Ok).
  Status RefuseCollected(const std::string& id) const;
  Status RefuseCollectedDelta(std::string_view delta_bytes) const;
  // Sends the ids collected at or after log position `cursor` (a returning agent may hold
  // them); nothing for cursor 0 (a new agent holds nothing).
  void SendCollectedSince(const std::string& peer, uint64_t cursor, std::vector<Outgoing>* out);
  void SendCollected(const std::string& peer, const std::vector<std::string>& ids,
                     std::vector<Outgoing>* out);
  const Record* Lookup(const std::string& id) const { return dir_.Find(id); }

  Store* store_;
  Clock* clock_;
  const Identity& broker_;
  Roster* roster_;
  Options options_;
  HlcClock hlc_;
  Directory dir_;
  uint64_t log_head_ = 0, log_start_ = 1;
  uint64_t log_epoch_ = 0;  // the log's identity; a restore gives it a new one (store/backup.h)
  // Bytes of the log: log_bytes_[i] is the total size of entries log_start_ .. log_start_ + i.
  std::vector<uint64_t> log_bytes_;
  uint64_t audience_epoch_ = 0;  // bumped when who may read some record changes
  uint64_t snapshot_counter_ = 0;
  std::map<std::string, Session> sessions_;                     // by routing id
  std::map<std::string, size_t> sessions_of_org_;               // live sessions per organization
  std::unordered_map<ReplicaId, std::string> peer_of_replica_;  // at most one session each
  // Sessions that may have something to send, in the order they became due: Pump visits only
  // these (round-robin), not every session — with thousands of idle sessions, a turn that
  // walked them all cost more than the work. A session is due when it starts or resumes, when
  // credits arrive, when the log grows and when the roster changes; it stays due while a
  // visit sends something. (Routing ids of ended sessions are skipped.)
  std::deque<std::string> due_;
  uint64_t pumped_head_ = 0, pumped_roster_version_ = 0;
  std::map<std::string, Bucket> buckets_;                      // by organization
  std::map<std::string, Bucket> log_allowance_;                // bytes, by organization
  std::map<std::string, std::deque<uint64_t>> full_catchups_;  // when, by organization
  // Fair ingest: the pushes waiting, by organization, and the organizations with some in the
  // order they are served (an organization goes to the back after each push taken).
  std::map<std::string, std::deque<QueuedPush>> push_queues_;
  std::deque<std::string> push_order_;
  size_t pushes_queued_ = 0;
  BrokerStats stats_;
  ReferralRelay referrals_;
  uint64_t next_expiry_check_ms_ = 0;
  uint64_t next_cursor_flush_ms_ = 0;
  uint64_t next_erase_ms_ = 0;
  bool erase_pending_ = false;  // a dropped referral body is still in the store's files
  ReviewJournal journal_{store_};
  ReplicaId review_replica_ = 0;  // derived from the broker's signing key; bound to its org
  Quarantine quarantine_{store_};
  LogLimiter log_limiter_;                // warnings per organization
  LogLimiter quarantine_limiter_{6'000};  // quarantine writes per organization
  FanoutCache fanout_;
  // Decoded log entries, newest kept (by bytes).
  std::map<uint64_t, std::shared_ptr<LoggedEntry>> entries_;
  size_t entries_bytes_ = 0;
  std::map<std::string, std::shared_ptr<const Checkpoint>> checkpoints_;  // by view key
  // Coalesced states made for the current head and epoch, by first seq and view key: sessions
  // in step share one.
  std::map<std::string, SharedBytes> coalesced_cache_;
  uint64_t coalesced_cache_head_ = 0, coalesced_cache_epoch_ = 0;
  static constexpr size_t kRosterPartEntries = 256;
  std::vector<SharedBytes> roster_parts_;  // the roster's messages, shared by every session
  uint64_t roster_message_version_ = ~uint64_t{0};
  // The changes since a version (sessions are nearly always all at one), at
  // roster_message_version_.
  std::map<uint64_t, std::vector<SharedBytes>> roster_changes_;
  // Group commit: pushes validated this turn, waiting for one synced batch.
  WriteBatch staged_batch_;
  std::vector<StagedPush> staged_;
  std::map<std::string, Record> staged_state_;  // records as they will be after the batch
  uint64_t staged_head_ = 0;                    // the log head after the batch
  std::vector<StagedEntry> staged_entries_;
  std::vector<Outgoing> pending_;  // acks and refusals of the last commit
  // Tombstone collection (gc.h).
  struct ReplicaAck {
    uint64_t cursor = 0;  // durable (meta "cursor/<replica>")
    uint64_t at_ms = 0;   // when it was last saved (meta "acked_at/<replica>")
  };
  std::map<ReplicaId, ReplicaAck> acks_;
  struct CollectedId {
    uint64_t seq = 0;  // the log head when it was collected
    uint64_t at_ms = 0;
  };
  std::map<std::string, CollectedId> collected_;
  std::map<uint64_t, std::vector<std::string>> collected_by_seq_;  // the same ids, by seq
  uint64_t gc_horizon_ = 0;  // the highest horizon a collection used (meta "gc_horizon")
  uint64_t loaded_ms_ = 0;   // replicas with no saved cursor count as acked at this time
  uint64_t next_gc_ms_ = 0;
  std::set<std::string> gc_touched_;  // records written since the last collection
};

}  // namespace sb

// The agent's durable replica of the directory: the state in memory for reads, RocksDB for
// durability. Writes go through one committer thread that gathers every request waiting at
// that moment into one WriteBatch and one WAL sync (group commit); a request returns only once
// its batch is durable, and memory changes only after that, so readers never see a write that
// could still be lost.
//
// Each request is all-or-nothing: every edit in it is validated and planned first; a single
// failing edit fails the request and nothing of it is written.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "conflict/directory.h"
#include "conflict/edit.h"
#include "conflict/hlc.h"
#include "store/store.h"

namespace sb {

// One history entry: who changed which fields of a record, when.
struct HistoryEntry {
  uint64_t seq = 0;
  uint64_t at_ms = 0;   // wall time of the change (the HLC's milliseconds)
  std::string hlc;      // full HLC, "millis.counter"
  std::string replica;  // the replica that made the change (hex)
  std::string actor;    // who asked for it locally: "api", "import", ...
  std::string op;       // "create", "update", "delete", "restore"
  std::vector<std::string> fields;
};

// An entry of the outbox: an encoded delta waiting for the broker's acknowledgement.
struct OutboxEntry {
  uint64_t seq = 0;
  std::string delta;  // EncodeDelta bytes
};

// A delta received from the broker, already verified.
struct RemoteDelta {
  Delta delta;
  std::string author;  // organization id
};

// The broker's answer for one outbox entry.
struct PushOutcome {
  uint64_t outbox_seq = 0;
  bool accepted = false;
  std::string reason;     // refused: why
  Delta current;          // refused: the broker's state of the records the entry touched
  uint64_t state_at = 0;  // refused: the broker's log position that state reflects (0: unknown)
};

// A refused edit, kept for the user to see.
struct Rejection {
  uint64_t outbox_seq = 0;
  uint64_t at_ms = 0;
  std::string reason;
  std::vector<std::string> records;
};

struct EditOutcome {
  std::string id;
  std::string op;                    // create | update | delete | restore | unchanged
  std::vector<std::string> changed;  // fields written
};

class LocalDirectory {
 public:
  struct Options {
    ReplicaId replica = 0;
    uint64_t max_skew_ms = 60'000;
  };

  // Loads the state from `store` (which must outlive this object) and starts the committer.
  static Result<std::unique_ptr<LocalDirectory>> Open(Store* store, Clock* clock, Options options);
  ~LocalDirectory();  // finishes queued requests, then stops
  LocalDirectory(const LocalDirectory&) = delete;
  LocalDirectory& operator=(const LocalDirectory&) = delete;

  // Validates, plans and durably applies `edits` as one unit. On error nothing is written and
  // the Status names the record, the field and the rule ("record <id>: service.url: ...").
  Result<std::vector<EditOutcome>> Apply(std::vector<RecordEdit> edits, const std::string& actor);

  // Runs `fn` with the current state under a shared lock. `fn` must not call back into this
  // object's write methods.
  template <typename Fn>
  auto Read(Fn&& fn) const {
    ReaderLock lock(state_mu_);
    return fn(static_cast<const Directory&>(dir_));
  }

  // The record's history, oldest first.
  // Goes up each time the state changes (never down while the process runs): readers that
  // derive something from the whole state (the HSDS API's compiled objects) cache it with the
  // generation they read before it.
  uint64_t generation() const {
    ReaderLock lock(state_mu_);
    return generation_;
  }

  Result<std::vector<HistoryEntry>> History(const std::string& id) const;

  uint64_t outbox_depth() const;
  ReplicaId replica() const { return options_.replica; }

  // --- Sync (used by the agent's sync session) ---
  // Up to `max` outbox entries with seq > `after`, oldest first.
  Result<std::vector<OutboxEntry>> Outbox(uint64_t after, size_t max) const;
  // Joins deltas from the broker and, when `cursor` > 0, records the new sync cursor — one
  // durable batch. History entries name the authoring organization. The hybrid clock observes
  // each delta's stamp, saved in that batch: the next local edit is stamped after what was
  // applied, even on a clock hours behind, also after a restart or a power loss.
  Status ApplyRemote(std::vector<RemoteDelta> deltas, uint64_t cursor);
  // Removes acknowledged entries from the outbox. A refused entry is taken back out of the
  // view: each record it touched becomes the broker's state joined with the edits still
  // waiting in the outbox; the refusal is kept (Rejections) and written to the history.
  Status SettleOutbox(std::vector<PushOutcome> outcomes);
  uint64_t sync_cursor() const { return sync_cursor_.load(); }
  // The role the broker last welcomed this agent with ("" before the first Welcome), kept
  // durably: a restarted agent reads as that role until the broker welcomes it again, so a
  // maintainer's agent does not read like a partner's while the broker is out of reach.
  std::string welcomed_role() const;
  // Keeps `role` when it differs from the one kept (one small commit, on the caller's thread).
  Status SaveWelcomedRole(const std::string& role);
  // Called (on the committer thread) each time edits reach the outbox durably, so the sync
  // session can push them at once instead of at its next tick. Must not block or call back
  // into this object's write methods.
  void set_on_outbox(std::function<void()> fn) {
    MutexLock lock(on_outbox_mu_);
    on_outbox_ = std::move(fn);
  }
  Result<std::vector<Rejection>> Rejections(size_t max) const;

  // --- Rejoining after a restore (store/backup.h) ---
  // The epoch of the broker log the sync cursor counts in (0: none known yet).
  uint64_t broker_epoch() const { return broker_epoch_.load(); }
  // Keeps `epoch` as the broker log's (the first Welcome that names one); it is saved with
  // the next sync cursor, which counts in it.
  Status KeepBrokerEpoch(uint64_t epoch);
  // The broker's log is another one than the cursor counts in (the broker was restored from
  // a backup): in one durable batch, sets the cursor to 0, keeps `epoch` (0: unknown yet) and
  // queues in the outbox this replica's part of every record (AuthoredPart), to be pushed
  // again. Returns how many records were queued.
  Result<size_t> Rejoin(uint64_t epoch);
  // True while this agent, restored from a backup, has not caught up with the broker: edits
  // are refused (Unavailable) until then, so that none reuses a dot of a write this replica
  // made after the backup (which the broker holds and will send back).
  bool restored() const { return restored_.load(); }
  // Caught up: clears the restored mark durably.
  Status ClearRestored();
  // --- Tombstone collection (broker/gc.h) ---
  // The broker collected `ids` (deleted, every write to them acknowledged by every live
  // agent): in one durable batch, drops each record and its history — except a record the
  // outbox still holds an edit of, which stays (remembered in meta "collected/<id>") until the
  // broker's refusal of that edit has taken it back; every call retries the remembered ones.
  // Returns how many records were dropped. An id this agent never held changes nothing.
  Result<size_t> DropCollected(const std::vector<std::string>& ids);
  // Whether some collected record is kept for a pending edit (true until the first call).
  bool collected_deferred() const { return collected_deferred_.load() != 0; }
  // --- Clock skew ---
  // The broker's wall clock, `broker_ms`, as of now (from its Welcome). From then on the skew
  // is this computer's wall clock minus the broker's, the broker's carried forward with the
  // monotonic clock — so it follows this clock being set right while the session lasts.
  //
  // While this clock is more than max_skew_ms ahead, local edits are refused
  // (FailedPrecondition, ClockAheadMessage: "this agent's clock is 3 h 2 min ahead of the
  // broker's ...") and the sync session holds its pushes: an edit stamped that far ahead
  // would be refused by the broker, or, were the broker's clock wrong too, win every later
  // conflict. Once the skew is within bounds, a hybrid clock the ahead clock left in the
  // future (it is persisted: timestamps never go back across restarts) is set back to the
  // broker's time before the next edit, so later edits are not refused for hours; every
  // future-stamped edit made before the skew was known is refused by the broker with that
  // message and taken back out of the view (Rejections). An agent that never met its broker
  // knows no skew and refuses nothing.
  void NoteBrokerClock(uint64_t broker_ms);
  // This clock minus the broker's (ms; negative: behind); nullopt before any Welcome.
  std::optional<int64_t> clock_skew_ms() const;
  // The refusal message while this clock is too far ahead; empty otherwise.
  std::string ClockAhead() const;
  // The hybrid clock's last timestamp (for tests and status).
  Hlc hlc_last() const { return Hlc{hlc_last_.load()}; }

 private:
  // What a job (a sync step) asks the committer to do once its batch is durable.
  struct JobResult {
    WriteBatch batch;
    std::vector<Record> joins;        // joined into the state
    std::vector<Record> replaces;     // replace the state's record (refused edits taken back)
    std::vector<std::string> erases;  // forget the record (a refused creation)
    uint64_t outbox_removed = 0;
    uint64_t outbox_added = 0;
    uint64_t cursor = 0;            // new sync cursor, if > 0
    bool reset_cursor = false;      // the cursor goes back to 0 (rejoin)
    std::optional<Hlc> hlc_before;  // set: the job observed stamps (undone if not saved)
  };
  using Job = std::function<Status(const Directory& committed, uint64_t* next_seq, JobResult*)>;

  struct Request {
    std::vector<RecordEdit> edits;
    std::string actor;
    std::promise<Result<std::vector<EditOutcome>>> done;
    Job job;  // set: a sync step instead of edits
    std::promise<Status> job_done;
  };

  Status RunJob(Job job);
  // On the committer thread, in a job: the clock observes `stamp`, applied by this job (a
  // remote update, a checkpoint chunk, the broker's state of a refused edit), so the next
  // local edit is stamped after it. A stamp more than max_skew_ms ahead of the broker's clock
  // (this one's before any Welcome) is logged and followed only that far. Undone if the job's
  // batch is not saved; saved in that batch otherwise (CommitJob).
  void ObserveApplied(Hlc stamp, JobResult* r);
  // Where the clock goes back to once this computer's clock, which ran ahead, is right again:
  // the broker's time `broker_now`, or the highest stamp the state holds within the skew
  // bound if that is later (on the committer thread).
  Hlc ResetTarget(uint64_t broker_now) const;
  // The state, read on the committer thread without the lock: that thread is its only writer.
  const Directory& CommittedState() const NO_THREAD_SAFETY_ANALYSIS { return dir_; }
  void CommitJob(Request& req);

  LocalDirectory(Store* store, Clock* clock, Options options);
  void CommitLoop();
  void CommitGroup(std::vector<std::unique_ptr<Request>>& group);
  // Answers every request of `group` not yet answered with `why`.
  static void FailGroup(std::vector<std::unique_ptr<Request>>& group, const Status& why);

  Store* store_;
  Clock* clock_;
  Options options_;

  // Guards dir_; the committer thread, its only writer, reads it without the lock
  // (CommittedState).
  mutable SharedMutex state_mu_;
  Directory dir_ GUARDED_BY(state_mu_);
  uint64_t generation_ GUARDED_BY(state_mu_) = 0;

  // Guards the broker clock reference (NoteBrokerClock).
  mutable Mutex skew_mu_;
  bool broker_clock_known_ GUARDED_BY(skew_mu_) = false;
  uint64_t broker_ms_ GUARDED_BY(skew_mu_) = 0;       // the broker's clock ...
  uint64_t broker_at_mono_ GUARDED_BY(skew_mu_) = 0;  // ... at this monotonic time
  std::atomic<uint64_t> hlc_last_{0};                 // hlc_.last(), for other threads

  // Owned by the committer thread only:
  HlcClock hlc_;
  uint64_t next_seq_ = 1;  // history and outbox sequence; persisted in meta with each batch
  std::atomic<uint64_t> outbox_depth_{0};
  std::atomic<uint64_t> sync_cursor_{0};
  std::atomic<uint64_t> broker_epoch_{0};
  std::atomic<bool> restored_{false};
  std::atomic<size_t> collected_deferred_{SIZE_MAX};  // SIZE_MAX: not counted yet

  mutable Mutex role_mu_;
  std::string welcomed_role_ GUARDED_BY(role_mu_);

  Mutex on_outbox_mu_;
  std::function<void()> on_outbox_ GUARDED_BY(on_outbox_mu_);

  Mutex queue_mu_;  // guards queue_ and stopping_
  CondVar queue_cv_;
  std::deque<std::unique_ptr<Request>> queue_ GUARDED_BY(queue_mu_);
  bool stopping_ GUARDED_BY(queue_mu_) = false;
  std::thread committer_;
};

}  // namespace sb

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
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "conflict/directory.h"
#include "conflict/edit.h"
#include "conflict/hlc.h"
#include "schemas/clock.h"
#include "store/store.h"

namespace sb {

// One history entry: who changed which fields of a record, when.
struct HistoryEntry {
  uint64_t seq = 0;
  uint64_t at_ms = 0;         // wall time of the change (the HLC's milliseconds)
  std::string hlc;            // full HLC, "millis.counter"
  std::string replica;        // the replica that made the change (hex)
  std::string actor;          // who asked for it locally: "api", "import", ...
  std::string op;             // "create", "update", "delete", "restore"
  std::vector<std::string> fields;
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
  static Result<std::unique_ptr<LocalDirectory>> Open(Store* store, Clock* clock,
                                                      Options options);
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
    std::shared_lock lock(state_mu_);
    return fn(static_cast<const Directory&>(dir_));
  }

  // The record's history, oldest first.
  Result<std::vector<HistoryEntry>> History(const std::string& id) const;

  uint64_t outbox_depth() const;
  ReplicaId replica() const { return options_.replica; }

 private:
  struct Request {
    std::vector<RecordEdit> edits;
    std::string actor;
    std::promise<Result<std::vector<EditOutcome>>> done;
  };

  LocalDirectory(Store* store, Clock* clock, Options options);
  void CommitLoop();
  void CommitGroup(std::vector<std::unique_ptr<Request>> group);

  Store* store_;
  Clock* clock_;
  Options options_;

  mutable std::shared_mutex state_mu_;  // guards dir_
  Directory dir_;

  // Owned by the committer thread only:
  HlcClock hlc_;
  uint64_t next_seq_ = 1;  // history and outbox sequence; persisted in meta with each batch
  std::atomic<uint64_t> outbox_depth_{0};

  std::mutex queue_mu_;  // guards queue_ and stopping_
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Request>> queue_;
  bool stopping_ = false;
  std::thread committer_;
};

}  // namespace sb

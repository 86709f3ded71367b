// The replica store: one RocksDB database per process (DESIGN.md §5).
//
// Column families:
//   records   record id -> the record's CRDT state (conflict/codec.h "R" encoding). Written with
//             Merge(id, record delta): the CRDT join is the merge operator (record_merge.h), so
//             applying a delta never needs a read.
//   history   record id + 0x00 + seq (8 bytes, big endian) -> one change entry (JSON)
//   outbox    seq (8 bytes, big endian) -> an encoded delta awaiting the broker's ack
//   log       the broker's log: seq -> encoded delta
//   meta      small values: format version, replica id, sequence numbers, cursors
//   referrals, roster, audit — used by later components
//
// Every logical step is one WriteBatch committed with a synced WAL: a batch either survives a
// crash whole or not at all, and Commit returns only once it is durable. Concurrent Commit
// calls from several threads share one WAL sync (RocksDB's write-thread group commit).
//
// A full disk or a failing one: RocksDB stops taking writes after a failed write (a
// "background error"); reads go on. Commit then fails with NoSpace (ENOSPC: the message says
// to free space) or IoError (EIO and the like), and each later Commit first asks RocksDB to
// resume (DB::Resume: it flushes the memtables to a fresh write-ahead log, so a torn record
// of the failed write is never replayed after acknowledged ones). So writing resumes by itself
// once there is room again: the first Commit after that succeeds. A batch whose Commit failed
// was not applied (reads never show it). After an I/O error the store does not resume: writes
// keep failing with IoError until the process restarts (then the batch may be whole or absent,
// never half). write_stopped() says whether
// the last write failed and nothing has succeeded since.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "conflict/record.h"

namespace rocksdb {
class DB;
class Env;
class ColumnFamilyHandle;
class WriteBatch;
class Status;
}  // namespace rocksdb

namespace sb {

enum class Cf { kRecords, kHistory, kOutbox, kLog, kMeta, kReferrals, kRoster, kAudit };
inline constexpr int kCfCount = 8;
const char* CfName(Cf cf);

// Big-endian encoding so that byte order is numeric order.
std::string EncodeSeq(uint64_t seq);
uint64_t DecodeSeq(std::string_view bytes);  // 0 unless exactly 8 bytes

class FaultInjector;

struct StoreOptions {
  bool sync = true;  // sync the WAL on every commit (false only in benchmarks)
  bool create_if_missing = false;
  bool read_only = false;  // open beside a running process (no lock, no writes)
  size_t block_cache_bytes = 16 << 20;
  // Tests only: faults to inject (store/fault_injection.h); must outlive the store.
  FaultInjector* fault = nullptr;
};

// A set of writes committed atomically.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);
  // Joins `delta` into the stored state of record delta.id().
  void MergeRecord(const Record& delta);
  size_t count() const;
  size_t bytes() const;

 private:
  friend class Store;
  struct Op {
    enum { kPut, kDelete, kMerge } type;
    Cf cf;
    std::string key, value;
  };
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

class Store {
 public:
  // Opens (or with create_if_missing, creates) the database in `path`. A corrupted database
  // gives Corruption; a database written by a newer format gives FailedPrecondition.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Commits atomically; returns once durable (when options.sync).
  Status Commit(WriteBatch batch);

  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) const;
  Result<std::optional<Record>> GetRecord(const std::string& id) const;

  // Calls `fn(key, value)` for each key starting with `prefix`, in key order, from `start`
  // (inclusive; empty means the prefix itself) until `fn` returns false. Reads a consistent
  // snapshot.
  Status Scan(Cf cf, std::string_view prefix, std::string_view start,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // Calls `fn` for every stored record, in id order (for loading, export and snapshots).
  Status ForEachRecord(const std::function<bool(const Record&)>& fn) const;

  // Compacts every column family (used before tests inspect files).
  Status CompactAll();

  // Makes deleted and overwritten values of `cf` unrecoverable from the store's files: flushes
  // every column family (the write-ahead log is shared, so only then is the old log file
  // obsolete and deleted) and rewrites `cf`'s table files. Costs a flush and one column
  // family's compaction: call it batched, not per write.
  Status Erase(Cf cf);

  // Makes a consistent copy of every column family in the new directory `target` (its
  // parent must exist): rocksdb::Checkpoint, hard links to table files where it can. Safe
  // while other threads commit. Used by backups (store/backup.h).
  Status Checkpoint(const std::string& target);
  // The error of the last failed write while writes are stopped (see above); OK once a write
  // has succeeded again.
  Status write_stopped() const;

  static constexpr uint32_t kFormatVersion = 1;

 private:
  // Before a write: when the last one failed, asks RocksDB to resume; OK when writes may go on.
  Status ResumeIfStopped();
  // Converts a failed write's status, remembering it until a write succeeds.
  Status WriteFailed(const rocksdb::Status& s);

  Store() = default;
  rocksdb::ColumnFamilyHandle* Handle(Cf cf) const { return handles_[static_cast<int>(cf)]; }

  StoreOptions options_;
  std::unique_ptr<rocksdb::Env> env_;  // set when options_.fault is; outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*>
      handles_;  // indexed by Cf, then default; freed in ~Store
  std::string path_;

  mutable Mutex stop_mu_;
  Status stopped_ GUARDED_BY(stop_mu_);  // not OK: the last write failed (see write_stopped)
};

}  // namespace sb

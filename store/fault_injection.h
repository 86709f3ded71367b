// Faults for tests, in the manner of leveldb's EnvWrapper and RocksDB's FaultInjectionTestFS: a
// store opened with StoreOptions::fault pointing at a FaultInjector reaches its files through a
// rocksdb::FileSystem wrapper (store/fault_fs.h) that this object steers. Production code never
// sets StoreOptions::fault.
//
// Faults:
//   FailCommit(n)    the n-th Store::Commit from now fails with IoError before RocksDB sees it;
//                    nothing is written and the store stays usable.
//   FailWalSync(n)   the n-th sync of a write-ahead log file from now fails with an I/O error.
//                    The batch has reached the OS but is not durable: after a power loss it is
//                    gone, after a plain restart it may be replayed. RocksDB treats this as a
//                    fatal background error and refuses writes until the store is reopened.
//   FailWalAppend(n) the n-th append to a write-ahead log file from now fails; nothing of it is
//                    written (RocksDB again refuses writes until reopened).
//   SetDiskFull(on)  while on, every append to and sync of any file of the store fails with
//                    ENOSPC (RocksDB's IOStatus::NoSpace, retryable, as its POSIX file system
//                    reports a full disk); reads, renames and deletes go on. Off again: the
//                    space has returned.
//   SetIoErrors(on)  the same, with a plain I/O error (EIO: a failing disk).
//   Crash()          the power goes: every later write, sync, rename or delete through the
//                    wrapper fails. Destroy the Store (and what uses it), then
//   DropUnsyncedData() truncates each file written through the wrapper to what was last synced,
//                    deletes files created since their directory was last synced, and turns the
//                    power back on. Files the wrapper never wrote count as durable.
//
// Simplifications, compared with FaultInjectionTestFS: a rename is durable at once when its
// source file was durable; a deleted file stays deleted.
//
// One injector may outlive several stores opened on the same path (a restart), and should be
// used with one store at a time. Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/mutex.h"
#include "base/status.h"

namespace sb {

class FaultInjector {
 public:
  FaultInjector() = default;
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // n = 1 is the next one; 0 cancels. One fault of each kind is armed at a time.
  void FailCommit(uint64_t n);
  void FailWalSync(uint64_t n);
  void FailWalAppend(uint64_t n);

  // Persistent faults: every write fails until turned off (see above).
  void SetDiskFull(bool on);
  void SetIoErrors(bool on);

  void Crash();
  Status DropUnsyncedData();

  // How many faults were injected, and how many commits, WAL syncs and WAL appends were seen
  // (counting the failed ones) since this object was made.
  uint64_t injected() const;
  uint64_t commits() const;
  uint64_t wal_syncs() const;
  uint64_t wal_appends() const;

  // --- Called by Store and the file system wrapper ---
  // Counts a commit; true when it must fail.
  bool OnCommit();
  // The result of an operation on `file` (a full path), before it is passed on: OK to go on.
  enum class Op { kAppend, kSync, kOther };
  Status Before(const std::string& file, Op op);
  // Bookkeeping after a successful operation.
  void Created(const std::string& file, uint64_t size);  // opened for writing at `size`
  void Appended(const std::string& file, uint64_t end);  // written up to `end`
  void Truncated(const std::string& file, uint64_t size);
  void Synced(const std::string& file);
  void DirSynced(const std::string& dir);
  void Renamed(const std::string& from, const std::string& to);
  void Deleted(const std::string& file);
  bool active() const;

 private:
  struct FileState {
    uint64_t written = 0;
    uint64_t synced = 0;
    bool in_dir = false;  // its directory entry is durable
  };
  static bool Fire(uint64_t* countdown);

  mutable Mutex mu_;
  bool active_ GUARDED_BY(mu_) = true;
  bool disk_full_ GUARDED_BY(mu_) = false;
  bool io_errors_ GUARDED_BY(mu_) = false;
  uint64_t commit_countdown_ GUARDED_BY(mu_) = 0;
  uint64_t sync_countdown_ GUARDED_BY(mu_) = 0;
  uint64_t append_countdown_ GUARDED_BY(mu_) = 0;
  uint64_t injected_ GUARDED_BY(mu_) = 0;
  uint64_t commits_ GUARDED_BY(mu_) = 0;
  uint64_t wal_syncs_ GUARDED_BY(mu_) = 0;
  uint64_t wal_appends_ GUARDED_BY(mu_) = 0;
  // written through the wrapper, by full path
  std::map<std::string, FileState> files_ GUARDED_BY(mu_);
};

}  // namespace sb

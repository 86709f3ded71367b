#include "store/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>

#include <sys/statvfs.h>

#include <algorithm>

#include "conflict/codec.h"
#include "store/fault_injection.h"
#include "store/internal/fault_fs.h"
#include "store/internal/record_merge.h"

namespace sb {

namespace {

constexpr const char* kCfNames[kCfCount] = {"records", "history",   "outbox", "log",
                                            "meta",    "referrals", "roster", "audit"};
constexpr char kFormatKey[] = "format_version";
// Free space below which a store stopped by a full disk does not try to resume: room for the
// memtable flush that resuming makes (at most write_buffer_size, 16 MiB, before compression).
constexpr uint64_t kResumeFreeBytes = 4 << 20;

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  std::string m = what + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(m);
  if (s.IsNotFound()) return Status::NotFound(m);
  if (s.IsIOError()) {
    // A held LOCK file means another process runs on this data directory.
    if (s.ToString().find("lock") != std::string::npos) {
      return Status::FailedPrecondition(m + " (is another switchboard process using it?)");
    }
    return Status::IoError(m);
  }
  if (s.IsInvalidArgument()) return Status::FailedPrecondition(m);
  return Status::Internal(m);
}

// Turns RocksDB's own recovery from a full disk off (its SstFileManager polls for free space
// every few seconds, and meanwhile DB::Resume answers Busy): the store resumes at the next
// Commit instead, at once when there is room again.
class ManualRecovery : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

// Options, chosen deliberately:
// - sync WAL on every acknowledged commit (WriteOptions.sync), so an acked write survives
//   SIGKILL and power loss; RocksDB's write thread groups concurrent writers so they share
//   one fsync (group commit), which keeps durable throughput high;
// - paranoid_checks: refuse to open a database whose files fail their checksums;
// - point-in-time WAL recovery: after a crash, replay up to the last intact record (a torn
//   tail is the unacknowledged write that was in flight);
// - two background jobs (the target machine has two cores) and a small block cache: the agent
//   holds the directory in memory, RocksDB serves start-up scans and exports;
// - LZ4 when compiled in (cheap, records are text-heavy), else none;
// - a bloom filter on records, whose point reads (GetRecord) dominate reads.
rocksdb::Options BaseOptions(const StoreOptions& o) {
  rocksdb::Options options;
  options.create_if_missing = o.create_if_missing;
  options.create_missing_column_families = o.create_if_missing;
  options.paranoid_checks = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.max_background_jobs = 2;
  options.max_open_files = 256;
  options.keep_log_file_num = 3;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  auto supported = rocksdb::GetSupportedCompressions();
  options.compression =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()
          ? rocksdb::kLZ4Compression
          : rocksdb::kNoCompression;
  options.write_buffer_size = 16 << 20;
  // After a failed write (a full disk is a retryable error) the store itself asks RocksDB to
  // resume, at the next Commit (ResumeIfStopped): RocksDB's own retry thread would make that
  // Resume answer Busy for as long as it retries, and the first write after space returned
  // would still be refused.
  options.max_bgerror_resume_count = 0;
  options.listeners.push_back(std::make_shared<ManualRecovery>());
  return options;
}

}  // namespace

const char* CfName(Cf cf) {
  return kCfNames[static_cast<int>(cf)];
}

std::string EncodeSeq(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return out;
}

uint64_t DecodeSeq(std::string_view bytes) {
  if (bytes.size() != 8) return 0;
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return v;
}

// ---------- WriteBatch ----------

WriteBatch::WriteBatch() = default;
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

void WriteBatch::Put(Cf cf, std::string_view key, std::string_view value) {
  bytes_ += key.size() + value.size();
  ops_.push_back(Op{Op::kPut, cf, std::string(key), std::string(value)});
}

void WriteBatch::Delete(Cf cf, std::string_view key) {
  bytes_ += key.size();
  ops_.push_back(Op{Op::kDelete, cf, std::string(key), {}});
}

void WriteBatch::MergeRecord(const Record& delta) {
  std::string value = EncodeRecord(delta);
  bytes_ += delta.id().size() + value.size();
  ops_.push_back(Op{Op::kMerge, Cf::kRecords, delta.id(), std::move(value)});
}

size_t WriteBatch::count() const {
  return ops_.size();
}
size_t WriteBatch::bytes() const {
  return bytes_;
}

// ---------- Store ----------

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& o) {
  rocksdb::Options options = BaseOptions(o);
  auto cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (int i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions cfo(options);
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    if (static_cast<Cf>(i) == Cf::kRecords) {
      cfo.merge_operator = std::make_shared<RecordMergeOperator>();
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    }
    cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cfs.emplace_back(kCfNames[i], cfo);
  }
  // RocksDB requires the default column family; Switchboard keeps nothing in it.
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options));
  std::unique_ptr<Store> store(new Store());
  store->options_ = o;
  store->path_ = path;
  if (o.fault) {
    store->env_ = rocksdb::NewCompositeEnv(NewFaultInjectionFs(o.fault));
    options.env = store->env_.get();
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::DBOptions dbo(options);
  rocksdb::Status s = o.read_only
                          ? rocksdb::DB::OpenForReadOnly(dbo, path, cfs, &store->handles_, &raw)
                          : rocksdb::DB::Open(dbo, path, cfs, &store->handles_, &raw);
  if (!s.ok()) return FromRocks(s, "cannot open the store in " + path);
  store->db_.reset(raw);
  ASSIGN_OR_RETURN(std::optional<std::string> version, store->Get(Cf::kMeta, kFormatKey));
  if (!version && o.read_only) {
    return Status::FailedPrecondition("the store in " + path + " has no format version yet");
  }
  if (!version) {
    WriteBatch b;
    b.Put(Cf::kMeta, kFormatKey, EncodeSeq(kFormatVersion));
    RETURN_IF_ERROR(store->Commit(std::move(b)));
  } else if (DecodeSeq(*version) != kFormatVersion) {
    uint64_t v = DecodeSeq(*version);
    return Status::FailedPrecondition("the store in " + path + " has format version " +
                                      std::to_string(v) + "; this build reads version " +
                                      std::to_string(kFormatVersion) +
                                      (v > kFormatVersion ? " — upgrade switchboard" : ""));
  }
  return store;
}

Store::~Store() {
  if (!db_) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  db_->Close().PermitUncheckedError();
}

Status Store::Commit(WriteBatch batch) {
  if (options_.fault && options_.fault->OnCommit()) {
    return Status::IoError("writing to the store: injected fault: the commit failed");
  }
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops_) {
    rocksdb::Status s;
    switch (op.type) {
      case WriteBatch::Op::kPut:
        s = wb.Put(Handle(op.cf), op.key, op.value);
        break;
      case WriteBatch::Op::kDelete:
        s = wb.Delete(Handle(op.cf), op.key);
        break;
      case WriteBatch::Op::kMerge:
        s = wb.Merge(Handle(op.cf), op.key, op.value);
        break;
    }
    if (!s.ok()) return FromRocks(s, "building a write batch");
  }
  RETURN_IF_ERROR(ResumeIfStopped());
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) return WriteFailed(s);
  return Status::Ok();
}

Status Store::write_stopped() const {
  MutexLock lock(stop_mu_);
  return stopped_;
}

Status Store::ResumeIfStopped() {
  {
    MutexLock lock(stop_mu_);
    if (stopped_.ok()) return Status::Ok();
    // Only a full disk is resumed in place. After an I/O error the store stays stopped until
    // the process restarts and RocksDB replays its log: resuming here, a write whose log sync
    // failed could be made obsolete by the flush while its successors are acknowledged.
    if (stopped_.code() != Code::kNoSpace) return stopped_;
    // Still full: do not ask RocksDB to resume (it would flush into no space, and this
    // packaged RocksDB asserts when its failed log file is written to again on a full disk).
    struct statvfs fs;
    if (stopped_.code() == Code::kNoSpace && ::statvfs(path_.c_str(), &fs) == 0 &&
        static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kResumeFreeBytes) {
      return stopped_;
    }
  }
  // Resume is OK at once when RocksDB has no background error (it may have recovered by
  // itself); Busy while its own recovery runs.
  rocksdb::Status r = db_->Resume();
  if (r.ok()) {
    MutexLock lock(stop_mu_);
    if (!stopped_.ok())
      spdlog::info("store {}: writes resumed after: {}", path_, stopped_.message());
    stopped_ = Status::Ok();
    return Status::Ok();
  }
  if (r.IsBusy()) {
    MutexLock lock(stop_mu_);
    return stopped_;
  }
  return WriteFailed(r);
}

Status Store::WriteFailed(const rocksdb::Status& s) {
  Status out;
  if (s.IsNoSpace()) {
    out = Status::NoSpace("the disk holding the store in " + path_ + " is full (" + s.ToString() +
                          "): nothing was written; free space on that disk — writing resumes "
                          "by itself once there is room");
  } else if (s.IsIOError() || s.IsCorruption() || s.severity() >= rocksdb::Status::kHardError) {
    out =
        Status::IoError("the store in " + path_ + " could not write to its disk (" + s.ToString() +
                        "): nothing was written; check the disk (the kernel log names the "
                        "failing device); writing is retried with each request, and if it "
                        "keeps failing, restart the process once the disk is sound");
  } else {
    return FromRocks(s, "writing to the store");
  }
  MutexLock lock(stop_mu_);
  if (stopped_.ok()) spdlog::error("store {}: writes stopped: {}", path_, out.message());
  stopped_ = out;
  return out;
}

Result<std::optional<std::string>> Store::Get(Cf cf, std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(cf), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, std::string("reading ") + CfName(cf));
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<Record>> Store::GetRecord(const std::string& id) const {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, Get(Cf::kRecords, id));
  if (!bytes) return std::optional<Record>();
  ASSIGN_OR_RETURN(Record r, DecodeRecord(*bytes));
  return std::optional<Record>(std::move(r));
}

Status Store::Scan(Cf cf, std::string_view prefix, std::string_view start,
                   const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, Handle(cf)));
  std::string from = start.empty() ? std::string(prefix) : std::string(start);
  for (it->Seek(from); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    std::string_view key(k.data(), k.size());
    if (key.substr(0, prefix.size()) != prefix) break;
    rocksdb::Slice v = it->value();
    if (!fn(key, std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), std::string("scanning ") + CfName(cf));
}

Status Store::ForEachRecord(const std::function<bool(const Record&)>& fn) const {
  Status inner;
  RETURN_IF_ERROR(Scan(Cf::kRecords, "", "", [&](std::string_view key, std::string_view value) {
    Result<Record> r = DecodeRecord(value);
    if (!r.ok()) {
      inner = r.status().WithContext("record " + std::string(key));
      return false;
    }
    return fn(*r);
  }));
  return inner;
}

Status Store::Erase(Cf cf) {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  RETURN_IF_ERROR(FromRocks(db_->Flush(flush, all), "flushing"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(db_->CompactRange(compact, Handle(cf), nullptr, nullptr), "compacting");
}

Status Store::CompactAll() {
  for (auto* h : handles_) {
    RETURN_IF_ERROR(FromRocks(
        db_->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr), "compacting"));
  }
  return Status::Ok();
}

Status Store::Checkpoint(const std::string& target) {
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // log_size_for_flush 0: flush first, so the copy's state is in its table files.
  return FromRocks(cp->CreateCheckpoint(target, 0), "cannot make a checkpoint in " + target);
}

}  // namespace sb

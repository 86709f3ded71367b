#include "store/internal/fault_fs.h"

#include <rocksdb/file_system.h>

#include "store/fault_injection.h"

namespace sb {

namespace {

using rocksdb::FileOptions;
using rocksdb::FSDirectory;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;
using Op = FaultInjector::Op;

// A full disk is reported as RocksDB's POSIX file system reports ENOSPC: NoSpace, retryable.
IOStatus ToIo(const Status& s) {
  if (s.ok()) return IOStatus::OK();
  if (s.code() == Code::kNoSpace) {
    IOStatus io = IOStatus::NoSpace(s.message());
    io.SetRetryable(true);
    return io;
  }
  return IOStatus::IOError(s.message());
}

// A file being written: appends and syncs ask the injector first and report to it after.
class FaultyWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(std::string name, std::unique_ptr<FSWritableFile> file, FaultInjector* f)
      : FSWritableFileOwnerWrapper(std::move(file)), name_(std::move(name)), f_(f) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kAppend));
    if (s.ok()) s = target()->Append(data, o, dbg);
    if (s.ok()) f_->Appended(name_, target()->GetFileSize(o, dbg));
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kAppend));
    if (s.ok()) s = target()->Append(data, o, info, dbg);
    if (s.ok()) f_->Appended(name_, target()->GetFileSize(o, dbg));
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kAppend));
    if (s.ok()) s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) f_->Appended(name_, offset + data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kAppend));
    if (s.ok()) s = target()->PositionedAppend(data, offset, o, info, dbg);
    if (s.ok()) f_->Appended(name_, offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kOther));
    if (s.ok()) s = target()->Truncate(size, o, dbg);
    if (s.ok()) f_->Truncated(name_, size);
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kSync));
    if (s.ok()) s = target()->Sync(o, dbg);
    if (s.ok()) f_->Synced(name_);
    return s;
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kSync));
    if (s.ok()) s = target()->Fsync(o, dbg);
    if (s.ok()) f_->Synced(name_);
    return s;
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& o,
                     IODebugContext* dbg) override {
    // Partial: not counted as a sync of the file.
    IOStatus s = ToIo(f_->Before(name_, Op::kOther));
    return s.ok() ? target()->RangeSync(offset, nbytes, o, dbg) : s;
  }
  // Close always reaches the real file (no descriptor leaks after a crash) and never syncs.

 private:
  std::string name_;
  FaultInjector* f_;
};

class FaultyDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  FaultyDirectory(std::string name, std::unique_ptr<FSDirectory> dir, FaultInjector* f)
      : FSDirectoryWrapper(std::move(dir)), name_(std::move(name)), f_(f) {}

  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kOther));
    if (s.ok()) s = FSDirectoryWrapper::Fsync(o, dbg);
    if (s.ok()) f_->DirSynced(name_);
    return s;
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& d) override {
    IOStatus s = ToIo(f_->Before(name_, Op::kOther));
    if (s.ok()) s = FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, d);
    if (s.ok()) f_->DirSynced(name_);
    return s;
  }

 private:
  std::string name_;
  FaultInjector* f_;
};

class FaultInjectionFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFs(FaultInjector* f)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), f_(f) {}

  static const char* kClassName() { return "SwitchboardFaultInjectionFs"; }
  const char* Name() const override { return kClassName(); }

  IOStatus NewWritableFile(const std::string& name, const FileOptions& fo,
                           std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name, Op::kOther));
    if (s.ok()) s = target()->NewWritableFile(name, fo, r, dbg);
    if (!s.ok()) return s;
    f_->Created(name, 0);
    *r = std::make_unique<FaultyWritableFile>(name, std::move(*r), f_);
    return s;
  }
  IOStatus ReopenWritableFile(const std::string& name, const FileOptions& fo,
                              std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name, Op::kOther));
    if (s.ok()) s = target()->ReopenWritableFile(name, fo, r, dbg);
    if (!s.ok()) return s;
    uint64_t size = 0;
    if (!target()->GetFileSize(name, IOOptions(), &size, dbg).ok()) size = 0;
    f_->Created(name, size);
    *r = std::make_unique<FaultyWritableFile>(name, std::move(*r), f_);
    return s;
  }
  IOStatus ReuseWritableFile(const std::string& name, const std::string& old, const FileOptions& fo,
                             std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name, Op::kOther));
    if (s.ok()) s = target()->ReuseWritableFile(name, old, fo, r, dbg);
    if (!s.ok()) return s;
    f_->Deleted(old);
    f_->Created(name, 0);
    *r = std::make_unique<FaultyWritableFile>(name, std::move(*r), f_);
    return s;
  }
  IOStatus NewDirectory(const std::string& name, const IOOptions& o,
                        std::unique_ptr<FSDirectory>* r, IODebugContext* dbg) override {
    IOStatus s = target()->NewDirectory(name, o, r, dbg);
    if (s.ok()) *r = std::make_unique<FaultyDirectory>(name, std::move(*r), f_);
    return s;
  }
  IOStatus RenameFile(const std::string& from, const std::string& to, const IOOptions& o,
                      IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(to, Op::kOther));
    if (s.ok()) s = target()->RenameFile(from, to, o, dbg);
    if (s.ok()) f_->Renamed(from, to);
    return s;
  }
  IOStatus DeleteFile(const std::string& name, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name, Op::kOther));
    if (s.ok()) s = target()->DeleteFile(name, o, dbg);
    if (s.ok()) f_->Deleted(name);
    return s;
  }
  IOStatus Truncate(const std::string& name, size_t size, const IOOptions& o,
                    IODebugContext* dbg) override {
    IOStatus s = ToIo(f_->Before(name, Op::kOther));
    if (s.ok()) s = target()->Truncate(name, size, o, dbg);
    if (s.ok()) f_->Truncated(name, size);
    return s;
  }
  IOStatus LinkFile(const std::string&, const std::string&, const IOOptions&,
                    IODebugContext*) override {
    return IOStatus::NotSupported("the fault-injecting file system does not link files");
  }

 private:
  FaultInjector* f_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewFaultInjectionFs(FaultInjector* injector) {
  return std::make_shared<FaultInjectionFs>(injector);
}

}  // namespace sb

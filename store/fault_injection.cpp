#include "store/fault_injection.h"

#include <filesystem>
#include <system_error>

namespace sb {

namespace {

namespace fs = std::filesystem;

bool IsWal(const std::string& file) {
  return file.size() > 4 && file.compare(file.size() - 4, 4, ".log") == 0;
}

std::string Parent(const std::string& file) {
  return fs::path(file).lexically_normal().parent_path().string();
}

}  // namespace

bool FaultInjector::Fire(uint64_t* countdown) {
  if (*countdown == 0) return false;
  return --*countdown == 0;
}

void FaultInjector::FailCommit(uint64_t n) {
  MutexLock lock(mu_);
  commit_countdown_ = n;
}

void FaultInjector::FailWalSync(uint64_t n) {
  MutexLock lock(mu_);
  sync_countdown_ = n;
}

void FaultInjector::FailWalAppend(uint64_t n) {
  MutexLock lock(mu_);
  append_countdown_ = n;
}

void FaultInjector::SetDiskFull(bool on) {
  MutexLock lock(mu_);
  disk_full_ = on;
}

void FaultInjector::SetIoErrors(bool on) {
  MutexLock lock(mu_);
  io_errors_ = on;
}

void FaultInjector::Crash() {
  MutexLock lock(mu_);
  active_ = false;
}

Status FaultInjector::DropUnsyncedData() {
  MutexLock lock(mu_);
  Status out;
  for (const auto& [file, state] : files_) {
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    if (!state.in_dir) {
      fs::remove(file, ec);
    } else if (fs::file_size(file, ec) > state.synced && !ec) {
      fs::resize_file(file, state.synced, ec);
    }
    if (ec && out.ok())
      out = Status::IoError("dropping unsynced data of " + file + ": " + ec.message());
  }
  files_.clear();  // what is left is durable
  active_ = true;
  commit_countdown_ = sync_countdown_ = append_countdown_ = 0;
  return out;
}

uint64_t FaultInjector::injected() const {
  MutexLock lock(mu_);
  return injected_;
}
uint64_t FaultInjector::commits() const {
  MutexLock lock(mu_);
  return commits_;
}
uint64_t FaultInjector::wal_syncs() const {
  MutexLock lock(mu_);
  return wal_syncs_;
}
uint64_t FaultInjector::wal_appends() const {
  MutexLock lock(mu_);
  return wal_appends_;
}
bool FaultInjector::active() const {
  MutexLock lock(mu_);
  return active_;
}

bool FaultInjector::OnCommit() {
  MutexLock lock(mu_);
  ++commits_;
  if (!Fire(&commit_countdown_)) return false;
  ++injected_;
  return true;
}

Status FaultInjector::Before(const std::string& file, Op op) {
  MutexLock lock(mu_);
  if (!active_) return Status::IoError("injected fault: the power is off (" + file + ")");
  if (op != Op::kOther && (disk_full_ || io_errors_)) {
    ++injected_;
    if (disk_full_)
      return Status::NoSpace("injected fault: no space left on device (" + file + ")");
    return Status::IoError("injected fault: input/output error (" + file + ")");
  }
  if (!IsWal(file)) return Status::Ok();
  if (op == Op::kAppend) {
    ++wal_appends_;
    if (Fire(&append_countdown_)) {
      ++injected_;
      return Status::IoError("injected fault: appending to " + file + " failed");
    }
  } else if (op == Op::kSync) {
    ++wal_syncs_;
    if (Fire(&sync_countdown_)) {
      ++injected_;
      return Status::IoError("injected fault: syncing " + file + " failed");
    }
  }
  return Status::Ok();
}

void FaultInjector::Created(const std::string& file, uint64_t size) {
  MutexLock lock(mu_);
  if (size == 0) {
    files_[file] = FileState{};  // a new (or emptied) file, not yet in its directory
  } else {
    files_.try_emplace(file, FileState{size, size, true});  // reopened: untracked means durable
  }
}

void FaultInjector::Appended(const std::string& file, uint64_t end) {
  MutexLock lock(mu_);
  FileState& s = files_[file];
  s.written = std::max(s.written, end);
}

void FaultInjector::Truncated(const std::string& file, uint64_t size) {
  MutexLock lock(mu_);
  auto it = files_.find(file);
  if (it == files_.end()) return;  // not written through the wrapper: durable
  it->second.written = size;
  it->second.synced = std::min(it->second.synced, size);
}

void FaultInjector::Synced(const std::string& file) {
  MutexLock lock(mu_);
  FileState& s = files_[file];
  s.synced = s.written;
}

void FaultInjector::DirSynced(const std::string& dir) {
  MutexLock lock(mu_);
  std::string d = fs::path(dir).lexically_normal().string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  for (auto& [file, state] : files_) {
    if (Parent(file) == d) state.in_dir = true;
  }
}

void FaultInjector::Renamed(const std::string& from, const std::string& to) {
  MutexLock lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) {
    files_.erase(to);  // replaced by a durable file
    return;
  }
  FileState s = it->second;
  files_.erase(it);
  files_[to] = s;
}

void FaultInjector::Deleted(const std::string& file) {
  MutexLock lock(mu_);
  files_.erase(file);
}

}  // namespace sb

#include "store/backup.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "base/files.h"
#include "base/ids.h"
#include "store/data_dir.h"

namespace sb {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'S', 'B', 'B', 'A', 'C', 'K', 'U', 'P'};
constexpr char kLogEpochKey[] = "log_epoch";
constexpr char kRestoredKey[] = "restored";
constexpr size_t kChunk = 1 << 16;
constexpr size_t kMaxName = 1024;
constexpr uint64_t kMaxSmallPayload = 1 << 20;           // header and keys sections
constexpr size_t kHashBytes = crypto_generichash_BYTES;  // 32

void PutBe(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetBe(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

std::string SectionHead(char tag, const std::string& name, uint64_t length) {
  std::string h(1, tag);
  PutBe(&h, name.size(), 2);
  h += name;
  PutBe(&h, length, 8);
  return h;
}

// An archive file written through a running BLAKE2b hash.
class HashedWriter {
 public:
  ~HashedWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
    crypto_generichash_init(&state_, nullptr, 0, kHashBytes);
    return Status::Ok();
  }
  Status Write(const void* data, size_t n, bool hash = true) {
    if (hash) crypto_generichash_update(&state_, static_cast<const unsigned char*>(data), n);
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::IoError("writing " + path_ + ": " + std::strerror(errno));
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }
  Status Write(const std::string& s) { return Write(s.data(), s.size()); }
  // Writes the end section and syncs.
  Status Finish() {
    unsigned char digest[kHashBytes];
    crypto_generichash_final(&state_, digest, kHashBytes);
    std::string end = SectionHead('E', "", kHashBytes);
    RETURN_IF_ERROR(Write(end.data(), end.size(), /*hash=*/false));
    RETURN_IF_ERROR(Write(digest, kHashBytes, /*hash=*/false));
    if (::fsync(fd_) != 0) return Status::IoError("syncing " + path_ + ": " + std::strerror(errno));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::IoError("closing " + path_ + ": " + std::strerror(errno));
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_ = -1;
  crypto_generichash_state state_{};
};

// Reads an archive section by section, hashing everything before the end section.
class HashedReader {
 public:
  ~HashedReader() {
    if (f_) std::fclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
    crypto_generichash_init(&state_, nullptr, 0, kHashBytes);
    return Status::Ok();
  }
  // Exactly n bytes, or a truncation error.
  Status Read(void* out, size_t n, bool hash = true) {
    if (n > 0 && std::fread(out, 1, n, f_) != n) {
      if (std::ferror(f_)) return Status::IoError("reading " + path_ + ": " + std::strerror(errno));
      return Truncated();
    }
    if (hash) crypto_generichash_update(&state_, static_cast<unsigned char*>(out), n);
    return Status::Ok();
  }
  void Hash(const void* data, size_t n) {
    crypto_generichash_update(&state_, static_cast<const unsigned char*>(data), n);
  }
  Status Truncated() const {
    return Status::Corruption(path_ +
                              " is truncated (it ends before its end mark): the backup is "
                              "incomplete; nothing was restored");
  }
  Status Corrupted(const std::string& what) const {
    return Status::Corruption(path_ + " is damaged (" + what + "); nothing was restored");
  }
  // Checks the end section's hash against what was read; then that nothing follows.
  Status CheckEnd() {
    unsigned char want[kHashBytes], got[kHashBytes];
    crypto_generichash_final(&state_, got, kHashBytes);
    RETURN_IF_ERROR(Read(want, kHashBytes, false));
    if (sodium_memcmp(want, got, kHashBytes) != 0) return Corrupted("its checksum does not match");
    if (std::fgetc(f_) != EOF) return Corrupted("bytes follow its end mark");
    return Status::Ok();
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  crypto_generichash_state state_{};
};

struct Section {
  char tag = 0;
  std::string name;
  uint64_t length = 0;
};

bool ValidDataName(const std::string& n) {
  if (n == "FORMAT") return true;
  if (n.rfind("db/", 0) != 0 || n.size() == 3) return false;
  for (size_t i = 3; i < n.size(); ++i) {
    char c = n[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return n != "db/." && n != "db/..";
}

bool ValidKeyName(const std::string& n) {
  for (const std::string& k : BackupKeyFiles()) {
    if (k == n) return true;
  }
  return false;
}

std::string PackKeys(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (const auto& [name, bytes] : files) {
    PutBe(&out, name.size(), 2);
    out += name;
    PutBe(&out, bytes.size(), 4);
    out += bytes;
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> UnpackKeys(const std::string& in) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  while (i < in.size()) {
    if (in.size() - i < 2) return Status::Corruption("the keys section is malformed");
    size_t nl = GetBe(p + i, 2);
    i += 2;
    if (in.size() - i < nl + 4) return Status::Corruption("the keys section is malformed");
    std::string name = in.substr(i, nl);
    i += nl;
    size_t bl = GetBe(p + i, 4);
    i += 4;
    if (in.size() - i < bl || !ValidKeyName(name)) {
      return Status::Corruption("the keys section is malformed");
    }
    out.emplace_back(std::move(name), in.substr(i, bl));
    i += bl;
  }
  return out;
}

// The secretbox key for `passphrase`.
Status DeriveKey(const std::string& passphrase, const unsigned char* salt, uint64_t ops,
                 uint64_t mem, unsigned char* key) {
  if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_MAX ||
      mem < crypto_pwhash_MEMLIMIT_MIN || mem > (uint64_t{1} << 32)) {
    return Status::Corruption("the keys section names an impossible key derivation cost");
  }
  if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, passphrase.data(), passphrase.size(), salt, ops,
                    static_cast<size_t>(mem), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("deriving the key from the passphrase ran out of memory");
  }
  return Status::Ok();
}

Result<std::string> SealKeys(const std::string& plain, const BackupOptions& o) {
  uint64_t ops = o.pwhash_ops ? o.pwhash_ops : crypto_pwhash_OPSLIMIT_MODERATE;
  uint64_t mem = o.pwhash_mem ? o.pwhash_mem : crypto_pwhash_MEMLIMIT_MODERATE;
  unsigned char salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES];
  randombytes_buf(salt, sizeof salt);
  randombytes_buf(nonce, sizeof nonce);
  unsigned char key[crypto_secretbox_KEYBYTES];
  RETURN_IF_ERROR(DeriveKey(o.passphrase, salt, ops, mem, key));
  std::string out(reinterpret_cast<char*>(salt), sizeof salt);
  PutBe(&out, ops, 8);
  PutBe(&out, mem, 8);
  out.append(reinterpret_cast<char*>(nonce), sizeof nonce);
  std::string box(plain.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(box.data()),
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nonce,
                        key);
  sodium_memzero(key, sizeof key);
  return out + box;
}

Result<std::string> OpenKeys(const std::string& sealed, const std::string& passphrase) {
  constexpr size_t kHead = crypto_pwhash_SALTBYTES + 16 + crypto_secretbox_NONCEBYTES;
  if (sealed.size() < kHead + crypto_secretbox_MACBYTES) {
    return Status::Corruption("the keys section is malformed");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  uint64_t ops = GetBe(p + crypto_pwhash_SALTBYTES, 8);
  uint64_t mem = GetBe(p + crypto_pwhash_SALTBYTES + 8, 8);
  unsigned char key[crypto_secretbox_KEYBYTES];
  RETURN_IF_ERROR(DeriveKey(passphrase, p, ops, mem, key));
  std::string plain(sealed.size() - kHead - crypto_secretbox_MACBYTES, '\0');
  int rc = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()), p + kHead,
                                      sealed.size() - kHead,
                                      p + kHead - crypto_secretbox_NONCEBYTES, key);
  sodium_memzero(key, sizeof key);
  if (rc != 0) {
    return Status::PermissionDenied(
        "wrong passphrase: the archive's keys do not open with it; nothing was restored");
  }
  return plain;
}

// What a pass over an archive reports.
struct Visitor {
  // Called for each 'F' section: returns a sink for its bytes (or null to only hash them).
  std::function<Result<int>(const std::string& name)> open_file;
  std::function<Status(const std::string& sealed)> on_keys;
};

// One pass: checks the magic and version, reads every section, checks the end hash.
Result<BackupSummary> Pass(const std::string& archive, const Visitor& v,
                           const ProgressFn& progress) {
  HashedReader in;
  RETURN_IF_ERROR(in.Open(archive));
  char magic[8];
  unsigned char ver[4];
  if (Status s = in.Read(magic, 8); !s.ok() || std::memcmp(magic, kMagic, 8) != 0) {
    return Status::InvalidArgument(archive + " is not a switchboard backup");
  }
  RETURN_IF_ERROR(in.Read(ver, 4));
  if (uint64_t version = GetBe(ver, 4); version != kBackupFormat) {
    return Status::FailedPrecondition(archive + " is a backup of format " +
                                      std::to_string(version) + "; this build reads format " +
                                      std::to_string(kBackupFormat) +
                                      (version > kBackupFormat ? " — upgrade switchboard" : ""));
  }
  BackupSummary sum;
  bool header = false;
  BackupProgress prog;
  std::vector<char> buf(kChunk);
  for (;;) {
    unsigned char head[3];
    char tag = 0;
    RETURN_IF_ERROR(in.Read(&tag, 1, /*hash=*/false));
    Section s;
    s.tag = tag;
    if (tag == 'E') {
      RETURN_IF_ERROR(in.Read(head, 2, false));
      unsigned char len[8];
      RETURN_IF_ERROR(in.Read(len, 8, false));
      if (GetBe(head, 2) != 0 || GetBe(len, 8) != kHashBytes) return in.Corrupted("bad end mark");
      RETURN_IF_ERROR(in.CheckEnd());
      break;
    }
    in.Hash(&tag, 1);  // every section's tag but the end's is hashed
    RETURN_IF_ERROR(in.Read(head, 2));
    size_t nl = GetBe(head, 2);
    if (nl > kMaxName) return in.Corrupted("a name is too long");
    s.name.resize(nl);
    RETURN_IF_ERROR(in.Read(s.name.data(), nl));
    unsigned char len[8];
    RETURN_IF_ERROR(in.Read(len, 8));
    s.length = GetBe(len, 8);
    if (tag == 'H' || tag == 'K') {
      if (s.length > kMaxSmallPayload) return in.Corrupted("a section is too long");
      std::string payload(s.length, '\0');
      RETURN_IF_ERROR(in.Read(payload.data(), payload.size()));
      if (tag == 'H') {
        auto j = nlohmann::json::parse(payload, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("role") || !j["role"].is_string()) {
          return in.Corrupted("its header is malformed");
        }
        sum.role = j["role"].get<std::string>();
        if (sum.role != "agent" && sum.role != "broker") return in.Corrupted("unknown role");
        sum.files = j.value("files", uint64_t{0});
        sum.bytes = j.value("bytes", uint64_t{0});
        sum.created_ms = j.value("created_ms", uint64_t{0});
        sum.keys = j.value("keys", false);
        prog.files_total = sum.files;
        prog.bytes_total = sum.bytes;
        header = true;
      } else {
        if (!header) return in.Corrupted("keys before the header");
        if (v.on_keys) RETURN_IF_ERROR(v.on_keys(payload));
      }
      continue;
    }
    if (tag != 'F') return in.Corrupted("an unknown section");
    if (!header) return in.Corrupted("a file before the header");
    if (!ValidDataName(s.name)) return in.Corrupted("a file name that is not allowed");
    int fd = -1;
    if (v.open_file) {
      ASSIGN_OR_RETURN(fd, v.open_file(s.name));
    }
    uint64_t left = s.length;
    Status st;
    while (left > 0 && st.ok()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      st = in.Read(buf.data(), n);
      if (st.ok() && fd >= 0) {
        for (size_t off = 0; off < n;) {
          ssize_t w = ::write(fd, buf.data() + off, n - off);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) {
            st = Status::IoError("writing " + s.name + ": " + std::strerror(errno));
            break;
          }
          off += static_cast<size_t>(w);
        }
      }
      left -= n;
      prog.bytes_done += n;
    }
    if (fd >= 0) {
      if (st.ok() && ::fsync(fd) != 0) st = Status::IoError("syncing " + s.name);
      ::close(fd);
    }
    RETURN_IF_ERROR(st);
    prog.files_done++;
    if (progress) progress(prog);
  }
  if (!header) return in.Corrupted("it has no header");
  return sum;
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::IoError("cannot sync " + dir);
}

}  // namespace

const std::vector<std::string>& BackupKeyFiles() {
  static const std::vector<std::string> kFiles = {"identity.pub", "curve.key", "box.key",
                                                  "sign.key",     "api.token", "console.token"};
  return kFiles;
}

Status CheckpointStore(Store& store, const std::string& target) {
  return store.Checkpoint(target);
}

Result<std::string> CheckpointForBackup(Store& store, const std::string& data_dir) {
  std::error_code ec;
  // Absolute: the process asking for it may run in another directory.
  std::string dir =
      (fs::absolute(data_dir, ec) / ("backup-" + RandomToken().substr(0, 12) + ".tmp"))
          .lexically_normal()
          .string();
  fs::create_directory(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  if (Status s = store.Checkpoint(dir + "/db"); !s.ok()) {
    fs::remove_all(dir, ec);
    return s;
  }
  return dir;
}

Result<BackupSummary> WriteBackup(const std::string& data_dir, const std::string& db_dir,
                                  const std::string& out, const BackupOptions& o) {
  if (sodium_init() < 0) return Status::Internal("libsodium cannot be initialized");
  std::error_code ec;
  if (fs::exists(out, ec)) {
    return Status::AlreadyExists(out + " exists; give a new file (a backup never overwrites)");
  }
  ASSIGN_OR_RETURN(std::string format, ReadFile(data_dir + "/FORMAT"));
  std::string role;
  if (format.find("\nrole agent") != std::string::npos) role = "agent";
  if (format.find("\nrole broker") != std::string::npos) role = "broker";
  if (role.empty()) return Status::Corruption(data_dir + "/FORMAT is damaged or not ours");
  // The files, in name order (stable archives).
  std::vector<std::pair<std::string, std::string>> files;  // archive name, path
  files.emplace_back("FORMAT", data_dir + "/FORMAT");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(db_dir, ec)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  if (ec) return Status::IoError("cannot list " + db_dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  BackupProgress prog;
  for (const std::string& n : names) {
    if (!ValidDataName("db/" + n)) {
      return Status::FailedPrecondition("unexpected file " + n + " in the store");
    }
    files.emplace_back("db/" + n, db_dir + "/" + n);
  }
  for (const auto& [name, path] : files) prog.bytes_total += fs::file_size(path, ec);
  prog.files_total = files.size();
  std::string sealed;
  BackupSummary sum;
  sum.role = role;
  sum.files = files.size();
  sum.bytes = prog.bytes_total;
  sum.created_ms = o.created_ms;
  if (o.with_keys) {
    if (o.passphrase.size() < 8) {
      return Status::InvalidArgument("the passphrase must have at least 8 characters");
    }
    std::vector<std::pair<std::string, std::string>> keys;
    for (const std::string& k : BackupKeyFiles()) {
      if (!fs::exists(data_dir + "/" + k, ec)) continue;
      ASSIGN_OR_RETURN(std::string bytes, ReadFile(data_dir + "/" + k));
      keys.emplace_back(k, std::move(bytes));
      sum.key_files.push_back(k);
    }
    if (keys.empty()) return Status::NotFound(data_dir + " holds no keys to back up");
    std::string plain = PackKeys(keys);
    Result<std::string> s = SealKeys(plain, o);
    sodium_memzero(plain.data(), plain.size());
    for (auto& [n, b] : keys) sodium_memzero(b.data(), b.size());
    if (!s.ok()) return s.status();
    sealed = std::move(s).value();
    sum.keys = true;
  }
  std::string tmp = out + ".tmp";
  fs::remove(tmp, ec);
  auto fail = [&](const Status& s) {
    std::error_code e2;
    fs::remove(tmp, e2);
    return s;
  };
  HashedWriter w;
  if (Status s = w.Open(tmp); !s.ok()) return s;
  std::string head(kMagic, 8);
  PutBe(&head, kBackupFormat, 4);
  nlohmann::json h = {{"role", role},
                      {"data_format", kDataDirFormat},
                      {"created_ms", o.created_ms},
                      {"files", sum.files},
                      {"bytes", sum.bytes},
                      {"keys", sum.keys}};
  std::string hj = h.dump();
  head += SectionHead('H', "", hj.size()) + hj;
  if (Status s = w.Write(head); !s.ok()) return fail(s);
  if (sum.keys) {
    if (Status s = w.Write(SectionHead('K', "", sealed.size()) + sealed); !s.ok()) return fail(s);
  }
  std::vector<char> buf(kChunk);
  for (const auto& [name, path] : files) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return fail(Status::IoError("cannot read " + path + ": " + std::strerror(errno)));
    std::unique_ptr<FILE, int (*)(FILE*)> closer(f, &std::fclose);
    uint64_t size = fs::file_size(path, ec);
    if (ec) return fail(Status::IoError("cannot read " + path + ": " + ec.message()));
    if (Status s = w.Write(SectionHead('F', name, size)); !s.ok()) return fail(s);
    uint64_t left = size;
    while (left > 0) {
      size_t n = std::fread(buf.data(), 1, std::min<uint64_t>(left, buf.size()), f);
      if (n == 0) return fail(Status::IoError(path + " changed while it was backed up"));
      if (Status s = w.Write(buf.data(), n); !s.ok()) return fail(s);
      left -= n;
      prog.bytes_done += n;
    }
    prog.files_done++;
    if (o.progress) o.progress(prog);
  }
  if (Status s = w.Finish(); !s.ok()) return fail(s);
  fs::rename(tmp, out, ec);
  if (ec) return fail(Status::IoError("cannot rename " + tmp + " to " + out + ": " + ec.message()));
  fs::path parent = fs::absolute(out, ec).parent_path();
  RETURN_IF_ERROR(SyncDir(parent.string()));
  return sum;
}

Result<BackupSummary> VerifyBackup(const std::string& archive) {
  if (sodium_init() < 0) return Status::Internal("libsodium cannot be initialized");
  return Pass(archive, Visitor{}, nullptr);
}

Result<BackupSummary> RestoreBackup(const std::string& archive, const std::string& target,
                                    const RestoreOptions& o) {
  if (sodium_init() < 0) return Status::Internal("libsodium cannot be initialized");
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      return Status::FailedPrecondition(target + " exists and is not a directory");
    }
    if (!fs::is_empty(target, ec)) {
      return Status::FailedPrecondition(
          target + " is not empty; restore into a new or empty directory (nothing was changed)");
    }
  }
  // Pass 1: the whole archive's hash, then the keys opened, before anything is written.
  std::string sealed;
  Visitor check;
  check.on_keys = [&](const std::string& k) -> Status {
    sealed = k;
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(BackupSummary sum, Pass(archive, check, nullptr));
  std::vector<std::pair<std::string, std::string>> keys;
  if (!sealed.empty() && !o.skip_keys) {
    if (o.passphrase.empty()) {
      return Status::InvalidArgument(
          "the backup holds encrypted keys: give the passphrase (--passphrase-file FILE, or "
          "on stdin), or restore without them (--without-keys)");
    }
    ASSIGN_OR_RETURN(std::string plain, OpenKeys(sealed, o.passphrase));
    Result<std::vector<std::pair<std::string, std::string>>> k = UnpackKeys(plain);
    sodium_memzero(plain.data(), plain.size());
    if (!k.ok()) return k.status();
    keys = std::move(k).value();
  }
  // Pass 2: into a temp directory beside the target.
  fs::path abs = fs::absolute(target, ec);
  if (abs.filename().empty()) abs = abs.parent_path();
  fs::path parent = abs.parent_path();
  if (!fs::is_directory(parent, ec)) {
    return Status::NotFound("the directory " + parent.string() + " does not exist");
  }
  std::string tmp =
      (parent / ("." + abs.filename().string() + ".restore-" + RandomToken().substr(0, 8)))
          .string();
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      if (dir.empty()) return;
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{tmp};
  fs::create_directory(tmp, ec);
  if (ec) return Status::IoError("cannot create " + tmp + ": " + ec.message());
  fs::permissions(tmp, fs::perms::owner_all, ec);
  fs::create_directory(tmp + "/db", ec);
  if (ec) return Status::IoError("cannot create " + tmp + "/db: " + ec.message());
  Visitor write;
  write.open_file = [&](const std::string& name) -> Result<int> {
    std::string path = tmp + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) return Status::Corruption(archive + " names " + name + " twice");
      return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
    }
    return fd;
  };
  ASSIGN_OR_RETURN(BackupSummary again, Pass(archive, write, o.progress));
  if (again.role != sum.role || again.files != sum.files) {
    return Status::Corruption(archive + " changed while it was restored");
  }
  for (const auto& [name, bytes] : keys) {
    std::string path = tmp + "/" + name;
    Status s = name == "identity.pub" ? WriteFileAtomic(path, bytes) : WriteSecretFile(path, bytes);
    RETURN_IF_ERROR(s);
    sum.key_files.push_back(name);
  }
  // The data directory as a running process would open it: FORMAT (role, version), the store.
  {
    ASSIGN_OR_RETURN(DataDir d, DataDir::OpenOrCreate(tmp, sum.role));
    WriteBatch mark;
    if (sum.role == "broker") {
      uint64_t epoch = o.new_log_epoch ? o.new_log_epoch : IdSource::Random()->NewNonZero64();
      mark.Put(Cf::kMeta, kLogEpochKey, EncodeSeq(epoch));
    } else {
      mark.Put(Cf::kMeta, kRestoredKey, EncodeSeq(1));
    }
    RETURN_IF_ERROR(d.store->Commit(std::move(mark)));
  }
  RETURN_IF_ERROR(SyncDir(tmp + "/db"));
  RETURN_IF_ERROR(SyncDir(tmp));
  if (fs::exists(abs, ec)) fs::remove(abs, ec);  // empty (checked above)
  fs::rename(tmp, abs, ec);
  if (ec)
    return Status::IoError("cannot rename " + tmp + " to " + abs.string() + ": " + ec.message());
  cleanup.dir.clear();
  RETURN_IF_ERROR(SyncDir(parent.string()));
  return sum;
}

Result<uint64_t> LogEpoch(Store& store) {
  ASSIGN_OR_RETURN(auto v, store.Get(Cf::kMeta, kLogEpochKey));
  if (v && DecodeSeq(*v) != 0) return DecodeSeq(*v);
  uint64_t epoch = IdSource::Random()->NewNonZero64();
  WriteBatch b;
  b.Put(Cf::kMeta, kLogEpochKey, EncodeSeq(epoch));
  RETURN_IF_ERROR(store.Commit(std::move(b)));
  return epoch;
}

Result<bool> IsRestored(const Store& store) {
  ASSIGN_OR_RETURN(auto v, store.Get(Cf::kMeta, kRestoredKey));
  return v.has_value() && DecodeSeq(*v) != 0;
}

void ClearRestored(WriteBatch& batch) {
  batch.Delete(Cf::kMeta, kRestoredKey);
}

}  // namespace sb

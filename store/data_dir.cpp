#include "store/data_dir.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace sb {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "switchboard data directory";
constexpr char kReplicaKey[] = "replica_id";

}  // namespace

Result<DataDir> DataDir::OpenOrCreate(const std::string& path, const std::string& role,
                                      const StoreOptions& store_options) {
  DataDir d;
  d.path = path;
  d.role = role;
  std::error_code ec;
  std::string format_file = path + "/FORMAT";
  // FORMAT is written last when a directory is created, so a directory without it is either
  // new, or one whose creation was interrupted (only db/ and api.token in it), or not ours.
  bool fresh = false;
  int upgrade_from = 0;  // the older format this directory is upgraded from, if it is
  if (!fs::exists(path, ec)) {
    fs::create_directories(path, ec);
    if (ec) return Status::IoError("cannot create " + path + ": " + ec.message());
    fs::permissions(path, fs::perms::owner_all, ec);
    fresh = true;
  } else if (!fs::is_directory(path, ec)) {
    return Status::FailedPrecondition(path + " exists and is not a directory");
  } else if (!fs::exists(format_file, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string name = entry.path().filename().string();
      if (name != "db" && name != "api.token" && !name.ends_with(".tmp")) {
        return Status::FailedPrecondition(
            path + " is not a Switchboard data directory (it holds '" + name +
            "' but no FORMAT); give an empty or new directory");
      }
    }
    fresh = true;
  }
  if (!fresh) {
    ASSIGN_OR_RETURN(std::string format, ReadFile(format_file));
    std::istringstream in(format);
    std::string magic, word, file_role;
    int version = 0;
    std::getline(in, magic);
    if (magic != kMagic || !(in >> word >> version) || word != "format" ||
        !(in >> word >> file_role) || word != "role") {
      return Status::Corruption(format_file +
                                " is damaged or not ours; restore the data "
                                "directory from a backup");
    }
    if (version > kDataDirFormat) {
      return Status::FailedPrecondition(path + " was written by a newer switchboard (format " +
                                        std::to_string(version) + "); this build reads format " +
                                        std::to_string(kDataDirFormat) + " — upgrade switchboard");
    }
    if (version < kDataDirFormat) upgrade_from = version;
    if (file_role != role) {
      return Status::FailedPrecondition(path + " is a " + file_role + " data directory, not an " +
                                        role + " one");
    }
    if (!fs::exists(path + "/db/CURRENT", ec)) {
      return Status::Corruption(path +
                                "/db is missing or damaged; restore the data directory "
                                "from a backup");
    }
  }
  StoreOptions so = store_options;
  so.create_if_missing = fresh;
  Result<std::unique_ptr<Store>> store = Store::Open(path + "/db", so);
  if (!store.ok()) return store.status();
  d.store = std::move(store).value();

  ASSIGN_OR_RETURN(auto rid, d.store->Get(Cf::kMeta, kReplicaKey));
  if (rid) {
    d.replica = DecodeSeq(*rid);
    if (d.replica == 0) return Status::Corruption("the replica id in " + path + " is damaged");
  } else {
    d.replica = RandomReplicaId();
    WriteBatch b;
    b.Put(Cf::kMeta, kReplicaKey, EncodeSeq(d.replica));
    RETURN_IF_ERROR(d.store->Commit(std::move(b)));
  }
  if (!fs::exists(d.TokenPath(), ec))
    RETURN_IF_ERROR(WriteSecretFile(d.TokenPath(), RandomToken() + "\n"));
  ASSIGN_OR_RETURN(std::string token, ReadSecretFile(d.TokenPath()));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.size() < 32) return Status::Corruption(d.TokenPath() + " holds no valid token");
  d.token = token;
  if (fresh || upgrade_from != 0) {
    if (upgrade_from != 0) {
      std::fprintf(stderr, "switchboard: upgraded %s from data format %d to %d\n", path.c_str(),
                   upgrade_from, kDataDirFormat);
    }
    RETURN_IF_ERROR(WriteFileAtomic(format_file, std::string(kMagic) + "\nformat " +
                                                     std::to_string(kDataDirFormat) + "\nrole " +
                                                     role + "\n"));
  }
  return d;
}

}  // namespace sb

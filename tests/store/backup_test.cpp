// The backup archive (store/backup.h): a round trip keeps every value, the file is private,
// and a corrupted, truncated or wrong-passphrase archive is refused with nothing written.
#include "store/backup.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/data_dir.h"
#include "testing/temp_dir.h"

namespace sb {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

mode_t ModeOf(const std::string& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 0777;
}

std::string Slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

bool Says(const Status& s, const std::string& needle) {
  return s.message().find(needle) != std::string::npos;
}

// A data directory with `n` values in meta and fake keys beside it.
struct Fixture {
  TempDir tmp{"sb-backup"};
  std::string data = tmp / "agent";
  std::string archive = tmp / "agent.sbk";

  explicit Fixture(const std::string& role = "agent", int n = 500) {
    auto d = DataDir::OpenOrCreate(data, role);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    WriteBatch b;
    for (int i = 0; i < n; ++i)
      b.Put(Cf::kMeta, "k" + std::to_string(i), std::string(100, 'a' + i % 26));
    EXPECT_TRUE(d->store->Commit(std::move(b)).ok());
    EXPECT_TRUE(WriteSecretFile(data + "/sign.key", "secret-sign-key\n").ok());
    EXPECT_TRUE(WriteFileAtomic(data + "/identity.pub", "{\"org\": \"x\"}\n").ok());
  }

  BackupOptions Options(bool keys) {
    BackupOptions o;
    o.with_keys = keys;
    o.passphrase = "correct horse battery";
    o.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
    o.pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
    return o;
  }

  // Backs the (closed) store up.
  Result<BackupSummary> Backup(bool keys) {
    auto store = Store::Open(data + "/db", StoreOptions{});
    if (!store.ok()) return store.status();
    ASSIGN_OR_RETURN(std::string cp, CheckpointForBackup(**store, data));
    Result<BackupSummary> s = WriteBackup(data, cp + "/db", archive, Options(keys));
    fs::remove_all(cp);
    return s;
  }
};

TEST(Backup, RoundTripKeepsEveryValueAndTheKeys) {
  Fixture f;
  auto b = f.Backup(/*keys=*/true);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->role, "agent");
  EXPECT_TRUE(b->keys);
  EXPECT_EQ(ModeOf(f.archive), 0600u);
  // The keys are not in the archive in clear.
  EXPECT_EQ(Slurp(f.archive).find("secret-sign-key"), std::string::npos);

  std::string target = f.tmp / "restored";
  RestoreOptions ro;
  ro.passphrase = "correct horse battery";
  auto r = RestoreBackup(f.archive, target, ro);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Slurp(target + "/sign.key"), "secret-sign-key\n");
  EXPECT_EQ(ModeOf(target + "/sign.key"), 0600u);
  EXPECT_EQ(Slurp(target + "/api.token"), Slurp(f.data + "/api.token"));
  auto d = DataDir::OpenOrCreate(target, "agent");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  for (int i : {0, 17, 499}) {
    auto v = d->store->Get(Cf::kMeta, "k" + std::to_string(i));
    ASSERT_TRUE(v.ok() && v->has_value()) << i;
    EXPECT_EQ(**v, std::string(100, 'a' + i % 26));
  }
  // A restored agent is marked until it has caught up with its broker.
  auto marked = IsRestored(*d->store);
  ASSERT_TRUE(marked.ok());
  EXPECT_TRUE(*marked);
}

TEST(Backup, WithoutKeysHoldsNoKeyFile) {
  Fixture f;
  auto b = f.Backup(/*keys=*/false);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_FALSE(b->keys);
  std::string bytes = Slurp(f.archive);
  EXPECT_EQ(bytes.find("secret-sign-key"), std::string::npos);
  EXPECT_EQ(bytes.find(Slurp(f.data + "/api.token")), std::string::npos);
  std::string target = f.tmp / "restored";
  auto r = RestoreBackup(f.archive, target, RestoreOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(fs::exists(target + "/sign.key"));
}

TEST(Backup, RestoredBrokerGetsANewLogEpoch) {
  Fixture f("broker", 10);
  uint64_t before = 0;
  {
    auto s = Store::Open(f.data + "/db", StoreOptions{});
    ASSERT_TRUE(s.ok());
    auto e = LogEpoch(**s);
    ASSERT_TRUE(e.ok());
    before = *e;
  }
  ASSERT_TRUE(f.Backup(false).ok());
  std::string target = f.tmp / "restored";
  ASSERT_TRUE(RestoreBackup(f.archive, target, RestoreOptions{}).ok());
  auto d = DataDir::OpenOrCreate(target, "broker");
  ASSERT_TRUE(d.ok());
  auto after = LogEpoch(*d->store);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, before);
  EXPECT_NE(*after, 0u);
}

TEST(Backup, EveryFlippedByteIsRefusedAndNothingIsWritten) {
  Fixture f("agent", 20);
  ASSERT_TRUE(f.Backup(true).ok());
  std::string good = Slurp(f.archive);
  // A byte in the magic, the header, the keys, a file, and the end hash.
  for (size_t at : {size_t{3}, size_t{20}, size_t{80}, good.size() / 2, good.size() - 5}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x40);
    std::string file = f.tmp / ("bad-" + std::to_string(at));
    Spit(file, bad);
    std::string target = f.tmp / ("into-" + std::to_string(at));
    RestoreOptions ro;
    ro.passphrase = "correct horse battery";
    auto r = RestoreBackup(file, target, ro);
    ASSERT_FALSE(r.ok()) << "byte " << at;
    EXPECT_TRUE(r.status().code() == Code::kCorruption ||
                r.status().code() == Code::kInvalidArgument)
        << r.status().ToString();
    EXPECT_FALSE(fs::exists(target)) << "byte " << at;
  }
  // Nothing but the archives and the source is left in the parent (no temp directory).
  for (const auto& e : fs::directory_iterator(f.tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".restore-"), std::string::npos);
  }
}

TEST(Backup, ATruncatedArchiveIsRefusedAsTruncated) {
  Fixture f("agent", 20);
  ASSERT_TRUE(f.Backup(false).ok());
  std::string good = Slurp(f.archive);
  for (size_t keep : {size_t{0}, size_t{10}, good.size() / 3, good.size() - 1}) {
    std::string file = f.tmp / ("cut-" + std::to_string(keep));
    Spit(file, good.substr(0, keep));
    std::string target = f.tmp / ("into-" + std::to_string(keep));
    auto r = RestoreBackup(file, target, RestoreOptions{});
    ASSERT_FALSE(r.ok()) << keep;
    if (keep > 12) {
      EXPECT_TRUE(Says(r.status(), "truncated")) << r.status().ToString();
    }
    EXPECT_FALSE(fs::exists(target));
  }
}

TEST(Backup, AWrongPassphraseIsRefusedAndNothingIsWritten) {
  Fixture f("agent", 20);
  ASSERT_TRUE(f.Backup(true).ok());
  std::string target = f.tmp / "restored";
  RestoreOptions ro;
  ro.passphrase = "wrong horse battery";
  auto r = RestoreBackup(f.archive, target, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_TRUE(Says(r.status(), "wrong passphrase")) << r.status().ToString();
  EXPECT_FALSE(fs::exists(target));
  // No passphrase at all: asked for, not guessed.
  auto none = RestoreBackup(f.archive, target, RestoreOptions{});
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(Says(none.status(), "passphrase")) << none.status().ToString();
  // Restoring the data only is allowed.
  RestoreOptions data_only;
  data_only.skip_keys = true;
  auto d = RestoreBackup(f.archive, target, data_only);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(fs::exists(target + "/sign.key"));
}

TEST(Backup, RestoreRefusesANonEmptyTarget) {
  Fixture f("agent", 5);
  ASSERT_TRUE(f.Backup(false).ok());
  std::string target = f.tmp / "busy";
  fs::create_directory(target);
  Spit(target + "/mine.txt", "keep me");
  auto r = RestoreBackup(f.archive, target, RestoreOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Says(r.status(), "not empty")) << r.status().ToString();
  EXPECT_EQ(Slurp(target + "/mine.txt"), "keep me");
  EXPECT_EQ(fs::directory_iterator(target)->path().filename(), "mine.txt");
  // An empty existing directory is fine.
  std::string empty = f.tmp / "empty";
  fs::create_directory(empty);
  EXPECT_TRUE(RestoreBackup(f.archive, empty, RestoreOptions{}).ok());
}

TEST(Backup, RestoreChecksTheDataDirectoryFormat) {
  Fixture f("agent", 5);
  // A FORMAT from a newer build: the archive is intact, the data directory is not readable.
  Spit(f.data + "/FORMAT", "switchboard data directory\nformat 99\nrole agent\n");
  ASSERT_TRUE(f.Backup(false).ok());
  std::string target = f.tmp / "restored";
  auto r = RestoreBackup(f.archive, target, RestoreOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Says(r.status(), "newer")) << r.status().ToString();
  EXPECT_FALSE(fs::exists(target));
}

TEST(Backup, NeverOverwritesAnArchive) {
  Fixture f("agent", 5);
  Spit(f.archive, "precious");
  auto b = f.Backup(false);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(Slurp(f.archive), "precious");
}

TEST(Backup, NotABackupIsSaidSo) {
  TempDir tmp;
  Spit(tmp / "x", "hello world, not a backup at all");
  auto r = VerifyBackup(tmp / "x");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Says(r.status(), "not a switchboard backup")) << r.status().ToString();
}

}  // namespace
}  // namespace sb

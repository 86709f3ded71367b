#include "store/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/agent_process.h"

namespace sb {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

mode_t ModeOf(const std::string& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 0777;
}

void WriteText(const std::string& file, const std::string& text) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

bool Contains(const Status& s, const std::string& needle) {
  return s.message().find(needle) != std::string::npos;
}

TEST(DataDir, CreatesFormatReplicaAndAPrivateToken) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_NE(d->replica, 0u);
  EXPECT_GE(d->token.size(), 32u);
  EXPECT_EQ(ModeOf(d->TokenPath()), 0600u);
  EXPECT_TRUE(fs::exists(dir + "/FORMAT"));
  EXPECT_TRUE(fs::exists(dir + "/db/CURRENT"));
  EXPECT_EQ(d->RuntimePath(), dir + "/agent.json");
}

TEST(DataDir, ReopenKeepsReplicaIdAndToken) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  ReplicaId replica;
  std::string token;
  {
    auto d = DataDir::OpenOrCreate(dir, "agent");
    ASSERT_TRUE(d.ok());
    replica = d->replica;
    token = d->token;
  }
  auto again = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->replica, replica);
  EXPECT_EQ(again->token, token);
}

TEST(DataDir, AnEmptyExistingDirectoryIsAdopted) {
  TempDir tmp;
  auto d = DataDir::OpenOrCreate(tmp.path(), "agent");
  EXPECT_TRUE(d.ok()) << d.status().ToString();
}

TEST(DataDir, TokenReadableByOthersIsRefusedNamingChmod600) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  { ASSERT_TRUE(DataDir::OpenOrCreate(dir, "agent").ok()); }
  ASSERT_EQ(::chmod((dir + "/api.token").c_str(), 0644), 0);
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kPermissionDenied) << d.status().ToString();
  EXPECT_TRUE(Contains(d.status(), "chmod 600")) << d.status().message();
  EXPECT_TRUE(Contains(d.status(), "644")) << d.status().message();
}

TEST(DataDir, ForeignDirectoryIsRefusedAndLeftUntouched) {
  TempDir tmp;
  std::string dir = tmp / "photos";
  fs::create_directories(dir);
  WriteText(dir + "/holiday.jpg", "not ours");
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kFailedPrecondition) << d.status().ToString();
  EXPECT_TRUE(Contains(d.status(), "holiday.jpg")) << d.status().message();
  EXPECT_FALSE(fs::exists(dir + "/db"));
  EXPECT_FALSE(fs::exists(dir + "/api.token"));
  EXPECT_FALSE(fs::exists(dir + "/FORMAT"));
}

TEST(DataDir, PathThatIsAFileIsRefused) {
  TempDir tmp;
  WriteText(tmp / "file", "x");
  auto d = DataDir::OpenOrCreate(tmp / "file", "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kFailedPrecondition);
}

TEST(DataDir, NewerFormatIsRefusedAsNewer) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  { ASSERT_TRUE(DataDir::OpenOrCreate(dir, "agent").ok()); }
  WriteText(dir + "/FORMAT", "switchboard data directory\nformat 3\nrole agent\n");
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kFailedPrecondition) << d.status().ToString();
  EXPECT_TRUE(Contains(d.status(), "newer")) << d.status().message();
  EXPECT_TRUE(Contains(d.status(), "format 3")) << d.status().message();
}

// Format 1 (before the whole HSDS 3.0 model) is upgraded on open: its records are valid as they
// are, and FORMAT then says 2, so that a format-1 build refuses the directory rather than
// misreading kinds and values it does not know.
TEST(DataDir, FormatOneIsUpgradedOnOpenKeepingItsData) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  ReplicaId replica = 0;
  {
    auto d = DataDir::OpenOrCreate(dir, "agent");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    replica = d->replica;
    WriteBatch b;
    b.Put(Cf::kMeta, "kept", "yes");
    ASSERT_TRUE(d->store->Commit(std::move(b)).ok());
  }
  WriteText(dir + "/FORMAT", "switchboard data directory\nformat 1\nrole agent\n");
  {
    auto d = DataDir::OpenOrCreate(dir, "agent");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->replica, replica);
    auto kept = d->store->Get(Cf::kMeta, "kept");
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(kept->value_or(""), "yes");
  }
  std::ifstream in(dir + "/FORMAT");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "switchboard data directory\nformat " + std::to_string(kDataDirFormat) +
                      "\nrole agent\n");
  EXPECT_EQ(kDataDirFormat, 2);
}

TEST(DataDir, GarbageFormatFileIsCorruption) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  { ASSERT_TRUE(DataDir::OpenOrCreate(dir, "agent").ok()); }
  for (const char* garbage : {"", "\x01\x02\x03", "switchboard data directory\nformat x\n",
                              "switchboard data directory\nformat 1\n"}) {
    WriteText(dir + "/FORMAT", garbage);
    auto d = DataDir::OpenOrCreate(dir, "agent");
    ASSERT_FALSE(d.ok()) << "FORMAT: " << garbage;
    EXPECT_EQ(d.status().code(), Code::kCorruption) << d.status().ToString();
  }
}

TEST(DataDir, BrokerDirectoryOpenedAsAgentIsRefused) {
  TempDir tmp;
  std::string dir = tmp / "broker";
  { ASSERT_TRUE(DataDir::OpenOrCreate(dir, "broker").ok()); }
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kFailedPrecondition) << d.status().ToString();
  EXPECT_TRUE(Contains(d.status(), "broker")) << d.status().message();
}

TEST(DataDir, MissingDatabaseUnderAFormatFileIsCorruption) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  { ASSERT_TRUE(DataDir::OpenOrCreate(dir, "agent").ok()); }
  fs::remove_all(dir + "/db");
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kCorruption) << d.status().ToString();
}

TEST(DataDir, ShortTokenIsCorruption) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  { ASSERT_TRUE(DataDir::OpenOrCreate(dir, "agent").ok()); }
  ASSERT_TRUE(WriteSecretFile(dir + "/api.token", "short\n").ok());
  auto d = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kCorruption) << d.status().ToString();
}

TEST(DataDir, SecondOpenWhileTheFirstIsOpenIsRefused) {
  TempDir tmp;
  std::string dir = tmp / "agent";
  auto first = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_TRUE(first.ok());
  auto second = DataDir::OpenOrCreate(dir, "agent");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition) << second.status().ToString();
}

TEST(SecretFile, IsWrittenWithMode0600WhateverTheUmask) {
  TempDir tmp;
  mode_t old = ::umask(0);
  Status s = WriteSecretFile(tmp / "secret", "s3cret");
  ::umask(old);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(ModeOf(tmp / "secret"), 0600u);
  EXPECT_EQ(ReadSecretFile(tmp / "secret").value(), "s3cret");
}

TEST(SecretFile, GroupReadableSecretIsRefused) {
  TempDir tmp;
  ASSERT_TRUE(WriteSecretFile(tmp / "secret", "s3cret").ok());
  ASSERT_EQ(::chmod((tmp / "secret").c_str(), 0640), 0);
  auto r = ReadSecretFile(tmp / "secret");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
}

TEST(RandomIds, AreNonZeroAndDistinct) {
  EXPECT_NE(RandomReplicaId(), 0u);
  EXPECT_NE(RandomReplicaId(), RandomReplicaId());
  EXPECT_NE(RandomToken(), RandomToken());
  EXPECT_EQ(RandomToken().size(), 64u);
}

}  // namespace
}  // namespace sb

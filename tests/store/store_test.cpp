#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "tests/integration/agent_process.h"

namespace sb {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr char kId[] = "11111111-1111-4111-8111-111111111111";
constexpr ReplicaId kAlice = 0xa1, kBob = 0xb0;

std::unique_ptr<Store> OpenStore(const std::string& path, bool create = true) {
  StoreOptions o;
  o.create_if_missing = create;
  auto s = Store::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

Record NameDelta(const Record& base, const std::string& name, ReplicaId who, uint64_t ms) {
  return base.WriteDelta("name", Value(name), who, Hlc::Make(ms, 0));
}

std::map<std::string, std::string> ScanAll(const Store& s, Cf cf, std::string_view prefix,
                                           std::string_view start = "") {
  std::map<std::string, std::string> out;
  Status st = s.Scan(cf, prefix, start, [&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

void WriteBytes(const fs::path& file, std::streamoff at, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << file;
  f.seekp(at);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<fs::path> FilesNamed(const std::string& dir, const std::string& needle) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(needle) != std::string::npos) out.push_back(e.path());
  }
  return out;
}

TEST(Store, OpenCreatesEveryColumnFamilyAndRecordsTheFormatVersion) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  for (int i = 0; i < kCfCount; ++i) {
    Cf cf = static_cast<Cf>(i);
    WriteBatch b;
    b.Put(cf, "k", CfName(cf));
    ASSERT_TRUE(store->Commit(std::move(b)).ok()) << CfName(cf);
  }
  store.reset();
  store = OpenStore(tmp / "db", /*create=*/false);
  ASSERT_TRUE(store);
  for (int i = 0; i < kCfCount; ++i) {
    Cf cf = static_cast<Cf>(i);
    auto v = store->Get(cf, "k");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->value_or(""), CfName(cf));
  }
  auto version = store->Get(Cf::kMeta, "format_version");
  ASSERT_TRUE(version.ok() && version->has_value());
  EXPECT_EQ(DecodeSeq(**version), Store::kFormatVersion);
}

TEST(Store, OpenWithoutCreateRefusesAMissingDatabase) {
  TempDir tmp;
  auto s = Store::Open(tmp / "nothing-here", StoreOptions{});
  EXPECT_FALSE(s.ok());
}

TEST(Store, SeqEncodingSortsNumerically) {
  EXPECT_LT(EncodeSeq(255), EncodeSeq(256));
  EXPECT_LT(EncodeSeq(1), EncodeSeq(uint64_t{1} << 40));
  EXPECT_EQ(DecodeSeq(EncodeSeq(0x0102030405060708)), 0x0102030405060708u);
  EXPECT_EQ(DecodeSeq("short"), 0u);
}

TEST(Store, CommitOfMergeAndPutIsWholeAfterReopen) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
    WriteBatch b;
    b.MergeRecord(NameDelta(Record(kId, "organization"), "Casa Segura", kAlice, 1000));
    b.Put(Cf::kHistory, "h1", "entry");
    b.Put(Cf::kOutbox, EncodeSeq(1), "delta");
    EXPECT_EQ(b.count(), 3u);
    EXPECT_GT(b.bytes(), 0u);
    ASSERT_TRUE(store->Commit(std::move(b)).ok());
  }
  auto store = OpenStore(tmp / "db", false);
  ASSERT_TRUE(store);
  auto r = store->GetRecord(kId);
  ASSERT_TRUE(r.ok() && r->has_value()) << r.status().ToString();
  EXPECT_EQ((*r)->Displayed("name"), Value(std::string("Casa Segura")));
  EXPECT_EQ(store->Get(Cf::kHistory, "h1")->value_or(""), "entry");
  EXPECT_EQ(store->Get(Cf::kOutbox, EncodeSeq(1))->value_or(""), "delta");
}

TEST(Store, DeleteRemovesAKey) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  WriteBatch put;
  put.Put(Cf::kMeta, "gone", "x");
  ASSERT_TRUE(store->Commit(std::move(put)).ok());
  WriteBatch del;
  del.Delete(Cf::kMeta, "gone");
  ASSERT_TRUE(store->Commit(std::move(del)).ok());
  EXPECT_FALSE(store->Get(Cf::kMeta, "gone")->has_value());
}

TEST(Store, ConcurrentDeltasOnOneRecordStayAsSiblingsAfterReopen) {
  TempDir tmp;
  Record base(kId, "organization");
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
    WriteBatch a, b;
    a.MergeRecord(NameDelta(base, "Alice's name", kAlice, 1000));
    b.MergeRecord(NameDelta(base, "Bob's name", kBob, 1001));
    ASSERT_TRUE(store->Commit(std::move(a)).ok());
    ASSERT_TRUE(store->Commit(std::move(b)).ok());
  }
  auto store = OpenStore(tmp / "db", false);
  ASSERT_TRUE(store);
  auto r = store->GetRecord(kId);
  ASSERT_TRUE(r.ok() && r->has_value());
  const MvRegister* name = (*r)->Register("name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->size(), 2u);
  EXPECT_EQ((*r)->Displayed("name"), Value(std::string("Bob's name")));
}

TEST(Store, MergingTheSameDeltaTwiceIsIdempotent) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  Record delta = NameDelta(Record(kId, "organization"), "Once", kAlice, 1000);
  WriteBatch first;
  first.MergeRecord(delta);
  ASSERT_TRUE(store->Commit(std::move(first)).ok());
  Record after_one = **store->GetRecord(kId);
  WriteBatch again;
  again.MergeRecord(delta);
  again.MergeRecord(delta);
  ASSERT_TRUE(store->Commit(std::move(again)).ok());
  ASSERT_TRUE(store->CompactAll().ok());
  EXPECT_EQ(**store->GetRecord(kId), after_one);
  EXPECT_EQ(after_one.Register("name")->size(), 1u);
}

TEST(Store, LaterDeltaSupersedesTheValueItSaw) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  Record state(kId, "organization");
  Record first = NameDelta(state, "Old", kAlice, 1000);
  state.Join(first);
  Record second = NameDelta(state, "New", kAlice, 1001);
  WriteBatch b1, b2;
  b1.MergeRecord(first);
  b2.MergeRecord(second);
  ASSERT_TRUE(store->Commit(std::move(b1)).ok());
  ASSERT_TRUE(store->Commit(std::move(b2)).ok());
  auto r = store->GetRecord(kId);
  EXPECT_EQ((*r)->Register("name")->size(), 1u);
  EXPECT_EQ((*r)->Displayed("name"), Value(std::string("New")));
}

TEST(Store, ScanVisitsOnlyThePrefixFromTheStartKeyInOrder) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  WriteBatch b;
  for (const char* k : {"a/1", "a/2", "a/3", "b/1", "a", "aa"}) b.Put(Cf::kHistory, k, k);
  ASSERT_TRUE(store->Commit(std::move(b)).ok());

  auto all_a = ScanAll(*store, Cf::kHistory, "a/");
  EXPECT_EQ(all_a,
            (std::map<std::string, std::string>{{"a/1", "a/1"}, {"a/2", "a/2"}, {"a/3", "a/3"}}));
  auto from_2 = ScanAll(*store, Cf::kHistory, "a/", "a/2");
  EXPECT_EQ(from_2.size(), 2u);
  EXPECT_EQ(from_2.begin()->first, "a/2");
  EXPECT_EQ(ScanAll(*store, Cf::kHistory, "").size(), 6u);
  EXPECT_TRUE(ScanAll(*store, Cf::kHistory, "zz").empty());

  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->Scan(Cf::kHistory, "a/", "",
                         [&](std::string_view k, std::string_view) {
                           seen.emplace_back(k);
                           return seen.size() < 2;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a/1", "a/2"}));
}

TEST(Store, ForEachRecordVisitsEveryRecordInIdOrder) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  std::vector<std::string> ids = {"33333333-1111-4111-8111-111111111111",
                                  "11111111-1111-4111-8111-111111111111",
                                  "22222222-1111-4111-8111-111111111111"};
  WriteBatch b;
  for (const auto& id : ids) b.MergeRecord(NameDelta(Record(id, "organization"), id, kAlice, 1000));
  ASSERT_TRUE(store->Commit(std::move(b)).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->ForEachRecord([&](const Record& r) {
                    seen.push_back(r.id());
                    EXPECT_EQ(r.Displayed("name"), Value(r.id()));
                    return true;
                  })
                  .ok());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(seen, ids);
}

TEST(Store, ReopenAfterCloseKeepsEveryColumnFamilyAndRecord) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
    for (int i = 0; i < 200; ++i) {
      WriteBatch b;
      char id[40];
      std::snprintf(id, sizeof id, "%08d-1111-4111-8111-111111111111", i);
      b.MergeRecord(
          NameDelta(Record(id, "organization"), "org " + std::to_string(i), kAlice, 1000 + i));
      b.Put(Cf::kOutbox, EncodeSeq(i + 1), "d");
      ASSERT_TRUE(store->Commit(std::move(b)).ok());
    }
    ASSERT_TRUE(store->CompactAll().ok());
  }
  auto store = OpenStore(tmp / "db", false);
  ASSERT_TRUE(store);
  size_t records = 0;
  ASSERT_TRUE(store->ForEachRecord([&](const Record&) { return ++records, true; }).ok());
  EXPECT_EQ(records, 200u);
  EXPECT_EQ(ScanAll(*store, Cf::kOutbox, "").size(), 200u);
}

TEST(Store, RefusesAStoreWrittenByANewerFormat) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
    WriteBatch b;
    b.Put(Cf::kMeta, "format_version", EncodeSeq(Store::kFormatVersion + 1));
    ASSERT_TRUE(store->Commit(std::move(b)).ok());
  }
  auto s = Store::Open(tmp / "db", StoreOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kFailedPrecondition) << s.status().ToString();
  EXPECT_NE(s.status().message().find("format version 2"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("upgrade"), std::string::npos) << s.status().message();
}

TEST(Store, SecondOpenOfTheSameDatabaseIsRefusedWhileTheFirstHoldsIt) {
  TempDir tmp;
  auto first = OpenStore(tmp / "db");
  ASSERT_TRUE(first);
  auto second = Store::Open(tmp / "db", StoreOptions{});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition) << second.status().ToString();
}

TEST(Store, TruncatedCurrentFileGivesAnErrorNotACrash) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
  }
  fs::resize_file(tmp / "db/CURRENT", 0);
  auto s = Store::Open(tmp / "db", StoreOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorruption) << s.status().ToString();
}

TEST(Store, GarbageInTheManifestGivesAnErrorNotACrash) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
    WriteBatch b;
    b.MergeRecord(NameDelta(Record(kId, "organization"), "x", kAlice, 1000));
    ASSERT_TRUE(store->Commit(std::move(b)).ok());
    ASSERT_TRUE(store->CompactAll().ok());
  }
  auto manifests = FilesNamed(tmp / "db", "MANIFEST-");
  ASSERT_FALSE(manifests.empty());
  for (const auto& m : manifests) {
    size_t size = fs::file_size(m);
    WriteBytes(m, 0, std::string(std::min<size_t>(size, 4096), '\x5a'));
  }
  auto s = Store::Open(tmp / "db", StoreOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorruption) << s.status().ToString();
}

TEST(Store, DamagedTableFileIsReportedAsCorruptionOnOpenOrRead) {
  TempDir tmp;
  {
    auto store = OpenStore(tmp / "db");
    ASSERT_TRUE(store);
    WriteBatch b;
    for (int i = 0; i < 50; ++i) {
      char id[40];
      std::snprintf(id, sizeof id, "%08d-1111-4111-8111-111111111111", i);
      b.MergeRecord(NameDelta(Record(id, "organization"), std::string(200, 'n'), kAlice, 1000));
    }
    ASSERT_TRUE(store->Commit(std::move(b)).ok());
    ASSERT_TRUE(store->CompactAll().ok());
  }
  auto tables = FilesNamed(tmp / "db", ".sst");
  ASSERT_FALSE(tables.empty());
  for (const auto& t : tables) WriteBytes(t, 0, std::string(512, '\x5a'));  // the first block

  auto s = Store::Open(tmp / "db", StoreOptions{});
  if (!s.ok()) {
    EXPECT_EQ(s.status().code(), Code::kCorruption) << s.status().ToString();
    return;
  }
  Status read = (*s)->ForEachRecord([](const Record&) { return true; });
  EXPECT_EQ(read.code(), Code::kCorruption) << read.ToString();
}

TEST(Store, UndecodableRecordValueIsCorruptionNamingTheRecord) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  WriteBatch b;
  b.Put(Cf::kRecords, kId, "not an encoded record");
  ASSERT_TRUE(store->Commit(std::move(b)).ok());
  auto r = store->GetRecord(kId);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  Status all = store->ForEachRecord([](const Record&) { return true; });
  EXPECT_EQ(all.code(), Code::kCorruption);
  EXPECT_NE(all.message().find(kId), std::string::npos) << all.message();
}

TEST(Store, MergeOntoAnUndecodableValueIsCorruptionNotSilentLoss) {
  TempDir tmp;
  auto store = OpenStore(tmp / "db");
  ASSERT_TRUE(store);
  WriteBatch b;
  b.Put(Cf::kRecords, kId, "garbage");
  b.MergeRecord(NameDelta(Record(kId, "organization"), "x", kAlice, 1000));
  ASSERT_TRUE(store->Commit(std::move(b)).ok());
  auto r = store->GetRecord(kId);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
}

}  // namespace
}  // namespace sb

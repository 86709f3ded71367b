#include "store/audit.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/agent_process.h"

namespace sb {
namespace {

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    store_.reset();
    StoreOptions o;
    o.create_if_missing = true;
    auto s = Store::Open(tmp_.path(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    log_ = std::make_unique<AuditLog>(store_.get());
    ASSERT_TRUE(log_->Load().ok());
  }
  void Append(int n) {
    for (int i = 0; i < n; ++i) {
      WriteBatch b;
      log_->Append(&b, 1000 + i, "org-" + std::to_string(i % 3), "referral.accept",
                   "ref-" + std::to_string(i));
      ASSERT_TRUE(store_->Commit(std::move(b)).ok());
    }
  }
  AuditCheck Check() {
    auto c = AuditLog::Verify(*store_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }
  void Rewrite(uint64_t seq, const std::function<void(nlohmann::json&)>& change) {
    auto v = store_->Get(Cf::kAudit, EncodeSeq(seq));
    ASSERT_TRUE(v.ok() && *v);
    nlohmann::json j = nlohmann::json::parse(**v);
    change(j);
    WriteBatch b;
    b.Put(Cf::kAudit, EncodeSeq(seq), j.dump());
    ASSERT_TRUE(store_->Commit(std::move(b)).ok());
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditTest, AnEmptyLogVerifies) {
  AuditCheck c = Check();
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.entries, 0u);
}

TEST_F(AuditTest, EntriesChainAndSurviveARestart) {
  Append(5);
  Open();  // the head comes back from the store
  Append(3);
  AuditCheck c = Check();
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 8u);
  auto tail = log_->Tail(3);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ(tail->back().seq, 8u);
  EXPECT_EQ((*tail)[1].hash, tail->back().prev);
}

TEST_F(AuditTest, AChangedEntryIsNamed) {
  Append(6);
  Rewrite(4, [](nlohmann::json& j) { j["action"] = "referral.decline"; });
  AuditCheck c = Check();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad, 4u);
  EXPECT_EQ(c.entries, 3u);
}

TEST_F(AuditTest, ARehashedEntryBreaksTheNextLink) {
  Append(6);
  Rewrite(2, [](nlohmann::json& j) {
    j["actor"] = "someone-else";
    AuditEntry e{j["seq"], j["at_ms"], j["actor"], j["action"], j["subject"], j["prev"], ""};
    j["hash"] = AuditLog::Hash(e.prev, e);
  });
  AuditCheck c = Check();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad, 3u);
}

TEST_F(AuditTest, ARemovedEntryIsNoticed) {
  Append(6);
  WriteBatch b;
  b.Delete(Cf::kAudit, EncodeSeq(3));
  ASSERT_TRUE(store_->Commit(std::move(b)).ok());
  AuditCheck c = Check();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad, 3u);
  EXPECT_NE(c.problem.find("missing"), std::string::npos);
}

TEST_F(AuditTest, ATruncatedTailIsNoticed) {
  Append(4);
  WriteBatch b;
  b.Delete(Cf::kAudit, EncodeSeq(4));
  ASSERT_TRUE(store_->Commit(std::move(b)).ok());
  AuditCheck c = Check();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad, 4u);
}

TEST_F(AuditTest, GarbageIsAnErrorNotACrash) {
  Append(2);
  WriteBatch b;
  b.Put(Cf::kAudit, EncodeSeq(2), "{not json");
  ASSERT_TRUE(store_->Commit(std::move(b)).ok());
  AuditCheck c = Check();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad, 2u);
}

}  // namespace
}  // namespace sb

// Maintainers as people over a real RocksDB store: credentials are checked (and only their
// hashes kept), names are unique, removal ends them, everything survives a restart and is in
// the audit chain.
#include "broker/maintainers.h"

#include <gtest/gtest.h>

#include <memory>

#include "testing/temp_dir.h"

namespace sb {
namespace {

class MaintainersTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    audit_.reset();
    book_.reset();
    store_.reset();
    StoreOptions o;
    o.create_if_missing = true;
    auto s = Store::Open(tmp_.path(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    book_ = std::make_unique<Maintainers>(store_.get());
    ASSERT_TRUE(book_->Load().ok());
    audit_ = std::make_unique<AuditLog>(store_.get());
    ASSERT_TRUE(audit_->Load().ok());
  }

  // Every value the store holds in the roster column family, concatenated.
  std::string StoredBytes() {
    std::string all;
    EXPECT_TRUE(store_
                    ->Scan(Cf::kRoster, "", "",
                           [&](std::string_view k, std::string_view v) {
                             all.append(k).append(v);
                             return true;
                           })
                    .ok());
    return all;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Maintainers> book_;
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(MaintainersTest, CredentialsAreCheckedAndOnlyTheirHashesKept) {
  Result<MaintainerCredentials> made = book_->Add("alice", "", 1000, audit_.get(), "hq");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_GE(made->password.size(), Maintainers::kMinPasswordChars);
  EXPECT_EQ(made->token.rfind("sbm_", 0), 0u);
  Result<MaintainerCredentials> own =
      book_->Add("bob", "bob-long-passphrase", 1000, audit_.get(), "hq");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->password, "bob-long-passphrase");

  EXPECT_EQ(*book_->CheckPassword("alice", made->password), true);
  EXPECT_EQ(*book_->CheckPassword("alice", "bob-long-passphrase"), false);
  EXPECT_EQ(*book_->CheckPassword("nobody", made->password), false);
  EXPECT_EQ(book_->ByToken(made->token), std::optional<std::string>("alice"));
  EXPECT_EQ(book_->ByToken(own->token), std::optional<std::string>("bob"));
  std::string forged = made->token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(book_->ByToken(forged), std::nullopt);
  EXPECT_EQ(book_->ByToken(""), std::nullopt);

  // Neither the passwords nor the tokens are in the store; an Argon2id hash is.
  std::string stored = StoredBytes();
  for (const std::string& secret : {made->password, made->token, own->password, own->token}) {
    EXPECT_EQ(stored.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(stored.find("$argon2id$"), std::string::npos);

  // Restarted: the same answers.
  std::string alice_token = made->token, alice_password = made->password;
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(book_->ByToken(alice_token), std::optional<std::string>("alice"));
  EXPECT_EQ(*book_->CheckPassword("alice", alice_password), true);
  EXPECT_EQ(book_->List().size(), 2u);
}

TEST_F(MaintainersTest, NamesAreUniqueAndRemovalEndsTheirCredentials) {
  Result<MaintainerCredentials> a = book_->Add("alice", "", 1000, audit_.get(), "hq");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(book_->Add("alice", "", 1001, audit_.get(), "hq").status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(book_->Add("Alice!", "", 1001, audit_.get(), "hq").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(book_->Add("carol", "short", 1001, audit_.get(), "hq").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(book_->Add("", "", 1001, audit_.get(), "hq").status().code(), Code::kInvalidArgument);

  uint64_t removals = book_->removals();
  ASSERT_TRUE(book_->Remove("alice", 2000, audit_.get(), "hq").ok());
  EXPECT_GT(book_->removals(), removals);
  EXPECT_FALSE(book_->Active("alice"));
  EXPECT_EQ(book_->ByToken(a->token), std::nullopt);
  EXPECT_EQ(*book_->CheckPassword("alice", a->password), false);
  EXPECT_EQ(book_->Remove("alice", 2001, audit_.get(), "hq").code(), Code::kNotFound);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_FALSE(book_->Active("alice"));
  EXPECT_EQ(book_->ByToken(a->token), std::nullopt);

  // Added and removed, by whom, in the audit chain.
  auto tail = audit_->Tail(10);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].action, "maintainer.add");
  EXPECT_EQ((*tail)[1].action, "maintainer.remove");
  EXPECT_EQ((*tail)[1].actor, "hq");
  EXPECT_EQ((*tail)[1].subject, "alice");
  EXPECT_EQ(MaintainerActor("hq", "alice"), "hq/alice");
  EXPECT_EQ(MaintainerActor("hq", ""), "hq");
}

}  // namespace
}  // namespace sb

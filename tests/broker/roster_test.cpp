// The roster's enrollment ceremony over a real RocksDB store: enroll, rekey, revoke and
// reinstate refuse what would take an organization over, persist, and are audited; and the
// fingerprints people compare over the phone.
#include "broker/roster.h"

#include <gtest/gtest.h>

#include <regex>

#include "testing/temp_dir.h"
#include "transport/sealed.h"

namespace sb {
namespace {

const std::string kOrgA = "11111111-1111-4111-8111-111111111111";
const std::string kOrgB = "22222222-2222-4222-8222-222222222222";

PublicIdentity Keys(const std::string& org) {
  Result<Identity> id = Identity::Generate(org);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id->pub;
}

class RosterTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    audit_.reset();
    roster_.reset();
    store_.reset();
    StoreOptions o;
    o.create_if_missing = true;
    auto s = Store::Open(tmp_.path(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    roster_ = std::make_unique<Roster>(store_.get());
    ASSERT_TRUE(roster_->Load().ok());
    audit_ = std::make_unique<AuditLog>(store_.get());
    ASSERT_TRUE(audit_->Load().ok());
  }

  // The audit chain's actions, oldest first, after checking it verifies.
  std::vector<std::string> Actions() {
    auto check = AuditLog::Verify(*store_);
    EXPECT_TRUE(check.ok() && check->ok);
    auto tail = audit_->Tail(100);
    EXPECT_TRUE(tail.ok());
    std::vector<std::string> out;
    for (const AuditEntry& e : *tail) out.push_back(e.action + " " + e.subject);
    return out;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Roster> roster_;
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(RosterTest, EnrollRefusesAnOrganizationAlreadyEnrolledOrRevoked) {
  PublicIdentity a = Keys(kOrgA);
  ASSERT_TRUE(roster_->Enroll(a, Role::kPartner, 1000, audit_.get()).ok());
  // A newcomer with its own keys and A's id: refused, and nothing changes.
  PublicIdentity newcomer = Keys(kOrgA);
  Status st = roster_->Enroll(newcomer, Role::kMaintainer, 2000, audit_.get());
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.ToString();
  EXPECT_NE(st.message().find("enroll rekey"), std::string::npos) << st.message();
  EXPECT_EQ(roster_->Find(kOrgA)->identity, a);
  EXPECT_EQ(roster_->Find(kOrgA)->role, Role::kPartner);
  EXPECT_EQ(roster_->AuthorizeCurve(newcomer.curve_public), std::nullopt);
  EXPECT_EQ(roster_->AuthorizeCurve(a.curve_public), kOrgA);
  // Revoked: `enroll add` does not bring it back either.
  ASSERT_TRUE(roster_->Revoke(kOrgA, 3000, audit_.get()).ok());
  st = roster_->Enroll(a, Role::kPartner, 4000, audit_.get());
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.ToString();
  EXPECT_NE(st.message().find("reinstate"), std::string::npos) << st.message();
  EXPECT_TRUE(roster_->Find(kOrgA)->revoked);
  EXPECT_EQ(roster_->AuthorizeCurve(a.curve_public), std::nullopt);
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{"roster.enroll " + kOrgA, "roster.revoke " + kOrgA}));
}

TEST_F(RosterTest, KeysAnotherOrganizationHoldsAreRefused) {
  PublicIdentity a = Keys(kOrgA);
  ASSERT_TRUE(roster_->Enroll(a, Role::kPartner, 1000).ok());
  PublicIdentity b = Keys(kOrgB);
  for (auto take :
       {&PublicIdentity::curve_public, &PublicIdentity::sign_public, &PublicIdentity::box_public}) {
    PublicIdentity copy = b;
    copy.*take = a.*take;
    EXPECT_EQ(roster_->Enroll(copy, Role::kPartner, 2000).code(), Code::kAlreadyExists);
  }
  EXPECT_FALSE(roster_->Find(kOrgB).has_value());
  ASSERT_TRUE(roster_->Enroll(b, Role::kPartner, 2000).ok());
  // Nor can A be rekeyed to B's keys.
  PublicIdentity stolen = b;
  stolen.org = kOrgA;
  EXPECT_EQ(roster_->Rekey(stolen, 3000).code(), Code::kAlreadyExists);
}

TEST_F(RosterTest, RekeyReplacesTheKeysKeepsTheOldSigningKeyAndPersists) {
  PublicIdentity a = Keys(kOrgA);
  ASSERT_TRUE(roster_->Enroll(a, Role::kPartner, 1000, audit_.get()).ok());
  uint64_t version = roster_->version();
  EXPECT_EQ(roster_->Rekey(a, 2000).code(), Code::kInvalidArgument);  // the same keys
  EXPECT_EQ(roster_->Rekey(Keys(kOrgB), 2000).code(), Code::kNotFound);
  PublicIdentity a2 = Keys(kOrgA);
  Member before;
  ASSERT_TRUE(roster_->Rekey(a2, 2000, &before, audit_.get()).ok());
  EXPECT_EQ(before.identity, a);
  EXPECT_GT(roster_->version(), version);
  Member now = *roster_->Find(kOrgA);
  EXPECT_EQ(now.identity, a2);
  EXPECT_EQ(now.key_epoch, 1u);
  EXPECT_EQ(now.retired_sign_keys, std::vector<std::string>{a.sign_public});
  EXPECT_EQ(now.enrolled_at_ms, 1000u);
  EXPECT_EQ(roster_->AuthorizeCurve(a.curve_public), std::nullopt);
  EXPECT_EQ(roster_->AuthorizeCurve(a2.curve_public), kOrgA);
  // Survives a restart.
  Reopen();
  now = *roster_->Find(kOrgA);
  EXPECT_EQ(now.identity, a2);
  EXPECT_EQ(now.key_epoch, 1u);
  EXPECT_EQ(now.retired_sign_keys, std::vector<std::string>{a.sign_public});
  EXPECT_EQ(roster_->AuthorizeCurve(a.curve_public), std::nullopt);
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{"roster.enroll " + kOrgA, "roster.rekey " + kOrgA}));
  // A revoked organization is reinstated first (with new keys, in one step).
  ASSERT_TRUE(roster_->Revoke(kOrgA, 3000).ok());
  EXPECT_EQ(roster_->Rekey(Keys(kOrgA), 4000).code(), Code::kFailedPrecondition);
  PublicIdentity a3 = Keys(kOrgA);
  ASSERT_TRUE(roster_->Reinstate(kOrgA, 5000, &a3, audit_.get()).ok());
  now = *roster_->Find(kOrgA);
  EXPECT_FALSE(now.revoked);
  EXPECT_EQ(now.identity, a3);
  EXPECT_EQ(now.key_epoch, 2u);
  EXPECT_EQ(now.retired_sign_keys, (std::vector<std::string>{a2.sign_public, a.sign_public}));
  EXPECT_EQ(roster_->AuthorizeCurve(a2.curve_public), std::nullopt);
  EXPECT_EQ(roster_->AuthorizeCurve(a3.curve_public), kOrgA);
  EXPECT_EQ(roster_->Reinstate(kOrgA, 6000).code(), Code::kFailedPrecondition);  // not revoked
}

TEST_F(RosterTest, ReinstateWithTheKeysItHad) {
  PublicIdentity a = Keys(kOrgA);
  ASSERT_TRUE(roster_->Enroll(a, Role::kMaintainer, 1000).ok());
  EXPECT_EQ(roster_->Reinstate(kOrgB, 2000).code(), Code::kNotFound);
  ASSERT_TRUE(roster_->Revoke(kOrgA, 2000).ok());
  EXPECT_EQ(roster_->Revoke(kOrgA, 2500).code(), Code::kFailedPrecondition);
  PublicIdentity other = Keys(kOrgB);
  EXPECT_EQ(roster_->Reinstate(kOrgA, 3000, &other).code(), Code::kInvalidArgument);
  ASSERT_TRUE(roster_->Reinstate(kOrgA, 3000).ok());
  Member m = *roster_->Find(kOrgA);
  EXPECT_EQ(m.identity, a);
  EXPECT_EQ(m.role, Role::kMaintainer);
  EXPECT_EQ(m.key_epoch, 0u);
  EXPECT_EQ(roster_->AuthorizeCurve(a.curve_public), kOrgA);
}

TEST_F(RosterTest, SetRoleKeepsTheKeysAndIsAudited) {
  PublicIdentity a = Keys(kOrgA);
  ASSERT_TRUE(roster_->Enroll(a, Role::kPartner, 1000, audit_.get()).ok());
  EXPECT_EQ(roster_->SetRole(kOrgA, Role::kPartner, 2000).code(), Code::kInvalidArgument);
  EXPECT_EQ(roster_->SetRole(kOrgB, Role::kMaintainer, 2000).code(), Code::kNotFound);
  uint64_t version = roster_->version();
  ASSERT_TRUE(roster_->SetRole(kOrgA, Role::kMaintainer, 2000, audit_.get()).ok());
  EXPECT_GT(roster_->version(), version);  // sessions learn it
  Reopen();
  EXPECT_EQ(roster_->Find(kOrgA)->role, Role::kMaintainer);
  EXPECT_EQ(roster_->Find(kOrgA)->identity, a);
  EXPECT_EQ(Actions(), (std::vector<std::string>{"roster.enroll " + kOrgA,
                                                 "roster.role.maintainer " + kOrgA}));
  ASSERT_TRUE(roster_->Revoke(kOrgA, 3000).ok());
  EXPECT_EQ(roster_->SetRole(kOrgA, Role::kPartner, 4000).code(), Code::kFailedPrecondition);
}

TEST(FingerprintTest, SixGroupsOfFiveDigitsThatChangeWithAnyKeyOrTheId) {
  PublicIdentity a = Keys(kOrgA);
  std::string f = Fingerprint(a);
  EXPECT_TRUE(std::regex_match(f, std::regex(R"((\d{5} ){5}\d{5})"))) << f;
  EXPECT_EQ(Fingerprint(a), f);  // stable
  PublicIdentity changed = a;
  changed.org = kOrgB;
  EXPECT_NE(Fingerprint(changed), f);
  for (auto field :
       {&PublicIdentity::curve_public, &PublicIdentity::sign_public, &PublicIdentity::box_public}) {
    changed = a;
    (changed.*field)[0] ^= 1;
    EXPECT_NE(Fingerprint(changed), f);
  }
}

// A pre-key is kept only with the organization's own signature and a higher id; it survives a
// reopen; a rekey drops it (it was signed by the keys replaced).
TEST_F(RosterTest, PreKeysAreKeptOnlyWhenSignedByTheOrganizationAndNewer) {
  Result<Identity> a = Identity::Generate(kOrgA);
  Result<Identity> b = Identity::Generate(kOrgB);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(roster_->Enroll(a->pub, Role::kPartner, 1).ok());
  proto::SignedPreKey k5 = SignPreKey(*a, NewPreKey(5));
  uint64_t version = roster_->version();
  ASSERT_TRUE(roster_->SetPreKey(kOrgA, k5).ok());
  EXPECT_GT(roster_->version(), version);  // sent to every session as a change
  EXPECT_EQ(roster_->Find(kOrgA)->pre_key, k5);
  EXPECT_TRUE(roster_->SetPreKey(kOrgA, k5).ok());  // the same again: nothing changes
  // Signed by another organization, or tampered with, or older: refused, the kept one stays.
  EXPECT_EQ(roster_->SetPreKey(kOrgA, SignPreKey(*b, NewPreKey(6))).code(), Code::kInvalidArgument);
  proto::SignedPreKey tampered = SignPreKey(*a, NewPreKey(7));
  tampered.key[0] ^= 1;
  EXPECT_EQ(roster_->SetPreKey(kOrgA, tampered).code(), Code::kInvalidArgument);
  EXPECT_EQ(roster_->SetPreKey(kOrgA, SignPreKey(*a, NewPreKey(4))).code(), Code::kInvalidArgument);
  EXPECT_EQ(roster_->Find(kOrgA)->pre_key, k5);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(roster_->Find(kOrgA)->pre_key, k5);
  // New keys: the pre-key signed by the old ones goes.
  Result<Identity> a2 = Identity::Generate(kOrgA);
  ASSERT_TRUE(a2.ok());
  ASSERT_TRUE(roster_->Rekey(a2->pub, 2).ok());
  EXPECT_TRUE(roster_->Find(kOrgA)->pre_key.empty());
  EXPECT_EQ(roster_->SetPreKey(kOrgA, SignPreKey(*a, NewPreKey(8))).code(), Code::kInvalidArgument);
  EXPECT_TRUE(roster_->SetPreKey(kOrgA, SignPreKey(*a2, NewPreKey(1))).ok());
}

}  // namespace
}  // namespace sb

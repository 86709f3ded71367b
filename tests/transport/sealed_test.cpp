#include "transport/sealed.h"
#include "base/hex.h"
#include "base/ids.h"

#include <gtest/gtest.h>

namespace sb {
namespace {

Identity Gen(const std::string& org) {
  Result<Identity> id = Identity::Generate(org);
  EXPECT_TRUE(id.ok());
  return std::move(id).value();
}

class SealedTest : public ::testing::Test {
 protected:
  proto::ReferralBody Body() {
    proto::ReferralBody b;
    b.id = NewUuid();
    b.sender = sender_.pub.org;
    b.recipient = recipient_.pub.org;
    return b;
  }
  Identity sender_ = Gen("11111111-0000-4000-8000-000000000001");
  Identity recipient_ = Gen("22222222-0000-4000-8000-000000000002");
  Identity other_ = Gen("33333333-0000-4000-8000-000000000003");
  std::string payload_ = R"({"alias":"R.","notes":"needs a Spanish-speaking lawyer"})";
};

TEST_F(SealedTest, TheRecipientOpensWhatTheSenderSealed) {
  proto::ReferralBody b = Body();
  std::string key = NewDataKey();
  ASSERT_TRUE(SealPayload(&b, payload_, key, sender_, recipient_.pub.box_public).ok());
  EXPECT_EQ(b.ciphertext.find("Spanish"), std::string::npos);
  Result<std::string> opened = OpenDataKey(b, sender_.pub.box_public, recipient_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, key);
  Result<std::string> text = OpenPayload(b, *opened);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, payload_);
}

TEST_F(SealedTest, NobodyElseOpensTheKey) {
  proto::ReferralBody b = Body();
  ASSERT_TRUE(SealPayload(&b, payload_, NewDataKey(), sender_, recipient_.pub.box_public).ok());
  EXPECT_FALSE(OpenDataKey(b, sender_.pub.box_public, other_).ok());
  // A forged sender: the key was not sealed by `other_`.
  EXPECT_EQ(OpenDataKey(b, other_.pub.box_public, recipient_).status().code(),
            Code::kPermissionDenied);
}

TEST_F(SealedTest, AnyChangeToTheCiphertextOrItsReferralIsRefused) {
  proto::ReferralBody b = Body();
  std::string key = NewDataKey();
  ASSERT_TRUE(SealPayload(&b, payload_, key, sender_, recipient_.pub.box_public).ok());
  for (size_t i = 0; i < b.ciphertext.size(); i += 7) {
    proto::ReferralBody t = b;
    t.ciphertext[i] ^= 0x01;
    EXPECT_FALSE(OpenPayload(t, key).ok()) << "flipped byte " << i;
  }
  proto::ReferralBody moved = b;
  moved.id = NewUuid();  // the same ciphertext under another referral
  EXPECT_FALSE(OpenPayload(moved, key).ok());
  proto::ReferralBody redirected = b;
  redirected.recipient = other_.pub.org;
  EXPECT_FALSE(OpenPayload(redirected, key).ok());
  proto::ReferralBody sealed_key = b;
  sealed_key.sealed_key[3] ^= 0x40;
  EXPECT_FALSE(OpenDataKey(sealed_key, sender_.pub.box_public, recipient_).ok());
}

// The consent's scope and advocate travel sealed: the broker sees only that consent was given,
// and when; the recipient reads both; any change, or a move to another referral, is refused.
TEST_F(SealedTest, TheConsentIsSealedForTheRecipientOnly) {
  proto::ReferralBody b = Body();
  b.consent_scope = "shelter intake only";
  b.consent_by = "advocate J.";
  b.consent_at_ms = 1000;
  std::string key = NewDataKey();
  ASSERT_TRUE(SealPayload(&b, payload_, key, sender_, recipient_.pub.box_public).ok());
  ASSERT_TRUE(SealConsent(&b, key).ok());
  EXPECT_TRUE(b.consent_scope.empty());
  EXPECT_TRUE(b.consent_by.empty());
  EXPECT_EQ(b.consent_sealed.find("shelter"), std::string::npos);
  EXPECT_EQ(b.consent_at_ms, 1000u);
  std::string wire = proto::EncodeEnvelope(b);
  EXPECT_EQ(wire.find("shelter intake"), std::string::npos);
  EXPECT_EQ(wire.find("advocate J."), std::string::npos);

  for (size_t i = 0; i < b.consent_sealed.size(); i += 5) {
    proto::ReferralBody t = b;
    t.consent_sealed[i] ^= 0x01;
    EXPECT_FALSE(OpenConsent(&t, key).ok()) << "flipped byte " << i;
  }
  proto::ReferralBody moved = b;
  moved.id = NewUuid();
  EXPECT_FALSE(OpenConsent(&moved, key).ok());
  proto::ReferralBody wrong_key = b;
  EXPECT_FALSE(OpenConsent(&wrong_key, NewDataKey()).ok());

  proto::ReferralBody opened = b;
  ASSERT_TRUE(OpenConsent(&opened, key).ok());
  EXPECT_EQ(opened.consent_scope, "shelter intake only");
  EXPECT_EQ(opened.consent_by, "advocate J.");
  EXPECT_TRUE(opened.consent_sealed.empty());
  // A consent in clear (an older agent's) is left as it is.
  proto::ReferralBody clear = opened;
  ASSERT_TRUE(OpenConsent(&clear, key).ok());
  EXPECT_EQ(clear, opened);
}

// Sealed to a signed pre-key: only that pre-key's secret opens the data key (not the
// recipient's long-term key, not the sender's), and the signature binds key, id and org.
TEST_F(SealedTest, APreKeySealOpensOnlyWithThePreKeySecret) {
  PreKeyPair pk = NewPreKey(42);
  proto::SignedPreKey published = SignPreKey(recipient_, pk);
  EXPECT_TRUE(VerifyPreKey(recipient_.pub.org, recipient_.pub.sign_public, published));
  EXPECT_FALSE(VerifyPreKey(sender_.pub.org, recipient_.pub.sign_public, published));
  EXPECT_FALSE(VerifyPreKey(recipient_.pub.org, other_.pub.sign_public, published));
  proto::SignedPreKey other_id = published;
  other_id.id = 43;
  EXPECT_FALSE(VerifyPreKey(recipient_.pub.org, recipient_.pub.sign_public, other_id));

  proto::ReferralBody b = Body();
  std::string key = NewDataKey();
  ASSERT_TRUE(SealPayloadToPreKey(&b, payload_, key, published).ok());
  EXPECT_EQ(b.pre_key_id, 42u);
  EXPECT_TRUE(b.key_nonce.empty());
  Result<std::string> opened = OpenDataKeyWithPreKey(b, pk);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, key);
  EXPECT_EQ(*OpenPayload(b, *opened), payload_);
  // Neither party's long-term key, nor another pre-key, opens it.
  EXPECT_FALSE(OpenDataKey(b, sender_.pub.box_public, recipient_).ok());
  PreKeyPair wrong = NewPreKey(42);
  EXPECT_FALSE(OpenDataKeyWithPreKey(b, wrong).ok());
  PreKeyPair long_term{42, recipient_.pub.box_public, recipient_.box_secret};
  EXPECT_FALSE(OpenDataKeyWithPreKey(b, long_term).ok());
  PreKeyPair senders{42, sender_.pub.box_public, sender_.box_secret};
  EXPECT_FALSE(OpenDataKeyWithPreKey(b, senders).ok());
}

TEST_F(SealedTest, MalformedPiecesAreErrorsNotCrashes) {
  proto::ReferralBody b = Body();
  EXPECT_FALSE(OpenPayload(b, NewDataKey()).ok());
  EXPECT_FALSE(OpenDataKey(b, sender_.pub.box_public, recipient_).ok());
  EXPECT_FALSE(OpenPayload(b, "short").ok());
  EXPECT_FALSE(SealPayload(&b, payload_, "short", sender_, recipient_.pub.box_public).ok());
  EXPECT_FALSE(SealPayload(&b, payload_, NewDataKey(), sender_, "not a key").ok());
}

TEST_F(SealedTest, SignedBodiesVerifyOnlyUnchanged) {
  proto::TransitionBody t{NewUuid(), "accept", recipient_.pub.org, 1, ""};
  proto::Signed s = SignBody(recipient_, t);
  EXPECT_TRUE(VerifySignature(recipient_.pub.sign_public, s.body, s.signature));
  EXPECT_FALSE(VerifySignature(sender_.pub.sign_public, s.body, s.signature));
  Result<proto::TransitionBody> back = proto::DecodeTransitionBody(s.body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, t);
  EXPECT_FALSE(proto::DecodeReferralBody(s.body).ok());  // a transition is not a referral
}

TEST(Uuid, NewUuidsAreWellFormedAndDistinct) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_TRUE(IsUuid(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("AAAAAAAA-0000-4000-8000-000000000000"));
}

TEST(Hex, RoundTripsAndRefusesJunk) {
  std::string bytes("\x00\x01\xfe\xff", 4);
  EXPECT_EQ(ToHex(bytes), "0001feff");
  EXPECT_EQ(*FromHex("0001feff"), bytes);
  EXPECT_FALSE(FromHex("abc").ok());
  EXPECT_FALSE(FromHex("zz").ok());
}

}  // namespace
}  // namespace sb

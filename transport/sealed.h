// End-to-end sealing of referral payloads (DESIGN.md §7). Each referral has its own random
// 32-byte data key: the payload is encrypted under it with XChaCha20-Poly1305 (the referral's
// id, sender and recipient as associated data, so a ciphertext cannot be moved to another
// referral), and the key is sealed with crypto_box from the sender's X25519 key to the
// recipient's, which also proves to the recipient which organization sealed it. Destroying
// the data key makes every copy of the ciphertext unreadable (crypto-shredding).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/identity.h"
#include "transport/protocol.h"

namespace sb {

inline constexpr size_t kDataKeyBytes = 32;

std::string NewDataKey();

// Fills body.nonce/ciphertext (under `data_key`) and body.key_nonce/sealed_key (to the
// recipient). body.id, sender and recipient must be set first (associated data).
Status SealPayload(proto::ReferralBody* body, std::string_view plaintext, std::string_view data_key,
                   const Identity& sender, std::string_view recipient_box_public);

// --- Forward secrecy (issue 14): referrals sealed to the recipient's signed pre-key ---
// A pre-key is a short-lived X25519 key pair; the organization publishes its public half,
// signed (SignPreKey), through the roster, and destroys the secret half after rotating and a
// grace period. A referral's data key is then sealed with crypto_box_seal to it: an ephemeral
// sender key, so neither party's long-term key opens it (the sender's signature over the body
// still proves who sealed it). Once the pre-key secret and both parties' data keys are gone,
// no copy of the body anywhere opens.

struct PreKeyPair {
  uint64_t id = 0;
  std::string public_key, secret_key;  // 32 bytes each
};
PreKeyPair NewPreKey(uint64_t id);
proto::SignedPreKey SignPreKey(const Identity& owner, const PreKeyPair& k);
// Whether `k` was signed by `org` with `sign_public`.
bool VerifyPreKey(const std::string& org, std::string_view sign_public,
                  const proto::SignedPreKey& k);

// As SealPayload, but the data key goes in a sealed box to `pre_key` (body->pre_key_id is set,
// body->key_nonce left empty). The caller has checked the pre-key's signature.
Status SealPayloadToPreKey(proto::ReferralBody* body, std::string_view plaintext,
                           std::string_view data_key, const proto::SignedPreKey& pre_key);
// The recipient opens a data key sealed to its pre-key `k` (k.id == body.pre_key_id).
Result<std::string> OpenDataKeyWithPreKey(const proto::ReferralBody& body, const PreKeyPair& k);

// The recipient opens the data key; fails unless it was sealed by `sender_box_public`.
Result<std::string> OpenDataKey(const proto::ReferralBody& body, std::string_view sender_box_public,
                                const Identity& recipient);

// Decrypts the payload with the data key; fails if anything was altered.
Result<std::string> OpenPayload(const proto::ReferralBody& body, std::string_view data_key);

// Seals body->consent_scope and consent_by under `data_key` (consent_nonce, consent_sealed) and
// empties them: the broker learns that consent was obtained, and when, never for what or by
// whom. body.id, sender and recipient must be set first (associated data).
Status SealConsent(proto::ReferralBody* body, std::string_view data_key);
// The recipient's inverse: fills consent_scope and consent_by from the sealed consent and
// empties consent_nonce/consent_sealed; nothing to do for a body whose consent is in clear.
// Fails if the sealed consent was altered or is not {"scope": text, "by": text}.
Status OpenConsent(proto::ReferralBody* body, std::string_view data_key);

// Signs an encoded body (a ReferralBody or TransitionBody message) with `id`'s Ed25519 key.
proto::Signed SignBody(const Identity& id, const proto::Message& body);

}  // namespace sb

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

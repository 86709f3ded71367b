// The limits of a referral, in one place, checked by everyone who handles one (DESIGN.md §7,
// issue 10): the sender's agent before it seals, the broker before it stores and forwards,
// and the recipient's agent again on receipt — a recipient never trusts that the sender or the
// broker applied them. Each check returns InvalidArgument naming the field and the rule.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "transport/protocol.h"

namespace sb {

inline constexpr size_t kMaxReferralPayloadBytes = 64 << 10;  // the payload JSON, plaintext
inline constexpr int kMaxReferralPayloadDepth = 8;            // its nesting
inline constexpr size_t kMaxConsentScopeBytes = 1000;
inline constexpr size_t kMaxConsentByBytes = 128;
inline constexpr size_t kConsentNonceBytes = 24;
// {"scope", "by"} as JSON (every character escaped at worst) plus the 16-byte tag.
inline constexpr size_t kMaxSealedConsentBytes =
    6 * (kMaxConsentScopeBytes + kMaxConsentByBytes) + 64 + 16;
inline constexpr size_t kMaxReferralReasonBytes = 500;
inline constexpr size_t kMaxServiceIdBytes = 128;
inline constexpr uint64_t kDefaultReferralLifetimeMs = 14ull * 24 * 3600 * 1000;
inline constexpr uint64_t kMaxReferralLifetimeMs = 366ull * 24 * 3600 * 1000;
inline constexpr uint64_t kMaxReferralSkewMs = 60'000;  // how far ahead a party's clock may be
// XChaCha20-Poly1305 adds a 16-byte tag to the plaintext.
inline constexpr size_t kMaxSealedPayloadBytes = kMaxReferralPayloadBytes + 16;

// The header of a referral (everything but the sealed payload's contents) against the rules,
// at `now_ms`: a UUID id, sender and recipient set and different, urgency, consent (scope, by,
// when — not in the future), times (created not in the future, expiry after creation and
// within kMaxReferralLifetimeMs of it), and the sizes of nonces, sealed key and ciphertext.
// `received` relaxes "expiry in the future" for a referral that may have waited at the broker.
// On error, `*code` (when given) is the wire refusal code: malformed, consent, expired,
// too_large or unknown_recipient.
Status CheckReferralBody(const proto::ReferralBody& b, uint64_t now_ms, bool received = false,
                         proto::PostRefusalCode* code = nullptr);

// One lifecycle step: known action, the reason's rules (required for decline), time not ahead.
Status CheckTransitionBody(const proto::TransitionBody& t, uint64_t now_ms);

// Parses and checks a referral payload (JSON text): at most kMaxReferralPayloadBytes, nested at
// most kMaxReferralPayloadDepth, an object with a non-empty "alias" text, every text UTF-8.
Result<nlohmann::json> ParseReferralPayload(std::string_view text);

}  // namespace sb

#include "transport/referral_rules.h"

#include "base/ids.h"
#include "base/json.h"
#include "base/utf8.h"
#include "transport/sealed.h"

namespace sb {

Status CheckReferralBody(const proto::ReferralBody& b, uint64_t now_ms, bool received,
                         proto::PostRefusalCode* code) {
  proto::PostRefusalCode ignored;
  if (!code) code = &ignored;
  *code = proto::PostRefusalCode::kMalformed;
  if (!IsUuid(b.id)) return Status::InvalidArgument("referral.id: must be a lowercase UUID");
  RETURN_IF_ERROR(CheckText(b.sender, "referral.sender", TextKind::kName, 128));
  RETURN_IF_ERROR(CheckText(b.recipient, "referral.recipient", TextKind::kName, 128));
  if (b.sender.empty() || b.recipient.empty()) {
    return Status::InvalidArgument("referral: sender and recipient are required");
  }
  if (b.sender == b.recipient) {
    *code = proto::PostRefusalCode::kUnknownRecipient;
    return Status::InvalidArgument("referral: an organization cannot refer to itself");
  }
  RETURN_IF_ERROR(CheckText(b.service, "referral.service", TextKind::kName, kMaxServiceIdBytes));
  if (b.urgency != "emergency" && b.urgency != "urgent" && b.urgency != "routine") {
    return Status::InvalidArgument("referral.urgency: must be emergency, urgent or routine");
  }
  *code = proto::PostRefusalCode::kConsent;
  if (!b.consent_sealed.empty() || !b.consent_nonce.empty()) {
    // Sealed (SealConsent): only the recipient reads the scope and the advocate; the broker
    // checks the shape and the time.
    if (!b.consent_scope.empty() || !b.consent_by.empty()) {
      return Status::InvalidArgument("referral.consent: sealed and in clear at once");
    }
    if (b.consent_nonce.size() != kConsentNonceBytes || b.consent_sealed.size() <= 16 ||
        b.consent_sealed.size() > kMaxSealedConsentBytes || b.consent_at_ms == 0) {
      return Status::InvalidArgument(
          "referral.consent: a sealed consent needs its nonce, its sealed scope and advocate (at "
          "most " +
          std::to_string(kMaxSealedConsentBytes) + " bytes) and its time");
    }
  } else {
    if (b.consent_scope.empty() || b.consent_by.empty() || b.consent_at_ms == 0) {
      return Status::InvalidArgument(
          "referral.consent: a referral needs the client's consent: its scope, when and by whom");
    }
    RETURN_IF_ERROR(CheckText(b.consent_scope, "referral.consent.scope", TextKind::kProse,
                              kMaxConsentScopeBytes));
    RETURN_IF_ERROR(
        CheckText(b.consent_by, "referral.consent.by", TextKind::kName, kMaxConsentByBytes));
  }
  if (b.consent_at_ms > now_ms + kMaxReferralSkewMs) {
    return Status::InvalidArgument("referral.consent.at: is in the future");
  }
  *code = proto::PostRefusalCode::kMalformed;
  if (b.created_ms == 0 || b.created_ms > now_ms + kMaxReferralSkewMs) {
    return Status::InvalidArgument("referral.created: is missing or in the future");
  }
  if (b.expires_ms <= b.created_ms || b.expires_ms - b.created_ms > kMaxReferralLifetimeMs) {
    return Status::InvalidArgument("referral.expires: must be after its creation and within " +
                                   std::to_string(kMaxReferralLifetimeMs / (24 * 3600 * 1000)) +
                                   " days of it");
  }
  if (!received && b.expires_ms <= now_ms) {
    *code = proto::PostRefusalCode::kExpired;
    return Status::InvalidArgument("referral.expires: the referral has already expired");
  }
  // The data key: a crypto_box from the sender's key (24-byte nonce, 48 bytes), or a sealed
  // box to the recipient's pre-key (no nonce, 32 + 48 bytes).
  bool key_ok = b.pre_key_id == 0 ? b.key_nonce.size() == 24 && b.sealed_key.size() == 48
                                  : b.key_nonce.empty() && b.sealed_key.size() == 80;
  if (b.nonce.size() != 24 || !key_ok || b.ciphertext.size() < 16) {
    return Status::InvalidArgument("referral: the sealed payload is malformed");
  }
  if (b.ciphertext.size() > kMaxSealedPayloadBytes) {
    *code = proto::PostRefusalCode::kTooLarge;
    return Status::InvalidArgument("referral: the sealed payload is " +
                                   std::to_string(b.ciphertext.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxSealedPayloadBytes));
  }
  return Status::Ok();
}

Status CheckTransitionBody(const proto::TransitionBody& t, uint64_t now_ms) {
  static constexpr std::string_view kActions[] = {"deliver",  "accept", "decline", "start",
                                                  "complete", "cancel", "expire"};
  bool known = false;
  for (std::string_view a : kActions) known |= t.action == a;
  if (!known) return Status::InvalidArgument("transition.action: unknown action");
  if (!IsUuid(t.referral)) return Status::InvalidArgument("transition.referral: must be a UUID");
  RETURN_IF_ERROR(CheckText(t.actor, "transition.actor", TextKind::kName, 128));
  RETURN_IF_ERROR(
      CheckText(t.reason, "transition.reason", TextKind::kProse, kMaxReferralReasonBytes));
  if (t.action == "decline" && t.reason.empty()) {
    return Status::InvalidArgument("transition.reason: declining needs a reason");
  }
  if (t.at_ms > now_ms + kMaxReferralSkewMs) {
    return Status::InvalidArgument("transition.at: is in the future; check the agent's clock");
  }
  return Status::Ok();
}

Result<nlohmann::json> ParseReferralPayload(std::string_view text) {
  ASSIGN_OR_RETURN(nlohmann::json payload,
                   ParseJson(text, "the referral payload",
                             JsonLimits{kMaxReferralPayloadBytes, kMaxReferralPayloadDepth}));
  if (!payload.is_object()) {
    return Status::InvalidArgument(
        "the payload must be a JSON object (alias, contact, contact_times, language, needs, "
        "notes)");
  }
  auto alias = payload.find("alias");
  if (alias == payload.end() || !alias->is_string() || alias->get<std::string>().empty()) {
    return Status::InvalidArgument("the payload needs the client's alias (\"alias\": text)");
  }
  return payload;
}

}  // namespace sb

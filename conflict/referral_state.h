// The referral lifecycle (DESIGN.md §7, after FHIR Task), as pure rules:
//
//   sent -> delivered -> accepted | declined(reason) | expired
//   accepted -> in_progress -> completed
//   cancelled, by the sender, at any point before a final status
//
// Every step is an action made by one party: the recipient delivers (its agent acknowledges
// the sealed referral), accepts, declines, starts and completes; the sender cancels; the broker
// expires an unanswered referral. The broker applies actions in the order it receives them and
// refuses one that does not follow; that order is the referral's history, which every party
// replays to the same status, whatever order copies reach it in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sb {

enum class ReferralStatus {
  kSent,
  kDelivered,
  kAccepted,
  kDeclined,
  kExpired,
  kInProgress,
  kCompleted,
  kCancelled,
};

enum class Party { kSender, kRecipient, kBroker };

const char* StatusName(ReferralStatus s);  // "sent", "in_progress", ...
std::optional<ReferralStatus> ParseStatus(std::string_view name);
const char* PartyName(Party p);

// Declined, expired, completed, cancelled: nothing follows them.
bool IsFinal(ReferralStatus s);

// The actions, in the order a user meets them.
const std::vector<std::string>& ReferralActions();

// Who may make `action`; nullopt for an unknown action.
std::optional<Party> ActionParty(std::string_view action);

// Whether `party` may make `action` when the referral is `current`. Returns the status it
// leads to, InvalidArgument for an unknown action, PermissionDenied for the wrong party, and
// FailedPrecondition (saying why) when the action does not follow.
Result<ReferralStatus> NextStatus(ReferralStatus current, std::string_view action, Party party);

// The status after `actions` in order, skipping any that does not follow (a replay).
ReferralStatus Replay(const std::vector<std::string>& actions);

}  // namespace sb

#include "conflict/referral_state.h"

#include <algorithm>

namespace sb {

namespace {

struct Rule {
  const char* action;
  Party party;
  ReferralStatus to;
  std::vector<ReferralStatus> from;
};

const std::vector<Rule>& Rules() {
  using S = ReferralStatus;
  static const std::vector<Rule> rules = {
      {"deliver", Party::kRecipient, S::kDelivered, {S::kSent}},
      // The recipient's agent acknowledges delivery before it can answer, but an answer that
      // overtakes the acknowledgement still follows from `sent`.
      {"accept", Party::kRecipient, S::kAccepted, {S::kSent, S::kDelivered}},
      {"decline", Party::kRecipient, S::kDeclined, {S::kSent, S::kDelivered}},
      {"start", Party::kRecipient, S::kInProgress, {S::kAccepted}},
      {"complete", Party::kRecipient, S::kCompleted, {S::kInProgress}},
      {"cancel",
       Party::kSender,
       S::kCancelled,
       {S::kSent, S::kDelivered, S::kAccepted, S::kInProgress}},
      {"expire", Party::kBroker, S::kExpired, {S::kSent, S::kDelivered}},
  };
  return rules;
}

const Rule* Find(std::string_view action) {
  for (const Rule& r : Rules()) {
    if (action == r.action) return &r;
  }
  return nullptr;
}

}  // namespace

const char* StatusName(ReferralStatus s) {
  switch (s) {
    case ReferralStatus::kSent:
      return "sent";
    case ReferralStatus::kDelivered:
      return "delivered";
    case ReferralStatus::kAccepted:
      return "accepted";
    case ReferralStatus::kDeclined:
      return "declined";
    case ReferralStatus::kExpired:
      return "expired";
    case ReferralStatus::kInProgress:
      return "in_progress";
    case ReferralStatus::kCompleted:
      return "completed";
    case ReferralStatus::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<ReferralStatus> ParseStatus(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ReferralStatus::kCancelled); ++i) {
    auto s = static_cast<ReferralStatus>(i);
    if (name == StatusName(s)) return s;
  }
  return std::nullopt;
}

const char* PartyName(Party p) {
  switch (p) {
    case Party::kSender:
      return "the sender";
    case Party::kRecipient:
      return "the recipient";
    case Party::kBroker:
      return "the broker";
  }
  return "?";
}

bool IsFinal(ReferralStatus s) {
  return s == ReferralStatus::kDeclined || s == ReferralStatus::kExpired ||
         s == ReferralStatus::kCompleted || s == ReferralStatus::kCancelled;
}

const std::vector<std::string>& ReferralActions() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Rule& r : Rules()) out.push_back(r.action);
    return out;
  }();
  return names;
}

std::optional<Party> ActionParty(std::string_view action) {
  const Rule* r = Find(action);
  if (!r) return std::nullopt;
  return r->party;
}

Result<ReferralStatus> NextStatus(ReferralStatus current, std::string_view action, Party party) {
  const Rule* r = Find(action);
  if (!r) return Status::InvalidArgument("unknown referral action '" + std::string(action) + "'");
  if (r->party != party) {
    return Status::PermissionDenied(std::string("only ") + PartyName(r->party) + " may " +
                                    r->action + " a referral");
  }
  if (std::find(r->from.begin(), r->from.end(), current) == r->from.end()) {
    return Status::FailedPrecondition(std::string("cannot ") + r->action + " a referral that is " +
                                      StatusName(current));
  }
  return r->to;
}

ReferralStatus Replay(const std::vector<std::string>& actions) {
  ReferralStatus s = ReferralStatus::kSent;
  for (const std::string& a : actions) {
    const Rule* r = Find(a);
    if (r && std::find(r->from.begin(), r->from.end(), s) != r->from.end()) s = r->to;
  }
  return s;
}

}  // namespace sb

#include "broker/referral_relay.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/json.h"
#include "broker/ingest.h"
#include "conflict/referral_state.h"
#include "transport/referral_rules.h"
#include "transport/sealed.h"

namespace sb {

namespace {

constexpr char kVersionKey[] = "referral_version";
constexpr uint64_t kMaxSkewMs = 60'000;

std::string RecordKey(const std::string& id) {
  return "r/" + id;
}
std::string IndexKey(const std::string& org, uint64_t version) {
  return "o/" + org + "/" + EncodeSeq(version);
}
std::string ExpiryKey(uint64_t at_ms, const std::string& id) {
  return "e/" + EncodeSeq(at_ms) + "/" + id;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

bool Answered(ReferralStatus s) {
  return s != ReferralStatus::kSent && s != ReferralStatus::kDelivered;
}

proto::ReferralPostAck Refused(uint64_t seq, proto::PostRefusalCode code, std::string reason) {
  return proto::ReferralPostAck{seq, false, code, std::move(reason)};
}

proto::ReferralPostAck NotSaved(uint64_t seq, const Status& why = Status::Ok()) {
  return Refused(seq, proto::PostRefusalCode::kUnavailable, NotSavedReason(why, "the step"));
}

}  // namespace

struct ReferralRelay::Stored {
  std::string id, sender, recipient;
  uint64_t expires_ms = 0;
  proto::Signed body;     // emptied once delivered or over
  std::string body_hash;  // SHA-256 of body.body (kept: a repeat is recognised after delivery)
  std::vector<proto::Signed> transitions;
  std::vector<std::string> actions;
  ReferralStatus status = ReferralStatus::kSent;
  uint64_t version = 0;

  std::string Json() const {
    nlohmann::json t = nlohmann::json::array();
    for (const auto& s : transitions) t.push_back({ToHex(s.body), ToHex(s.signature)});
    return DumpJson(nlohmann::json{{"id", id},
                                   {"sender", sender},
                                   {"recipient", recipient},
                                   {"expires_ms", expires_ms},
                                   {"body", ToHex(body.body)},
                                   {"body_signature", ToHex(body.signature)},
                                   {"body_hash", body_hash},
                                   {"transitions", t},
                                   {"actions", actions},
                                   {"status", StatusName(status)},
                                   {"version", version}});
  }

  static Result<Stored> Parse(std::string_view bytes) {
    nlohmann::json j = ParseStoredJson(bytes);
    Stored r;
    try {
      r.id = j.at("id").get<std::string>();
      r.sender = j.at("sender").get<std::string>();
      r.recipient = j.at("recipient").get<std::string>();
      r.expires_ms = j.at("expires_ms").get<uint64_t>();
      ASSIGN_OR_RETURN(r.body.body, FromHex(j.at("body").get<std::string>()));
      ASSIGN_OR_RETURN(r.body.signature, FromHex(j.at("body_signature").get<std::string>()));
      r.body_hash = j.at("body_hash").get<std::string>();
      for (const auto& t : j.at("transitions")) {
        proto::Signed s;
        ASSIGN_OR_RETURN(s.body, FromHex(t.at(0).get<std::string>()));
        ASSIGN_OR_RETURN(s.signature, FromHex(t.at(1).get<std::string>()));
        r.transitions.push_back(std::move(s));
      }
      r.actions = j.at("actions").get<std::vector<std::string>>();
      auto st = ParseStatus(j.at("status").get<std::string>());
      if (!st) return Status::Corruption("unknown status");
      r.status = *st;
      r.version = j.at("version").get<uint64_t>();
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(std::string("a stored referral is malformed: ") + e.what());
    }
    return r;
  }
};

ReferralRelay::ReferralRelay(Store* store, Clock* clock, const Identity& broker, Roster* roster,
                             size_t max_open_per_pair)
    : store_(store),
      clock_(clock),
      broker_(broker),
      roster_(roster),
      audit_(store),
      max_open_per_pair_(max_open_per_pair) {}

Status ReferralRelay::Load() {
  RETURN_IF_ERROR(audit_.Load());
  ASSIGN_OR_RETURN(auto v, store_->Get(Cf::kMeta, kVersionKey));
  version_ = v ? DecodeSeq(*v) : 0;
  // Unanswered referrals are those in the expiry index (an answered one's entry is deleted
  // with the answer, or is stale and skipped here).
  open_.clear();
  std::vector<std::string> ids;
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, "e/", "", [&](std::string_view k, std::string_view) {
    if (k.size() > 2 + 8 + 1) ids.emplace_back(k.substr(2 + 8 + 1));
    return true;
  }));
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(auto r, Read(id));
    if (r && !Answered(r->status)) ++open_[{r->sender, r->recipient}];
  }
  return Status::Ok();
}

Result<std::optional<ReferralRelay::Stored>> ReferralRelay::Read(const std::string& id) const {
  ASSIGN_OR_RETURN(auto bytes, store_->Get(Cf::kReferrals, RecordKey(id)));
  if (!bytes) return std::optional<Stored>();
  ASSIGN_OR_RETURN(Stored r, Stored::Parse(*bytes));
  return std::optional<Stored>(std::move(r));
}

proto::ReferralUpdate ReferralRelay::UpdateFor(const Stored& r, const std::string& org) const {
  proto::ReferralUpdate u;
  u.version = r.version;
  u.id = r.id;
  // The sealed referral goes to the recipient until it has acknowledged it; the sender has it.
  if (org == r.recipient) u.referral = r.body;
  u.transitions = r.transitions;
  return u;
}

Status ReferralRelay::Save(Stored r, const std::string& old_expiry_key, uint64_t old_version,
                           bool was_open, const std::string& actor, const std::string& action,
                           std::vector<Outbound>* out) {
  WriteBatch b;
  uint64_t version = version_ + 1;
  if (old_version != 0) {
    b.Delete(Cf::kReferrals, IndexKey(r.sender, old_version));
    b.Delete(Cf::kReferrals, IndexKey(r.recipient, old_version));
  }
  if (!old_expiry_key.empty() && Answered(r.status)) b.Delete(Cf::kReferrals, old_expiry_key);
  if (old_version == 0) b.Put(Cf::kReferrals, ExpiryKey(r.expires_ms, r.id), "");
  r.version = version;
  b.Put(Cf::kReferrals, RecordKey(r.id), r.Json());
  b.Put(Cf::kReferrals, IndexKey(r.sender, version), r.id);
  b.Put(Cf::kReferrals, IndexKey(r.recipient, version), r.id);
  b.Put(Cf::kMeta, kVersionKey, EncodeSeq(version));
  audit_.Append(&b, clock_->NowMillis(), actor, "referral." + action, r.id);
  Status s = store_->Commit(std::move(b));
  if (!s.ok()) {
    (void)audit_.Load();  // the staged entry was not written
    return s;
  }
  version_ = version;
  bool open_now = !Answered(r.status);
  if (open_now && !was_open) ++open_[{r.sender, r.recipient}];
  if (was_open && !open_now) {
    auto it = open_.find({r.sender, r.recipient});
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }
  out->emplace_back(r.sender, UpdateFor(r, r.sender));
  out->emplace_back(r.recipient, UpdateFor(r, r.recipient));
  return Status::Ok();
}

proto::ReferralPostAck ReferralRelay::OnPost(const std::string& org,
                                             const proto::ReferralPost& post,
                                             std::vector<Outbound>* out) {
  // Refusals are logged by the caller (rate-limited per organization).
  return post.referral.empty() ? Transition(org, post, out) : NewReferral(org, post, out);
}

proto::ReferralPostAck ReferralRelay::NewReferral(const std::string& org,
                                                  const proto::ReferralPost& post,
                                                  std::vector<Outbound>* out) {
  Result<proto::ReferralBody> body = proto::DecodeReferralBody(post.referral.body);
  if (!body.ok())
    return Refused(post.seq, proto::PostRefusalCode::kMalformed, body.status().message());
  const proto::ReferralBody& b = *body;
  if (b.sender != org) {
    return Refused(post.seq, proto::PostRefusalCode::kSender,
                   "the referral names " + b.sender + " as its sender, but it came from " + org);
  }
  std::optional<Member> sender = roster_->Find(org);
  if (!sender ||
      !VerifySignature(sender->identity.sign_public, post.referral.body, post.referral.signature)) {
    return Refused(post.seq, proto::PostRefusalCode::kSignature,
                   "the referral's signature does not verify");
  }
  uint64_t now = clock_->NowMillis();
  // The same rules the sender's agent applies (and the recipient's applies again).
  proto::PostRefusalCode code;
  if (Status rules = CheckReferralBody(b, now, false, &code); !rules.ok()) {
    return Refused(post.seq, code, rules.message());
  }
  std::optional<Member> recipient = roster_->Find(b.recipient);
  if (!recipient || recipient->revoked) {
    return Refused(post.seq, proto::PostRefusalCode::kUnknownRecipient,
                   "no enrolled organization " + b.recipient + " to refer to");
  }
  Result<std::optional<Stored>> existing = Read(b.id);
  if (!existing.ok())
    return Refused(post.seq, proto::PostRefusalCode::kUnavailable, existing.status().message());
  if (*existing) {
    const Stored& e = **existing;
    if (e.sender == org && e.body_hash == Sha256Hex(post.referral.body)) {
      // A repeat (the ack was lost): accepted once, acknowledged again.
      out->emplace_back(org, UpdateFor(e, org));
      return proto::ReferralPostAck{post.seq, true, proto::PostRefusalCode::kNone, ""};
    }
    return Refused(post.seq, proto::PostRefusalCode::kDuplicateId,
                   "referral id " + b.id + " is already in use");
  }
  if (auto it = open_.find({org, b.recipient});
      max_open_per_pair_ != 0 && it != open_.end() && it->second >= max_open_per_pair_) {
    return Refused(post.seq, proto::PostRefusalCode::kQuota,
                   std::to_string(it->second) + " referrals to " + b.recipient +
                       " are still unanswered, the most one organization may have waiting "
                       "for another; wait for answers, or call them");
  }
  Stored r;
  r.id = b.id;
  r.sender = b.sender;
  r.recipient = b.recipient;
  r.expires_ms = b.expires_ms;
  r.body = post.referral;
  r.body_hash = Sha256Hex(post.referral.body);
  Status s = Save(std::move(r), "", 0, /*was_open=*/false, org, "sent", out);
  if (!s.ok()) {
    unsaved_.try_emplace({org, b.id}, post.seq);
    return NotSaved(post.seq, s);
  }
  unsaved_.erase({org, b.id});
  return proto::ReferralPostAck{post.seq, true, proto::PostRefusalCode::kNone, ""};
}

proto::ReferralPostAck ReferralRelay::Transition(const std::string& org,
                                                 const proto::ReferralPost& post,
                                                 std::vector<Outbound>* out) {
  Result<proto::TransitionBody> t = proto::DecodeTransitionBody(post.transition.body);
  if (!t.ok()) return Refused(post.seq, proto::PostRefusalCode::kMalformed, t.status().message());
  if (t->actor != org) {
    return Refused(post.seq, proto::PostRefusalCode::kActor,
                   "the step names " + t->actor + " as its actor, but it came from " + org);
  }
  std::optional<Member> actor = roster_->Find(org);
  if (!actor || !VerifySignature(actor->identity.sign_public, post.transition.body,
                                 post.transition.signature)) {
    return Refused(post.seq, proto::PostRefusalCode::kSignature,
                   "the step's signature does not verify");
  }
  auto unsaved = unsaved_.find({org, t->referral});
  if (unsaved != unsaved_.end() && post.seq > unsaved->second) return NotSaved(post.seq);
  Result<std::optional<Stored>> existing = Read(t->referral);
  if (!existing.ok())
    return Refused(post.seq, proto::PostRefusalCode::kUnavailable, existing.status().message());
  if (!*existing || (org != (*existing)->sender && org != (*existing)->recipient)) {
    // The same answer for "no such referral" and "not yours": a third party learns nothing.
    return Refused(post.seq, proto::PostRefusalCode::kUnknownReferral,
                   "no referral " + t->referral + " of yours");
  }
  Stored r = std::move(**existing);
  Party party = org == r.sender ? Party::kSender : Party::kRecipient;
  for (size_t i = 0; i < r.actions.size(); ++i) {
    if (r.actions[i] == t->action && r.transitions[i].body == post.transition.body) {
      out->emplace_back(org, UpdateFor(r, org));  // a repeat: already part of the history
      return proto::ReferralPostAck{post.seq, true, proto::PostRefusalCode::kNone, ""};
    }
  }
  if (t->action == "expire") {
    return Refused(post.seq, proto::PostRefusalCode::kParty, "only the broker expires a referral");
  }
  Result<ReferralStatus> next = NextStatus(r.status, t->action, party);
  if (!next.ok()) {
    // A repeat of a step already taken (another copy, or a retry) is not an error.
    for (const std::string& a : r.actions) {
      if (a == t->action) {
        out->emplace_back(org, UpdateFor(r, org));
        return proto::ReferralPostAck{post.seq, true, proto::PostRefusalCode::kNone, ""};
      }
    }
    return Refused(post.seq,
                   next.status().code() == Code::kPermissionDenied ? proto::PostRefusalCode::kParty
                                                                   : proto::PostRefusalCode::kState,
                   next.status().message());
  }
  if (Status rules = CheckTransitionBody(*t, clock_->NowMillis()); !rules.ok()) {
    return Refused(post.seq,
                   t->action == "decline" ? proto::PostRefusalCode::kReason
                                          : proto::PostRefusalCode::kMalformed,
                   rules.message());
  }
  if (r.transitions.size() >= proto::kMaxReferralTransitions) {
    return Refused(post.seq, proto::PostRefusalCode::kState, "the referral has too many steps");
  }
  uint64_t now = clock_->NowMillis();
  if (t->at_ms > now + kMaxSkewMs) {
    return Refused(post.seq, proto::PostRefusalCode::kClock,
                   "the step is dated in the future; check the agent's clock");
  }
  std::string expiry = ExpiryKey(r.expires_ms, r.id);
  uint64_t old_version = r.version;
  bool was_open = !Answered(r.status);
  r.status = *next;
  r.actions.push_back(t->action);
  r.transitions.push_back(post.transition);
  // Delivered: the recipient holds it durably, so the broker's copy goes. Answered or over
  // before delivery: nobody will fetch it.
  bool had_body = !r.body.empty();
  if (t->action == "deliver" || IsFinal(r.status)) r.body = proto::Signed{};
  bool dropped = had_body && r.body.empty();
  Status s = Save(std::move(r), expiry, old_version, was_open, org, t->action, out);
  if (s.ok() && dropped) ++bodies_dropped_;
  if (!s.ok()) {
    unsaved_.try_emplace({org, t->referral}, post.seq);
    return NotSaved(post.seq, s);
  }
  if (unsaved != unsaved_.end() && post.seq >= unsaved->second) unsaved_.erase(unsaved);
  return proto::ReferralPostAck{post.seq, true, proto::PostRefusalCode::kNone, ""};
}

Result<std::vector<proto::ReferralUpdate>> ReferralRelay::Since(const std::string& org,
                                                                uint64_t cursor) const {
  std::vector<std::string> ids;
  std::string prefix = "o/" + org + "/";
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, prefix, prefix + EncodeSeq(cursor + 1),
                               [&](std::string_view, std::string_view v) {
                                 ids.emplace_back(v);
                                 return true;
                               }));
  std::vector<proto::ReferralUpdate> out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(auto r, Read(id));
    if (r) out.push_back(UpdateFor(*r, org));
  }
  return out;
}

Status ReferralRelay::ExpireDue(std::vector<Outbound>* out) {
  uint64_t now = clock_->NowMillis();
  std::vector<std::string> due;
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, "e/", "", [&](std::string_view k, std::string_view) {
    if (k.size() < 2 + 8 + 1) return true;
    if (DecodeSeq(k.substr(2, 8)) > now) return false;
    due.emplace_back(k.substr(2 + 8 + 1));
    return true;
  }));
  for (const std::string& id : due) {
    ASSIGN_OR_RETURN(auto existing, Read(id));
    if (!existing) continue;
    Stored r = std::move(*existing);
    std::string expiry = ExpiryKey(r.expires_ms, r.id);
    if (Answered(r.status)) {  // a stale index entry
      WriteBatch b;
      b.Delete(Cf::kReferrals, expiry);
      RETURN_IF_ERROR(store_->Commit(std::move(b)));
      continue;
    }
    proto::TransitionBody t{r.id, "expire", "broker", now, ""};
    proto::Signed signed_t = SignBody(broker_, t);
    uint64_t old_version = r.version;
    r.status = ReferralStatus::kExpired;
    r.actions.push_back("expire");
    r.transitions.push_back(std::move(signed_t));
    bool had_body = !r.body.empty();
    r.body = proto::Signed{};
    spdlog::info("broker: referral {} expired", r.id);
    RETURN_IF_ERROR(
        Save(std::move(r), expiry, old_version, /*was_open=*/true, "broker", "expire", out));
    if (had_body) ++bodies_dropped_;
  }
  return Status::Ok();
}

Result<std::map<std::string, uint64_t>> ReferralRelay::CountsByStatus() const {
  std::map<std::string, uint64_t> counts;
  for (int i = 0; i <= static_cast<int>(ReferralStatus::kCancelled); ++i) {
    counts[StatusName(static_cast<ReferralStatus>(i))] = 0;
  }
  Status bad;
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, "r/", "", [&](std::string_view, std::string_view v) {
    Result<Stored> r = Stored::Parse(v);
    if (!r.ok()) {
      bad = r.status();
      return false;
    }
    ++counts[StatusName(r->status)];
    return true;
  }));
  RETURN_IF_ERROR(bad);
  return counts;
}

}  // namespace sb

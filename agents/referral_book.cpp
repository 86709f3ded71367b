#include "agents/referral_book.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "base/hex.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/utf8.h"
#include "conflict/referral_state.h"
#include "transport/sealed.h"

namespace sb {

namespace {

constexpr char kCursorKey[] = "referral_cursor";

std::string RecordKey(const std::string& id) {
  return "r/" + id;
}
std::string DataKeyKey(const std::string& id) {
  return "k/" + id;
}
std::string QueueKey(uint64_t seq) {
  return "q/" + EncodeSeq(seq);
}

}  // namespace

struct ReferralBook::Entry {
  std::string id, box, sender, recipient, service, urgency;
  uint64_t created_ms = 0, expires_ms = 0;
  std::string consent_scope, consent_by;
  uint64_t consent_at_ms = 0;
  proto::Signed body;  // emptied by purge
  std::vector<proto::Signed> steps;
  std::vector<ReferralStep> step_info;
  std::vector<std::string> actions;
  std::vector<std::pair<uint64_t, std::string>> waiting;  // queue seq, action
  std::string refused;
  bool at_broker = false, purged = false;

  ReferralStatus Status() const { return Replay(actions); }

  std::string Json() const {
    nlohmann::json steps_j = nlohmann::json::array();
    for (size_t i = 0; i < steps.size(); ++i) {
      steps_j.push_back({{"body", ToHex(steps[i].body)},
                         {"signature", ToHex(steps[i].signature)},
                         {"action", step_info[i].action},
                         {"actor", step_info[i].actor},
                         {"reason", step_info[i].reason},
                         {"at_ms", step_info[i].at_ms}});
    }
    nlohmann::json waiting_j = nlohmann::json::array();
    for (const auto& [seq, action] : waiting) waiting_j.push_back({seq, action});
    return DumpJson(nlohmann::json{
        {"id", id},
        {"box", box},
        {"sender", sender},
        {"recipient", recipient},
        {"service", service},
        {"urgency", urgency},
        {"created_ms", created_ms},
        {"expires_ms", expires_ms},
        {"consent", {{"scope", consent_scope}, {"by", consent_by}, {"at_ms", consent_at_ms}}},
        {"body", ToHex(body.body)},
        {"body_signature", ToHex(body.signature)},
        {"steps", steps_j},
        {"waiting", waiting_j},
        {"refused", refused},
        {"at_broker", at_broker},
        {"purged", purged}});
  }

  static Result<Entry> Parse(std::string_view bytes) {
    nlohmann::json j = ParseStoredJson(bytes);
    Entry e;
    try {
      e.id = j.at("id").get<std::string>();
      e.box = j.at("box").get<std::string>();
      e.sender = j.at("sender").get<std::string>();
      e.recipient = j.at("recipient").get<std::string>();
      e.service = j.at("service").get<std::string>();
      e.urgency = j.at("urgency").get<std::string>();
      e.created_ms = j.at("created_ms").get<uint64_t>();
      e.expires_ms = j.at("expires_ms").get<uint64_t>();
      e.consent_scope = j.at("consent").at("scope").get<std::string>();
      e.consent_by = j.at("consent").at("by").get<std::string>();
      e.consent_at_ms = j.at("consent").at("at_ms").get<uint64_t>();
      ASSIGN_OR_RETURN(e.body.body, FromHex(j.at("body").get<std::string>()));
      ASSIGN_OR_RETURN(e.body.signature, FromHex(j.at("body_signature").get<std::string>()));
      for (const auto& s : j.at("steps")) {
        proto::Signed sig;
        ASSIGN_OR_RETURN(sig.body, FromHex(s.at("body").get<std::string>()));
        ASSIGN_OR_RETURN(sig.signature, FromHex(s.at("signature").get<std::string>()));
        e.steps.push_back(std::move(sig));
        e.step_info.push_back(
            ReferralStep{s.at("action").get<std::string>(), s.at("actor").get<std::string>(),
                         s.at("reason").get<std::string>(), s.at("at_ms").get<uint64_t>()});
        e.actions.push_back(e.step_info.back().action);
      }
      for (const auto& w : j.at("waiting")) {
        e.waiting.emplace_back(w.at(0).get<uint64_t>(), w.at(1).get<std::string>());
      }
      e.refused = j.at("refused").get<std::string>();
      e.at_broker = j.at("at_broker").get<bool>();
      e.purged = j.at("purged").get<bool>();
    } catch (const nlohmann::json::exception& ex) {
      return Status::Corruption(std::string("a stored referral is malformed: ") + ex.what());
    }
    return e;
  }
};

ReferralBook::ReferralBook(Store* store, Clock* clock, const Identity& me,
                           std::string broker_sign_public)
    : store_(store),
      clock_(clock),
      me_(me),
      broker_sign_public_(std::move(broker_sign_public)),
      audit_(store) {}

Status ReferralBook::Load() {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(audit_.Load());
  ASSIGN_OR_RETURN(auto c, store_->Get(Cf::kMeta, kCursorKey));
  cursor_ = c ? DecodeSeq(*c) : 0;
  RETURN_IF_ERROR(
      store_->Scan(Cf::kRoster, "", "", [&](std::string_view k, std::string_view v) REQUIRES(mu_) {
        nlohmann::json j = ParseStoredJson(v);
        if (!j.is_object()) return true;
        Key key;
        // Only ever written from a decoded roster; anything else reads as the lesser role.
        Result<Role> role = ParseRole(j.value("role", ""));
        key.role = role.ok() ? *role : Role::kPartner;
        key.revoked = j.value("revoked", false);
        auto sign = FromHex(j.value("sign", ""));
        auto box = FromHex(j.value("box", ""));
        if (sign.ok() && box.ok()) {
          key.sign = *sign;
          key.box = *box;
          if (j.contains("pre_key") && j["pre_key"].is_object()) {
            const nlohmann::json& pk = j["pre_key"];
            auto pub = FromHex(pk.value("key", ""));
            auto sig = FromHex(pk.value("sig", ""));
            proto::SignedPreKey p{pk.value("id", uint64_t{0}), pub.ok() ? *pub : "",
                                  sig.ok() ? *sig : ""};
            if (VerifyPreKey(std::string(k), key.sign, p)) key.pre_key = p;
          }
          roster_[std::string(k)] = key;
        }
        return true;
      }));
  pre_keys_.clear();
  destroyed_pre_keys_.clear();
  RETURN_IF_ERROR(store_->Scan(
      Cf::kReferrals, "d/", "", [&](std::string_view k, std::string_view) REQUIRES(mu_) {
        destroyed_pre_keys_.insert(std::strtoull(std::string(k.substr(2)).c_str(), nullptr, 16));
        return true;
      }));
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, "p/", "",
                               [&](std::string_view, std::string_view v) REQUIRES(mu_) {
                                 if (v.size() != 88) return true;  // not ours to read
                                 HeldPreKey h;
                                 h.pair.id = DecodeSeq(v.substr(0, 8));
                                 h.pair.secret_key = std::string(v.substr(8, 32));
                                 h.pair.public_key = std::string(v.substr(40, 32));
                                 h.created_ms = DecodeSeq(v.substr(72, 8));
                                 h.retired_ms = DecodeSeq(v.substr(80, 8));
                                 if (h.pair.id != 0) pre_keys_[h.pair.id] = std::move(h);
                                 return true;
                               }));
  index_.clear();
  // A stored referral this build cannot read is set aside, never a reason not to start: an
  // agent must not crash-loop on something it stored.
  std::vector<std::pair<std::string, Status>> unreadable;
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, "r/", "",
                               [&](std::string_view k, std::string_view v) REQUIRES(mu_) {
                                 Result<Entry> e = Entry::Parse(v);
                                 if (!e.ok()) {
                                   unreadable.emplace_back(std::string(k.substr(2)), e.status());
                                   return true;
                                 }
                                 Index(*e);
                                 return true;
                               }));
  for (const auto& [id, why] : unreadable) {
    spdlog::error("referrals: stored referral {} is unreadable ({}); set aside", Printable(id),
                  why.message());
    if (!quarantine_) continue;
    QuarantineEntry q;
    q.at_ms = clock_->NowMillis();
    q.source = "stored";
    q.ref = "referral " + Printable(id, 64);
    q.reason = why.message();
    RETURN_IF_ERROR(quarantine_->Add(std::move(q)).status());
  }
  queue_depth_ = 0;
  RETURN_IF_ERROR(store_->Scan(Cf::kReferrals, "q/", "",
                               [&](std::string_view k, std::string_view) REQUIRES(mu_) {
                                 ++queue_depth_;
                                 next_seq_ = std::max(next_seq_, DecodeSeq(k.substr(2)) + 1);
                                 return true;
                               }));
  ASSIGN_OR_RETURN(auto seq, store_->Get(Cf::kMeta, "referral_next_seq"));
  if (seq) next_seq_ = std::max(next_seq_, DecodeSeq(*seq));
  // The first pre-key is made here (and one due for rotation replaced), so that the Hello, which
  // publishes it, makes no commit of its own in the common case.
  return MaintainPreKeys(false).status();
}

Result<std::optional<ReferralBook::Entry>> ReferralBook::Read(const std::string& id) const {
  ASSIGN_OR_RETURN(auto bytes, store_->Get(Cf::kReferrals, RecordKey(id)));
  if (!bytes) return std::optional<Entry>();
  ASSIGN_OR_RETURN(Entry e, Entry::Parse(*bytes));
  return std::optional<Entry>(std::move(e));
}

void ReferralBook::Index(const Entry& e) {
  ReferralInfo i = Info(e);
  index_[e.id] = Summary{i.box, i.status, i.created_ms};
}

ReferralInfo ReferralBook::Info(const Entry& e) {
  ReferralInfo i;
  i.id = e.id;
  i.box = e.box;
  i.sender = e.sender;
  i.recipient = e.recipient;
  i.service = e.service;
  i.urgency = e.urgency;
  i.created_ms = e.created_ms;
  i.expires_ms = e.expires_ms;
  i.consent_scope = e.consent_scope;
  i.consent_by = e.consent_by;
  i.consent_at_ms = e.consent_at_ms;
  i.steps = e.step_info;
  for (const auto& [seq, action] : e.waiting) i.waiting.push_back(action);
  i.refused = e.refused;
  i.at_broker = e.at_broker;
  i.purged = e.purged;
  i.status = (!e.at_broker && e.box == "outbox" && !e.refused.empty()) ? "refused"
                                                                       : StatusName(e.Status());
  return i;
}

std::vector<std::string> ReferralBook::KnownOrganizations() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [org, k] : roster_) {
    if (!k.revoked) out.push_back(org);
  }
  return out;
}

Result<ReferralInfo> ReferralBook::Send(const ReferralRequest& req) {
  uint64_t now = clock_->NowMillis();
  if (req.consent_scope.empty() || req.consent_by.empty()) {
    return Status::InvalidArgument(
        "a referral needs the client's consent: say what it covers (--consent SCOPE) and who "
        "obtained it (--consent-by NAME)");
  }
  RETURN_IF_ERROR(
      CheckText(req.consent_scope, "consent.scope", TextKind::kProse, kMaxConsentScopeBytes));
  RETURN_IF_ERROR(CheckText(req.consent_by, "consent.by", TextKind::kName, kMaxConsentByBytes));
  if (req.consent_at_ms > now + kMaxReferralSkewMs) {
    // The broker refuses it: say so now rather than after queueing it.
    return Status::InvalidArgument("the consent is dated in the future");
  }
  if (req.urgency != "emergency" && req.urgency != "urgent" && req.urgency != "routine") {
    return Status::InvalidArgument("urgency must be emergency, urgent or routine, not '" +
                                   Printable(req.urgency, 40) + "'");
  }
  RETURN_IF_ERROR(CheckText(req.service, "service", TextKind::kName, kMaxServiceIdBytes));
  RETURN_IF_ERROR(CheckText(req.to, "to", TextKind::kName, 128));
  RETURN_IF_ERROR(ParseReferralPayload(req.payload_json).status());
  uint64_t expires = req.expires_ms ? req.expires_ms : now + kDefaultReferralLifetimeMs;
  if (expires <= now || expires > now + kMaxReferralLifetimeMs) {
    return Status::InvalidArgument("the expiry must be in the future, within a year");
  }
  MutexLock lock(mu_);
  auto to = roster_.find(req.to);
  if (to == roster_.end() || to->second.revoked || req.to == me_.pub.org) {
    return Status::NotFound("no enrolled organization " + req.to +
                            " to refer to (the roster comes from the broker; has this agent "
                            "connected yet?)");
  }
  proto::ReferralBody body;
  body.id = NewUuid();
  body.sender = me_.pub.org;
  body.recipient = req.to;
  body.service = req.service;
  body.urgency = req.urgency;
  body.created_ms = now;
  body.expires_ms = expires;
  body.consent_scope = req.consent_scope;
  body.consent_by = req.consent_by;
  body.consent_at_ms = req.consent_at_ms ? req.consent_at_ms : now;
  std::string key = NewDataKey();
  if (!to->second.pre_key.empty()) {
    // Forward secrecy: to the recipient's current signed pre-key, in a sealed box.
    RETURN_IF_ERROR(SealPayloadToPreKey(&body, req.payload_json, key, to->second.pre_key));
  } else {
    // No pre-key published yet (an agent from before issue 14): its long-term key.
    RETURN_IF_ERROR(SealPayload(&body, req.payload_json, key, me_, to->second.box));
  }
  // The consent's scope and advocate are the recipient's to read, not the broker's.
  RETURN_IF_ERROR(SealConsent(&body, key));
  RETURN_IF_ERROR(CheckReferralBody(body, now));  // what the broker and recipient will check
  proto::Signed signed_body = SignBody(me_, body);

  Entry e;
  e.id = body.id;
  e.box = "outbox";
  e.sender = body.sender;
  e.recipient = body.recipient;
  e.service = body.service;
  e.urgency = body.urgency;
  e.created_ms = now;
  e.expires_ms = expires;
  e.consent_scope = req.consent_scope;
  e.consent_by = req.consent_by;
  e.consent_at_ms = body.consent_at_ms;
  e.body = signed_body;
  uint64_t seq = next_seq_;
  WriteBatch b;
  b.Put(Cf::kReferrals, RecordKey(e.id), e.Json());
  b.Put(Cf::kReferrals, DataKeyKey(e.id), key);
  b.Put(Cf::kReferrals, QueueKey(seq),
        proto::EncodeEnvelope(proto::ReferralPost{seq, signed_body, {}}));
  b.Put(Cf::kMeta, "referral_next_seq", EncodeSeq(seq + 1));
  audit_.Append(&b, now, me_.pub.org, "referral.sent", e.id);
  Status s = store_->Commit(std::move(b));
  if (!s.ok()) {
    (void)audit_.Load();
    return s;
  }
  next_seq_ = seq + 1;
  ++queue_depth_;
  Index(e);
  Queued();
  return Info(e);
}

void ReferralBook::Queued() {
  if (on_queued_) on_queued_();
}

Result<ReferralInfo> ReferralBook::Act(const std::string& id, const std::string& action,
                                       const std::string& reason) {
  if (action == "deliver" || action == "expire") {
    return Status::InvalidArgument("'" + action + "' is not something a user does");
  }
  if (action == "decline" && reason.empty()) {
    return Status::InvalidArgument("declining needs a reason (--reason)");
  }
  RETURN_IF_ERROR(CheckText(reason, "reason", TextKind::kProse, kMaxReferralReasonBytes));
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(auto found, Read(id));
  if (!found) return Status::NotFound("no referral " + id + " on this agent");
  Entry e = std::move(*found);
  Party party = e.box == "outbox" ? Party::kSender : Party::kRecipient;
  std::vector<std::string> planned = e.actions;
  for (const auto& [seq, a] : e.waiting) planned.push_back(a);
  ReferralStatus current = Replay(planned);
  RETURN_IF_ERROR(NextStatus(current, action, party).status());
  uint64_t now = clock_->NowMillis();
  proto::TransitionBody t{id, action, me_.pub.org, now, reason};
  uint64_t seq = next_seq_;
  e.waiting.emplace_back(seq, action);
  e.refused.clear();
  WriteBatch b;
  b.Put(Cf::kReferrals, RecordKey(id), e.Json());
  b.Put(Cf::kReferrals, QueueKey(seq),
        proto::EncodeEnvelope(proto::ReferralPost{seq, {}, SignBody(me_, t)}));
  b.Put(Cf::kMeta, "referral_next_seq", EncodeSeq(seq + 1));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  next_seq_ = seq + 1;
  ++queue_depth_;
  Index(e);
  Queued();
  return Info(e);
}

Result<std::vector<ReferralInfo>> ReferralBook::List(const std::string& box,
                                                     const std::string& status) const {
  if (!box.empty() && box != "inbox" && box != "outbox") {
    return Status::InvalidArgument("box must be inbox or outbox");
  }
  if (!status.empty() && !ParseStatus(status) && status != "refused") {
    return Status::InvalidArgument("unknown status '" + status + "'");
  }
  std::vector<ReferralInfo> out;
  MutexLock lock(mu_);
  for (const auto& [id, summary] : index_) {
    if ((!box.empty() && summary.box != box) || (!status.empty() && summary.status != status)) {
      continue;
    }
    ASSIGN_OR_RETURN(auto e, Read(id));
    if (e) out.push_back(Info(*e));
  }
  std::sort(out.begin(), out.end(), [](const ReferralInfo& a, const ReferralInfo& b) {
    return a.created_ms > b.created_ms;
  });
  return out;
}

Result<ReferralInfo> ReferralBook::Get(const std::string& id) const {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(auto e, Read(id));
  if (!e) return Status::NotFound("no referral " + id + " on this agent");
  return Info(*e);
}

Result<std::string> ReferralBook::Payload(const std::string& id) const {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(auto e, Read(id));
  if (!e) return Status::NotFound("no referral " + id + " on this agent");
  if (e->purged) return Status::NotFound("referral " + id + "'s payload was purged on this agent");
  ASSIGN_OR_RETURN(auto key, store_->Get(Cf::kReferrals, DataKeyKey(id)));
  if (!key) return Status::NotFound("referral " + id + " has no data key on this agent");
  ASSIGN_OR_RETURN(proto::ReferralBody body, proto::DecodeReferralBody(e->body.body));
  return OpenPayload(body, *key);
}

Status ReferralBook::Purge(const std::string& id) {
  {
    MutexLock lock(mu_);
    ASSIGN_OR_RETURN(auto found, Read(id));
    if (!found) return Status::NotFound("no referral " + id + " on this agent");
    Entry e = std::move(*found);
    if (e.purged) return Status::Ok();
    // Closed: a final status, or a referral the broker refused (it never went anywhere).
    bool refused_send = e.box == "outbox" && !e.at_broker && !e.refused.empty();
    if (!IsFinal(e.Status()) && !refused_send) {
      return Status::FailedPrecondition(
          std::string("purge a referral once it is closed (completed, declined, expired or "
                      "cancelled); this one is ") +
          StatusName(e.Status()));
    }
    e.purged = true;
    e.body = proto::Signed{};
    WriteBatch b;
    b.Put(Cf::kReferrals, RecordKey(id), e.Json());
    b.Delete(Cf::kReferrals, DataKeyKey(id));
    audit_.Append(&b, clock_->NowMillis(), me_.pub.org, "referral.purged", id);
    Status s = store_->Commit(std::move(b));
    if (!s.ok()) {
      (void)audit_.Load();
      return s;
    }
    Index(e);
  }
  // Rewrite the files so that no older version of the key or the sealed copy remains in the
  // write-ahead log or in table files.
  return store_->CompactAll();
}

void ReferralBook::OnRoster(const proto::Roster& r) {
  Status s = SaveRoster(r);
  if (!s.ok()) spdlog::error("referrals: cannot save the roster: {}", s.ToString());
}

Status ReferralBook::SaveRoster(const proto::Roster& r) {
  MutexLock lock(mu_);
  WriteBatch b;
  std::map<std::string, Key> changed;  // into roster_ once durable
  for (const proto::RosterEntry& e : r.entries) {
    Key k{e.role, e.sign_key, e.box_key, e.revoked, {}};
    // A pre-key counts only with the organization's own signature: the broker cannot slip in
    // a key of its own to read referrals.
    if (!e.pre_key.empty()) {
      if (VerifyPreKey(e.org, e.sign_key, e.pre_key)) {
        k.pre_key = e.pre_key;
      } else {
        spdlog::warn("referrals: the roster's pre-key for {} is not signed by it; left out", e.org);
      }
    }
    auto it = roster_.find(e.org);
    if (it != roster_.end() && it->second.role == k.role && it->second.sign == k.sign &&
        it->second.box == k.box && it->second.revoked == k.revoked &&
        it->second.pre_key == k.pre_key) {
      continue;
    }
    changed[e.org] = k;
    nlohmann::json stored = {{"role", RoleName(k.role)},
                             {"sign", ToHex(k.sign)},
                             {"box", ToHex(k.box)},
                             {"revoked", k.revoked}};
    if (!k.pre_key.empty()) {
      stored["pre_key"] = {
          {"id", k.pre_key.id}, {"key", ToHex(k.pre_key.key)}, {"sig", ToHex(k.pre_key.signature)}};
    }
    b.Put(Cf::kRoster, e.org, DumpJson(stored));
  }
  if (b.count() == 0) return Status::Ok();
  RETURN_IF_ERROR(store_->Commit(std::move(b)).WithContext("saving the roster"));
  for (auto& [org, k] : changed) roster_[org] = std::move(k);
  return Status::Ok();
}

std::vector<proto::ReferralPost> ReferralBook::Pending(size_t max) const {
  std::vector<proto::ReferralPost> out;
  MutexLock lock(mu_);
  Status s = store_->Scan(Cf::kReferrals, "q/", "", [&](std::string_view, std::string_view v) {
    Result<proto::Message> m = proto::DecodeEnvelope(v);
    if (m.ok()) {
      if (auto* p = std::get_if<proto::ReferralPost>(&*m)) out.push_back(std::move(*p));
    }
    return out.size() < max;
  });
  if (!s.ok()) spdlog::error("referrals: cannot read the queue: {}", s.ToString());
  return out;
}

Status ReferralBook::OnAck(const proto::ReferralPostAck& ack) {
  // Not an answer: the broker could not save the post (its store failed). It stays queued
  // and goes again.
  if (!ack.accepted && ack.code == proto::PostRefusalCode::kUnavailable) return Status::Ok();
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(auto bytes, store_->Get(Cf::kReferrals, QueueKey(ack.seq)));
  if (!bytes) return Status::Ok();  // already settled (a repeated ack)
  ASSIGN_OR_RETURN(proto::Message m, proto::DecodeEnvelope(*bytes));
  auto* post = std::get_if<proto::ReferralPost>(&m);
  if (!post) return Status::Corruption("a queued referral post is malformed");
  std::string id, action = "send";
  if (!post->referral.empty()) {
    ASSIGN_OR_RETURN(proto::ReferralBody body, proto::DecodeReferralBody(post->referral.body));
    id = body.id;
  } else {
    ASSIGN_OR_RETURN(proto::TransitionBody t, proto::DecodeTransitionBody(post->transition.body));
    id = t.referral;
    action = t.action;
  }
  WriteBatch b;
  b.Delete(Cf::kReferrals, QueueKey(ack.seq));
  ASSIGN_OR_RETURN(auto found, Read(id));
  if (found) {
    Entry& e = *found;
    if (action == "send") {
      if (ack.accepted) e.at_broker = true;
    }
    e.waiting.erase(std::remove_if(e.waiting.begin(), e.waiting.end(),
                                   [&](const auto& w) { return w.first == ack.seq; }),
                    e.waiting.end());
    if (!ack.accepted) {
      e.refused = (action == "send" ? std::string("the broker refused the referral: ")
                                    : "the broker refused '" + action + "': ") +
                  ack.reason;
      spdlog::warn("referrals: {} of {} refused: {}", action, id, ack.reason);
    }
    b.Put(Cf::kReferrals, RecordKey(id), e.Json());
  }
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  if (found) Index(*found);
  if (queue_depth_ > 0) --queue_depth_;
  return Status::Ok();
}

bool ReferralBook::VerifyStep(const proto::Signed& s, const proto::TransitionBody& t,
                              const std::string& sender, const std::string& recipient) const {
  std::optional<Party> party = ActionParty(t.action);
  if (!party) return false;
  if (*party == Party::kBroker) {
    return t.actor == "broker" && VerifySignature(broker_sign_public_, s.body, s.signature);
  }
  const std::string& who = *party == Party::kSender ? sender : recipient;
  if (t.actor != who) return false;
  auto it = roster_.find(who);
  return it != roster_.end() && VerifySignature(it->second.sign, s.body, s.signature);
}

Status ReferralBook::OnUpdate(const proto::ReferralUpdate& u) {
  MutexLock lock(mu_);
  Status s = ApplyUpdate(u);
  // Transient (the roster is behind, the disk failed): the broker sends it again later.
  if (s.ok() || s.code() == Code::kFailedPrecondition || s.code() == Code::kIoError ||
      s.code() == Code::kUnavailable) {
    return s;
  }
  return SetAsideLocked(u, s);
}

Status ReferralBook::SetAside(const proto::ReferralUpdate& u, const Status& why) {
  MutexLock lock(mu_);
  return SetAsideLocked(u, why);
}

Status ReferralBook::SetAsideLocked(const proto::ReferralUpdate& u, const Status& why) {
  // It will never be usable: keep it aside with the reason, and step the cursor over it so
  // that it is not sent again at every reconnect.
  spdlog::warn("referrals: update {} of referral {} quarantined: {}", u.version, Printable(u.id),
               why.message());
  if (quarantine_) {
    QuarantineEntry q;
    q.at_ms = clock_->NowMillis();
    q.source = "referral";
    q.ref = Printable(u.id, 64) + "@" + std::to_string(u.version);
    q.reason = why.message();
    Result<bool> kept = quarantine_->Add(std::move(q), u.referral.body);
    if (!kept.ok()) return kept.status();
  }
  return SaveCursor(u.version);
}

Status ReferralBook::SaveCursor(uint64_t version) {
  if (version <= cursor_) return Status::Ok();
  WriteBatch b;
  b.Put(Cf::kMeta, kCursorKey, EncodeSeq(version));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  cursor_ = version;
  return Status::Ok();
}

Status ReferralBook::ApplyUpdate(const proto::ReferralUpdate& u) {
  ASSIGN_OR_RETURN(auto found, Read(u.id));
  uint64_t now = clock_->NowMillis();
  WriteBatch b;
  Entry e;
  bool fresh = !found;
  if (found) {
    e = std::move(*found);
  } else {
    // A referral for us: check who sealed it before keeping anything.
    if (u.referral.empty()) {
      // Nothing to keep (over before it was delivered, or our state was lost): only remember
      // that we have seen this version, so it is not sent again at every reconnect.
      return SaveCursor(u.version);
    }
    ASSIGN_OR_RETURN(proto::ReferralBody body, proto::DecodeReferralBody(u.referral.body));
    if (body.id != u.id || body.recipient != me_.pub.org) {
      return Status::PermissionDenied("referral " + u.id +
                                      " is not addressed to this organization");
    }
    auto sender = roster_.find(body.sender);
    if (sender == roster_.end()) {
      return Status::FailedPrecondition("referral " + u.id + " comes from " + body.sender +
                                        ", who is not in this agent's roster yet");
    }
    if (!VerifySignature(sender->second.sign, u.referral.body, u.referral.signature)) {
      return Status::PermissionDenied("referral " + u.id + " has a forged signature; refused");
    }
    Result<std::string> opened =
        body.pre_key_id != 0 ? OpenWithPreKey(body) : OpenDataKey(body, sender->second.box, me_);
    // Sealed to a pre-key whose secret is gone: it can never open; the sender learns why.
    if (opened.status().code() == Code::kNotFound) {
      return RefuseOnReceipt(u, body, opened.status());
    }
    ASSIGN_OR_RETURN(std::string key, std::move(opened));
    // Altered ciphertext: refuse it now.
    ASSIGN_OR_RETURN(std::string payload, OpenPayload(body, key));
    // Every limit the sender claimed to apply, checked again here: the sender's agent and the
    // broker may be hostile or out of date. A referral that breaks one is declined at once.
    // The sealed consent is opened first, so its scope and advocate get the rules of text.
    Status rules = OpenConsent(&body, key);
    if (rules.ok()) rules = CheckReferralBody(body, now, /*received=*/true);
    if (rules.ok()) rules = ParseReferralPayload(payload).status();
    sodium_memzero(payload.data(), payload.size());
    if (!rules.ok()) return RefuseOnReceipt(u, body, rules);
    e.id = body.id;
    e.box = "inbox";
    e.sender = body.sender;
    e.recipient = body.recipient;
    e.service = body.service;
    e.urgency = body.urgency;
    e.created_ms = body.created_ms;
    e.expires_ms = body.expires_ms;
    e.consent_scope = body.consent_scope;
    e.consent_by = body.consent_by;
    e.consent_at_ms = body.consent_at_ms;
    e.body = u.referral;
    e.at_broker = true;
    b.Put(Cf::kReferrals, DataKeyKey(e.id), key);
    audit_.Append(&b, now, e.sender, "referral.received", e.id);
  }
  e.at_broker = true;
  // The broker's history only grows: take the longer one once every step verifies.
  if (u.transitions.size() > e.steps.size()) {
    for (size_t i = 0; i < e.steps.size(); ++i) {
      if (!(u.transitions[i] == e.steps[i])) {
        return Status::Corruption("referral " + u.id + ": the broker's history changed");
      }
    }
    std::vector<proto::Signed> steps = e.steps;
    std::vector<ReferralStep> info = e.step_info;
    for (size_t i = e.steps.size(); i < u.transitions.size(); ++i) {
      ASSIGN_OR_RETURN(proto::TransitionBody t, proto::DecodeTransitionBody(u.transitions[i].body));
      if (t.referral != u.id || !VerifyStep(u.transitions[i], t, e.sender, e.recipient)) {
        return Status::PermissionDenied("referral " + u.id + ": step " + std::to_string(i + 1) +
                                        " (" + t.action +
                                        ") is not signed by the party that may "
                                        "take it; refused");
      }
      steps.push_back(u.transitions[i]);
      info.push_back(ReferralStep{t.action, t.actor, t.reason, t.at_ms});
    }
    for (size_t i = e.steps.size(); i < steps.size(); ++i) {
      e.actions.push_back(info[i].action);
      audit_.Append(&b, now, info[i].actor, "referral." + info[i].action, e.id);
      // Our own step is confirmed: it no longer waits.
      auto w = std::find_if(e.waiting.begin(), e.waiting.end(),
                            [&](const auto& x) { return x.second == info[i].action; });
      if (w != e.waiting.end() && info[i].actor == me_.pub.org) e.waiting.erase(w);
    }
    e.steps = std::move(steps);
    e.step_info = std::move(info);
  }
  // Acknowledge delivery once we hold it durably (this batch): the broker then drops its copy.
  if (fresh) {
    proto::TransitionBody t{e.id, "deliver", me_.pub.org, now, ""};
    uint64_t seq = next_seq_++;
    e.waiting.emplace_back(seq, "deliver");
    b.Put(Cf::kReferrals, QueueKey(seq),
          proto::EncodeEnvelope(proto::ReferralPost{seq, {}, SignBody(me_, t)}));
    b.Put(Cf::kMeta, "referral_next_seq", EncodeSeq(next_seq_));
    ++queue_depth_;
  }
  b.Put(Cf::kReferrals, RecordKey(e.id), e.Json());
  uint64_t cursor = std::max(cursor_, u.version);
  b.Put(Cf::kMeta, kCursorKey, EncodeSeq(cursor));
  Status s = store_->Commit(std::move(b));
  if (!s.ok()) {
    (void)audit_.Load();
    if (fresh) {
      --queue_depth_;
    }
    return s;
  }
  cursor_ = cursor;
  Index(e);
  return Status::Ok();
}

Status ReferralBook::RefuseOnReceipt(const proto::ReferralUpdate& u,
                                     const proto::ReferralBody& body, const Status& why) {
  uint64_t now = clock_->NowMillis();
  std::string reason = "refused by the recipient's agent: " + why.message();
  if (reason.size() > kMaxReferralReasonBytes) reason.resize(kMaxReferralReasonBytes);
  while (!IsUtf8(reason)) reason.pop_back();  // the cut may split a character
  spdlog::warn("referrals: referral {} from {} refused on receipt: {}", body.id, body.sender,
               why.message());
  if (quarantine_) {
    QuarantineEntry q;
    q.at_ms = now;
    q.source = "referral";
    q.ref = body.id + "@" + std::to_string(u.version);
    q.from = body.sender;
    q.reason = why.message();
    RETURN_IF_ERROR(quarantine_->Add(std::move(q), u.referral.body).status());
  }
  // Kept without its payload or key; the sender learns why through a decline.
  Entry e;
  e.id = body.id;
  e.box = "inbox";
  e.sender = body.sender;
  e.recipient = body.recipient;
  e.service = body.service;
  e.urgency = body.urgency;
  e.created_ms = body.created_ms;
  e.expires_ms = body.expires_ms;
  e.consent_scope = body.consent_scope;
  e.consent_by = body.consent_by;
  e.consent_at_ms = body.consent_at_ms;
  e.at_broker = true;
  e.purged = true;
  e.refused = reason;
  WriteBatch b;
  for (const char* action : {"deliver", "decline"}) {
    proto::TransitionBody t{e.id, action, me_.pub.org, now,
                            std::string(action) == "decline" ? reason : ""};
    uint64_t seq = next_seq_++;
    e.waiting.emplace_back(seq, action);
    b.Put(Cf::kReferrals, QueueKey(seq),
          proto::EncodeEnvelope(proto::ReferralPost{seq, {}, SignBody(me_, t)}));
  }
  b.Put(Cf::kMeta, "referral_next_seq", EncodeSeq(next_seq_));
  b.Put(Cf::kReferrals, RecordKey(e.id), e.Json());
  uint64_t cursor = std::max(cursor_, u.version);
  b.Put(Cf::kMeta, kCursorKey, EncodeSeq(cursor));
  audit_.Append(&b, now, me_.pub.org, "referral.refused_on_receipt", e.id);
  Status s = store_->Commit(std::move(b));
  if (!s.ok()) {
    (void)audit_.Load();
    return s;
  }
  queue_depth_ += 2;
  cursor_ = cursor;
  Index(e);
  Queued();
  return Status::Ok();
}

uint64_t ReferralBook::cursor() const {
  MutexLock lock(mu_);
  return cursor_;
}

size_t ReferralBook::queue_depth() const {
  MutexLock lock(mu_);
  return queue_depth_;
}

// ---------- pre-keys ----------

namespace {

std::string PreKeyKey(uint64_t id, char kind = 'p') {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c/%016llx", kind, static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace

Result<size_t> ReferralBook::MaintainPreKeys(bool force) {
  uint64_t now = clock_->NowMillis();
  const HeldPreKey* current = CurrentHeld();
  uint64_t last_id = pre_keys_.empty() ? 0 : pre_keys_.rbegin()->first;
  bool rotate =
      force || current == nullptr || now >= current->created_ms + pre_key_policy_.rotate_ms;
  const uint64_t grace = pre_key_policy_.grace_ms;
  auto expired = [now, grace](const HeldPreKey& h) {
    return h.retired_ms != 0 && now >= h.retired_ms + grace;
  };
  // The common case (every Tick asks): nothing due, nothing copied or written.
  if (!rotate && std::none_of(pre_keys_.begin(), pre_keys_.end(),
                              [&](const auto& kv) { return expired(kv.second); })) {
    return size_t{0};
  }
  WriteBatch b;
  auto put = [&b](const HeldPreKey& h) {
    std::string v = EncodeSeq(h.pair.id) + h.pair.secret_key + h.pair.public_key +
                    EncodeSeq(h.created_ms) + EncodeSeq(h.retired_ms);
    b.Put(Cf::kReferrals, PreKeyKey(h.pair.id), v);
    sodium_memzero(v.data(), v.size());
  };
  std::map<uint64_t, HeldPreKey> next = pre_keys_;
  if (rotate) {
    if (current) {
      HeldPreKey retired = *current;
      retired.retired_ms = now;
      put(retired);
      next[retired.pair.id] = retired;
    }
    // Ids only grow, across restarts too (the broker keeps the highest it was shown).
    HeldPreKey fresh{NewPreKey(std::max(last_id + 1, now)), now, 0};
    if (fresh.pair.secret_key.empty()) return Status::Internal("cannot make a pre-key");
    put(fresh);
    next[fresh.pair.id] = fresh;
  }
  // Destroyed: a retired secret past its grace. Referrals still sealed to it cannot open.
  size_t destroyed = 0;
  std::vector<uint64_t> destroyed_ids;
  for (auto it = next.begin(); it != next.end();) {
    const HeldPreKey& h = it->second;
    if (expired(h)) {
      b.Delete(Cf::kReferrals, PreKeyKey(h.pair.id));
      b.Put(Cf::kReferrals, PreKeyKey(h.pair.id, 'd'), "");  // the id only
      destroyed_ids.push_back(h.pair.id);
      it = next.erase(it);
      ++destroyed;
    } else {
      ++it;
    }
  }
  if (b.count() == 0) return destroyed;
  if (destroyed > 0)
    audit_.Append(&b, now, me_.pub.org, "referral.prekeys_destroyed", std::to_string(destroyed));
  if (Status st = store_->Commit(std::move(b)); !st.ok()) {
    if (destroyed > 0) (void)audit_.Load();
    return st.WithContext("saving the referral pre-keys");
  }
  for (auto& [id, h] : pre_keys_)
    sodium_memzero(h.pair.secret_key.data(), h.pair.secret_key.size());
  pre_keys_ = std::move(next);
  destroyed_pre_keys_.insert(destroyed_ids.begin(), destroyed_ids.end());
  if (rotate) spdlog::info("referrals: new pre-key {}", pre_keys_.rbegin()->first);
  if (destroyed > 0) {
    spdlog::info("referrals: destroyed {} retired pre-key secret(s)", destroyed);
    // What the write-ahead log and table files held of them goes too (flush and compact).
    (void)store_->Erase(Cf::kReferrals);
  }
  return destroyed;
}

proto::SignedPreKey ReferralBook::CurrentPreKey() {
  MutexLock lock(mu_);
  Result<size_t> kept = MaintainPreKeys(false);
  if (!kept.ok()) spdlog::error("referrals: {}", kept.status().ToString());
  const HeldPreKey* current = CurrentHeld();
  return current ? SignPreKey(me_, current->pair) : proto::SignedPreKey{};
}

const ReferralBook::HeldPreKey* ReferralBook::CurrentHeld() const {
  for (const auto& [id, h] : pre_keys_) {
    if (h.retired_ms == 0) return &h;
  }
  return nullptr;
}

uint64_t ReferralBook::CurrentPreKeyId() {
  MutexLock lock(mu_);
  Result<size_t> kept = MaintainPreKeys(false);
  if (!kept.ok()) spdlog::error("referrals: {}", kept.status().ToString());
  const HeldPreKey* current = CurrentHeld();
  return current ? current->pair.id : 0;
}

Result<std::pair<uint64_t, size_t>> ReferralBook::RotatePreKey() {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(size_t destroyed, MaintainPreKeys(true));
  return std::pair<uint64_t, size_t>(pre_keys_.rbegin()->first, destroyed);
}

std::vector<uint64_t> ReferralBook::HeldPreKeys() const {
  MutexLock lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& kv : pre_keys_) out.push_back(kv.first);
  return out;
}

std::map<std::string, uint64_t> ReferralBook::RosterPreKeys() const {
  MutexLock lock(mu_);
  std::map<std::string, uint64_t> out;
  for (const auto& [org, k] : roster_) out[org] = k.pre_key.id;
  return out;
}

Result<std::string> ReferralBook::OpenWithPreKey(const proto::ReferralBody& body) const {
  auto it = pre_keys_.find(body.pre_key_id);
  if (it == pre_keys_.end() && !destroyed_pre_keys_.count(body.pre_key_id)) {
    // Never ours: sealed to another agent of this organization, which can open it. Set aside
    // here (not declined), so that agent's acknowledgement is the one that counts.
    return Status::PermissionDenied("referral " + body.id + " was sealed to pre-key " +
                                    std::to_string(body.pre_key_id) +
                                    ", which is another agent's of this organization");
  }
  if (it == pre_keys_.end()) {
    return Status::NotFound("referral " + body.id + " was sealed to pre-key " +
                            std::to_string(body.pre_key_id) +
                            ", whose secret this agent no longer holds (destroyed after "
                            "rotation); the sender can send it again");
  }
  return OpenDataKeyWithPreKey(body, it->second.pair);
}

}  // namespace sb

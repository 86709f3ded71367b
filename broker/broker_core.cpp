#include "broker/broker_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "base/utf8.h"
#include "broker/review.h"
#include "conflict/codec.h"
#include "conflict/views.h"
#include "store/backup.h"

namespace sb {

namespace {

constexpr char kLogHead[] = "log_head";
constexpr char kLogStart[] = "log_start";
constexpr uint32_t kMaxChunksInFlight = 4;

std::string EncodeLog(const proto::LogEntry& e) {
  return proto::EncodeEnvelope(proto::Updates{{e}, e.seq});
}

Result<proto::LogEntry> DecodeLog(std::string_view bytes) {
  ASSIGN_OR_RETURN(proto::Message m, proto::DecodeEnvelope(bytes));
  auto* u = std::get_if<proto::Updates>(&m);
  if (!u || u->entries.size() != 1) return Status::Corruption("malformed log entry");
  return u->entries.front();
}

// True when the state already holds everything `d` carries (a retry of an acked push).
template <typename Lookup>
bool AlreadyKnown(const Delta& d, const Lookup& lookup) {
  for (const Record& r : d.records) {
    const Record* cur = lookup(r.id());
    if (!cur || !cur->context().Includes(r.context())) return false;
    // A removal brings no new dot: only joining shows whether it changes anything.
    Record joined = *cur;
    joined.Join(r);
    if (!(joined == *cur)) return false;
  }
  return true;
}

// The record deltas that carry out `edits` in turn (a later edit of the same record planned
// on top of the earlier ones), against the records `lookup` finds.
template <typename Lookup>
Result<std::vector<Record>> PlanEdits(const std::vector<RecordEdit>& edits, const Lookup& lookup,
                                      ReplicaId replica, Hlc stamp) {
  Directory work;  // records as earlier edits leave them
  std::vector<Record> out;
  for (const RecordEdit& e : edits) {
    const Record* base = work.Find(e.id) ? work.Find(e.id) : lookup(e.id);
    ASSIGN_OR_RETURN(PlannedEdit plan, PlanEdit(FieldSchema::Hsds(), base, e, replica, stamp));
    if (plan.empty()) continue;
    Record next = base ? *base : Record(e.id, e.kind);
    next.Join(plan.delta);
    work.Replace(next);
    out.push_back(std::move(plan.delta));
  }
  return out;
}

// True when some field of `after` is hidden from other partners in `before` and visible to
// them in `after`.
bool WidensForPartners(const Record& before, const Record& after) {
  const FieldSchema& schema = FieldSchema::Hsds();
  for (const auto& [name, f] : after.fields()) {
    const FieldSpec* spec = schema.Field(after.kind(), name);
    if (!spec) continue;
    if (!Visible(EffectiveAudience(before, *spec), false, Role::kPartner) &&
        Visible(EffectiveAudience(after, *spec), false, Role::kPartner)) {
      return true;
    }
  }
  return false;
}

// What decides who may read a record (fanout.h: the audience epoch).
std::pair<std::string, std::optional<Value>> AudienceOf(const Record* r) {
  if (!r) return {"", std::nullopt};
  return {r->Owner(), r->Displayed("address_confidential")};
}

}  // namespace

BrokerCore::BrokerCore(Store* store, Clock* clock, const Identity& broker, Roster* roster,
                       Options options)
    : store_(store),
      clock_(clock),
      broker_(broker),
      roster_(roster),
      options_(options),
      hlc_(options.max_skew_ms),
      referrals_(store, clock, broker, roster, options.max_open_referrals_per_pair),
      fanout_(broker, options.fanout_cache_bytes) {}

Status BrokerCore::Load() {
  // The hybrid clock is not stored: it is re-derived from the state, past every stamp the
  // state holds (accepted pushes, the broker's own writes), so it never goes back across a
  // restart. A fresh clock would stamp a refusal's state or a checkpoint chunk below the
  // entries in it (the broker accepts stamps up to max_skew_ms ahead of its clock), and
  // agents cannot decode such a delta (codec.h).
  Hlc highest;
  RETURN_IF_ERROR(store_->ForEachRecord([&](const Record& r) {
    dir_.Join(r);
    highest = std::max(highest, HighestStamp(r));
    return true;
  }));
  hlc_.ObserveChecked(highest, clock_->NowMillis());
  ASSIGN_OR_RETURN(auto head, store_->Get(Cf::kMeta, kLogHead));
  if (head) log_head_ = DecodeSeq(*head);
  ASSIGN_OR_RETURN(log_epoch_, LogEpoch(*store_));
  ASSIGN_OR_RETURN(auto start, store_->Get(Cf::kMeta, kLogStart));
  if (start) log_start_ = DecodeSeq(*start);
  if (log_start_ == 0) return Status::Corruption("meta log_start is malformed");
  // The size of every retained entry, to choose between the log and a checkpoint.
  log_bytes_.clear();
  uint64_t total = 0, expect = log_start_;
  RETURN_IF_ERROR(store_->Scan(Cf::kLog, "", "", [&](std::string_view k, std::string_view v) {
    uint64_t seq = DecodeSeq(k);
    if (seq < log_start_) return true;
    for (; expect < seq; ++expect) log_bytes_.push_back(total);  // a hole: counts as empty
    total += v.size();
    log_bytes_.push_back(total);
    expect = seq + 1;
    return true;
  }));
  for (; expect <= log_head_; ++expect) log_bytes_.push_back(total);
  staged_head_ = log_head_;
  RETURN_IF_ERROR(journal_.Load());
  RETURN_IF_ERROR(quarantine_.Load());
  // The broker's own replica (maintainer decisions from review): bound to the broker's
  // organization so that no agent can ever claim it.
  review_replica_ = ReviewReplicaFor(broker_.pub.sign_public);
  RETURN_IF_ERROR(roster_->BindReplica(review_replica_, broker_.pub.org));
  stats_.log_head = log_head_;
  stats_.log_start = log_start_;
  RETURN_IF_ERROR(LoadGc());
  return referrals_.Load();
}

// ---------- messages ----------

void BrokerCore::Send(const std::string& peer, const proto::Message& m,
                      std::vector<Outgoing>* out) {
  if (std::holds_alternative<proto::Updates>(m)) stats_.updates_out++;
  SendShared(peer, std::make_shared<const std::string>(proto::EncodeEnvelope(m)), out);
}

void BrokerCore::SendShared(const std::string& peer, SharedBytes bytes,
                            std::vector<Outgoing>* out) {
  stats_.bytes_out += bytes->size();
  out->push_back(Outgoing{peer, std::move(bytes)});
}

void BrokerCore::Refuse(const std::string& peer, proto::RefusalCode code,
                        const std::string& message, std::vector<Outgoing>* out) {
  Send(peer, proto::Refusal{code, message}, out);
}

void BrokerCore::OnMessage(const std::string& peer, const std::string& org, std::string_view bytes,
                           std::vector<Outgoing>* out) {
  size_t sent_before = out->size();
  try {
    Handle(peer, org, bytes, out);
    return;
  } catch (const std::exception& e) {
    out->resize(sent_before);  // nothing half-done goes out
    Failed(peer, org, bytes, e.what(), out);
  } catch (...) {
    out->resize(sent_before);
    Failed(peer, org, bytes, "an unknown error", out);
  }
}

void BrokerCore::WarnOrg(const std::string& org, const std::string& line) {
  uint64_t suppressed = 0;
  if (!log_limiter_.Allow(org, clock_->MonotonicMillis(), &suppressed)) return;
  if (suppressed > 0) {
    spdlog::warn("{} ({} more from org={} held back)", line, suppressed, Printable(org));
  } else {
    spdlog::warn("{}", line);
  }
}

void BrokerCore::Failed(const std::string& peer, const std::string& org, std::string_view bytes,
                        const std::string& why, std::vector<Outgoing>* out) {
  stats_.failed++;
  std::string what = "message";
  if (Result<proto::Message> m = proto::DecodeEnvelope(bytes); m.ok()) {
    what = proto::MessageName(*m);
  }
  WarnOrg(org, "broker: org=" + Printable(org) + ": a " + what +
                   " could not be processed and was quarantined: " + Printable(why, 300));
  SetAside(org, bytes, "the broker could not process a " + what + ": " + Printable(why, 300));
  try {
    Refuse(peer, proto::RefusalCode::kFailed,
           "the broker could not process this " + what +
               "; it was set aside for the network's maintainers",
           out);
  } catch (const std::exception&) {
    // Nothing can be sent: the peer will time out and retry.
  }
}

void BrokerCore::SetAside(const std::string& org, std::string_view bytes,
                          const std::string& reason) {
  // At most a few per organization and minute: a flood of bad messages must not become a
  // flood of synced writes.
  uint64_t ignored = 0;
  if (!quarantine_limiter_.Allow(org, clock_->MonotonicMillis(), &ignored)) return;
  try {
    QuarantineEntry q;
    q.at_ms = clock_->NowMillis();
    q.source = "message";
    q.from = org;
    q.reason = reason;
    Result<bool> kept = quarantine_.Add(std::move(q), bytes);
    if (kept.ok() && *kept) stats_.quarantined++;
    if (!kept.ok()) spdlog::error("broker: cannot quarantine: {}", kept.status().ToString());
  } catch (const std::exception& e) {
    spdlog::error("broker: cannot quarantine: {}", e.what());
  }
}

void BrokerCore::Handle(const std::string& peer, const std::string& org, std::string_view bytes,
                        std::vector<Outgoing>* out) {
  std::optional<Member> member = roster_->Find(org);
  if (!member || member->revoked) {
    WarnOrg(org, org.empty()
                     ? std::string("broker: a connection whose key was replaced or "
                                   "revoked sent a message; refused")
                     : "broker: org=" + Printable(org) + " refused: not enrolled or revoked");
    if (auto it = sessions_.find(peer); it != sessions_.end()) EndSession(it);
    return Refuse(peer, proto::RefusalCode::kRevoked,
                  "this organization's key is not enrolled (or was revoked)", out);
  }
  Result<proto::Message> msg = proto::DecodeEnvelope(bytes);
  if (!msg.ok()) {
    stats_.malformed++;
    WarnOrg(org, "broker: org=" + org + " sent a malformed message: " + msg.status().message());
    SetAside(org, bytes, "a malformed message: " + msg.status().message());
    return Refuse(peer, proto::RefusalCode::kMalformed, msg.status().message(), out);
  }
  if (auto* h = std::get_if<proto::Hello>(&*msg)) return OnHello(peer, org, *h, out);
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) {
    WarnOrg(org,
            "broker: org=" + org + " sent " + proto::MessageName(*msg) + " before hello; refused");
    return Refuse(peer, proto::RefusalCode::kHelloFirst, "send Hello before anything else", out);
  }
  Session& s = it->second;
  if (auto* p = std::get_if<proto::Push>(&*msg)) return QueuePush(peer, s, std::move(*p), out);
  if (auto* rp = std::get_if<proto::ReferralPost>(&*msg)) {
    std::vector<ReferralRelay::Outbound> updates;
    proto::ReferralPostAck ack = referrals_.OnPost(org, *rp, &updates);
    if (!ack.accepted) {
      WarnOrg(org, "broker: org=" + org + " referral post " + std::to_string(rp->seq) +
                       " refused (" + proto::Name(ack.code) + "): " + ack.reason);
      if (ack.code == proto::PostRefusalCode::kMalformed)
        SetAside(org, bytes, "a malformed referral post: " + ack.reason);
    }
    // The history first, then the ack: the agent settles its post at the ack, and in between
    // it would hold neither the step waiting nor the step taken (its status a step behind; a
    // next step refused as "cannot start a referral that is delivered").
    RouteReferrals(std::move(updates), out);
    return Send(peer, ack, out);
  }
  if (auto* c = std::get_if<proto::Credit>(&*msg)) {
    OnCredit(s, *c);
    return MarkDue(peer, s);
  }
  WarnOrg(org, "broker: org=" + org + " sent an unexpected " + proto::MessageName(*msg));
  Refuse(peer, proto::RefusalCode::kUnexpected,
         std::string("a broker does not accept ") + proto::MessageName(*msg), out);
}

// ---------- sessions ----------

void BrokerCore::OnHello(const std::string& peer, const std::string& org, const proto::Hello& h,
                         std::vector<Outgoing>* out) {
  if (h.protocol_version != proto::kProtocolVersion) {
    WarnOrg(org, "broker: org=" + org + " speaks protocol " + std::to_string(h.protocol_version) +
                     ", refused");
    return Refuse(peer, proto::RefusalCode::kVersion,
                  "protocol version " + std::to_string(h.protocol_version) +
                      " is not supported; this broker speaks version " +
                      std::to_string(proto::kProtocolVersion) + " — upgrade switchboard",
                  out);
  }
  if (h.log_epoch != 0 && h.log_epoch != log_epoch_)
    return OnHello(peer, org, InThisLog(org, h), out);
  Status bound = roster_->BindReplica(h.replica, org, options_.max_replicas_per_org);
  if (bound.code() == Code::kResourceExhausted) stats_.quota_refusals++;
  if (!bound.ok()) {
    WarnOrg(org, "broker: org=" + org + " hello refused: " + bound.message());
    // Only a replica id the agent may not use is final; a failed store write is not (the
    // agent says Hello again).
    bool final = bound.code() == Code::kPermissionDenied ||
                 bound.code() == Code::kInvalidArgument || bound.code() == Code::kResourceExhausted;
    return Refuse(peer, final ? proto::RefusalCode::kReplica : proto::RefusalCode::kUnavailable,
                  bound.message(), out);
  }
  if (h.cursor > log_head_) {
    return Refuse(peer, proto::RefusalCode::kCursor,
                  "the agent's cursor is ahead of this broker's log (was the "
                  "broker restored from an older backup?)",
                  out);
  }
  stats_.hellos++;
  if (!h.pre_key.empty()) {
    // The agent's current referral pre-key: kept and sent to every session when it is new. A
    // bad one is logged and left out; the session goes on (referrals to it fall back to the
    // organization's long-term key).
    if (Status kept = roster_->SetPreKey(org, h.pre_key); !kept.ok()) {
      WarnOrg(org, "broker: org=" + org + " pre-key not kept: " + kept.message());
    }
  }
  Member m = *roster_->Find(org);
  uint32_t window_bytes = h.window_bytes ? h.window_bytes : options_.default_window_bytes;
  window_bytes = std::clamp(window_bytes, options_.min_window_bytes,
                            std::max(options_.min_window_bytes, options_.max_window_bytes));
  uint32_t window = std::clamp<uint32_t>(h.credits ? h.credits : 1024, 1, 1u << 20);
  auto it = sessions_.find(peer);
  if (it != sessions_.end() && it->second.replica == h.replica && h.resume) {
    // A repeat on a live connection: what is in flight still arrives; carry on.
    Session& s = it->second;
    stats_.resumes++;
    s.window = window;
    s.window_bytes = window_bytes;
    OnCredit(s, proto::Credit{0, h.cursor, false, 0});
    MarkDue(peer, s);
    Send(peer,
         proto::Welcome{proto::kProtocolVersion, org, m.role, log_head_, s.checkpoint != nullptr,
                        true, log_epoch_, clock_->NowMillis()},
         out);
    // An agent that has this session's roster needs only what changed since (at 10,000
    // agents a stall's resume that cost a whole roster each was gigabytes).
    SendRoster(peer, s, h.has_roster ? RosterSend::kChanges : RosterSend::kWhole, out);
    Result<std::vector<proto::ReferralUpdate>> missed = referrals_.Since(org, h.referral_cursor);
    if (missed.ok()) {
      for (proto::ReferralUpdate& u : *missed) Send(peer, u, out);
    }
    return;
  }
  // A new session: a new connection, or an agent that asks to start over.
  if (auto r = peer_of_replica_.find(h.replica); r != peer_of_replica_.end()) {
    stats_.restarts++;
    if (auto o = sessions_.find(r->second); o != sessions_.end()) EndSession(o);
  }
  if (auto o = sessions_.find(peer); o != sessions_.end()) EndSession(o);
  if (size_t live = sessions_of_org_[org]; live >= options_.max_sessions_per_org) {
    stats_.quota_refusals++;
    WarnOrg(org, "broker: org=" + org + " hello refused: " + std::to_string(live) +
                     " sessions already (quota)");
    return Refuse(peer, proto::RefusalCode::kUnavailable,
                  "this organization already has " + std::to_string(live) +
                      " agents connected, the most one organization may have; try again "
                      "later, or stop an agent",
                  out);
  }
  // A start from cursor 0 costs the whole log (or a checkpoint): a few per organization and
  // interval, not one per Hello.
  if (uint64_t retry_ms = 0;
      h.cursor == 0 &&
      FullCatchupCost() >= std::max<uint64_t>(1, options_.full_catchup_min_bytes) &&
      !TakeFullCatchup(org, &retry_ms)) {
    stats_.quota_refusals++;
    stats_.catchup_refusals++;
    uint64_t retry_s = (retry_ms + 999) / 1000;
    WarnOrg(org, "broker: org=" + org + " hello from cursor 0 refused: " +
                     std::to_string(options_.full_catchups_per_org) +
                     " full catch-ups in the interval already (quota)");
    return Refuse(peer, proto::RefusalCode::kUnavailable,
                  "this organization's agents started from the beginning of the log " +
                      std::to_string(options_.full_catchups_per_org) + " times in the last " +
                      std::to_string(options_.full_catchup_interval_ms / 1000) +
                      " s, the most one organization may; try again in " + std::to_string(retry_s) +
                      " s",
                  out);
  }
  Session& s = sessions_[peer];
  ++sessions_of_org_[org];
  peer_of_replica_[h.replica] = peer;
  s.org = org;
  s.role = m.role;
  s.key_epoch = m.key_epoch;
  s.replica = h.replica;
  s.own_entries = h.own_entries;
  s.acked = s.sent = s.cursor_saved = h.cursor;
  s.window = window;
  s.window_bytes = window_bytes;
  bool checkpoint = WantsCheckpoint(h.cursor);
  if (checkpoint) StartCheckpoint(s);
  MarkDue(peer, s);
  Send(peer,
       proto::Welcome{proto::kProtocolVersion, org, m.role, log_head_, checkpoint, false,
                      log_epoch_, clock_->NowMillis()},
       out);
  spdlog::info("broker: org={} replica={:016x} connected, cursor {} of {}{}", org, h.replica,
               h.cursor, log_head_, checkpoint ? " (checkpoint)" : "");
  SendRoster(peer, s, RosterSend::kWhole, out);
  SendCollectedSince(peer, h.cursor, out);  // records it may hold that were collected
  // Referrals this organization has not seen: sealed ones held for it, and status changes.
  Result<std::vector<proto::ReferralUpdate>> missed = referrals_.Since(org, h.referral_cursor);
  if (!missed.ok()) {
    spdlog::error("broker: cannot read referrals for org={}: {}", org, missed.status().ToString());
  } else {
    for (proto::ReferralUpdate& u : *missed) Send(peer, u, out);
  }
}

proto::Hello BrokerCore::InThisLog(const std::string& org, const proto::Hello& h) const {
  spdlog::info(
      "broker: org={} replica={:016x} synced with another log (epoch {:016x}, cursor "
      "{}); this log (epoch {:016x}) is sent from its start and the agent re-sends "
      "what it wrote",
      org, h.replica, h.log_epoch, h.cursor, log_epoch_);
  proto::Hello fresh = h;
  fresh.cursor = 0;
  fresh.log_epoch = log_epoch_;
  fresh.resume = false;
  fresh.has_roster = false;
  return fresh;
}

void BrokerCore::OnCredit(Session& s, const proto::Credit& c) {
  if (c.credits > 0) s.window = std::min<uint32_t>(c.credits, 1u << 20);
  if (c.cursor > log_head_) return;  // nonsense: ignore rather than believe it
  if (c.rewind) {
    // The agent dropped what came after its cursor: send it again from there.
    stats_.rewinds++;
    s.acked = s.sent = c.cursor;
    s.in_flight.clear();
    s.in_flight_bytes = 0;
    s.covered = 0;
    s.coalesce_after = 0;
    s.checkpoint.reset();
    if (WantsCheckpoint(c.cursor)) StartCheckpoint(s);
    return;
  }
  if (s.checkpoint) {
    s.chunks_acked = std::max(s.chunks_acked, c.chunks);
    if (s.closing_sent && c.cursor >= s.checkpoint->log_seq) s.checkpoint.reset();  // done
  }
  if (c.cursor > s.acked) {
    s.acked = c.cursor;
    s.sent = std::max(s.sent, c.cursor);
    while (!s.in_flight.empty() && s.in_flight.front().first <= s.acked) {
      s.in_flight_bytes -= std::min<uint64_t>(s.in_flight_bytes, s.in_flight.front().second);
      s.in_flight.pop_front();
    }
  }
}

void BrokerCore::OnDisconnected(const std::string& peer) {
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) return;
  EndSession(it);
  stats_.dropped++;
}

void BrokerCore::MarkDue(const std::string& peer, Session& s) {
  if (s.due) return;
  s.due = true;
  due_.push_back(peer);
}

std::map<std::string, BrokerCore::Session>::iterator BrokerCore::EndSession(
    std::map<std::string, Session>::iterator it) {
  if (auto n = sessions_of_org_.find(it->second.org);
      n != sessions_of_org_.end() && --n->second == 0) {
    sessions_of_org_.erase(n);
  }
  if (auto r = peer_of_replica_.find(it->second.replica);
      r != peer_of_replica_.end() && r->second == it->first) {
    peer_of_replica_.erase(r);
  }
  return sessions_.erase(it);
}

void BrokerCore::RouteReferrals(std::vector<ReferralRelay::Outbound> updates,
                                std::vector<Outgoing>* out) {
  for (auto& [org, update] : updates) {
    SharedBytes bytes;
    for (const auto& [peer, s] : sessions_) {
      if (s.org != org) continue;
      if (!bytes) bytes = std::make_shared<const std::string>(proto::EncodeEnvelope(update));
      SendShared(peer, bytes, out);
    }
  }
}

namespace {

// `members` as roster messages of at most `per_part` entries each.
std::vector<SharedBytes> RosterParts(const std::vector<Member>& members, size_t per_part,
                                     bool changes) {
  std::vector<SharedBytes> parts;
  size_t n = std::max<size_t>(1, (members.size() + per_part - 1) / per_part);
  for (size_t p = 0; p < n; ++p) {
    proto::Roster r;
    r.part = static_cast<uint32_t>(p);
    r.more = p + 1 < n;
    r.changes = changes;
    for (size_t i = p * per_part; i < std::min(members.size(), (p + 1) * per_part); ++i) {
      const Member& m = members[i];
      r.entries.push_back(proto::RosterEntry{m.identity.org, m.role, m.identity.sign_public,
                                             m.identity.box_public, m.revoked, m.retired_sign_keys,
                                             m.pre_key});
    }
    parts.push_back(std::make_shared<const std::string>(proto::EncodeEnvelope(r)));
  }
  return parts;
}

}  // namespace

void BrokerCore::SendRoster(const std::string& peer, Session& s, RosterSend what,
                            std::vector<Outgoing>* out) {
  uint64_t version = roster_->version();
  if (roster_message_version_ != version) {
    roster_parts_.clear();
    roster_changes_.clear();
    roster_message_version_ = version;
  }
  const std::vector<SharedBytes>* parts = &roster_parts_;
  if (what == RosterSend::kChanges && s.roster_version != 0) {
    // Only what changed: one enrollment costs one entry per session, not the whole roster.
    auto [it, fresh] = roster_changes_.try_emplace(s.roster_version);
    if (fresh) {
      it->second = RosterParts(roster_->ChangedSince(s.roster_version), kRosterPartEntries, true);
    }
    parts = &it->second;
  } else if (roster_parts_.empty()) {
    // In parts of kRosterPartEntries: with thousands of members the roster is megabytes, and
    // every peer's connection encrypts its own copy of the message it is sending — small
    // parts keep that copy small (and let other messages through between them).
    roster_parts_ = RosterParts(roster_->List(), kRosterPartEntries, false);
  }
  s.roster_version = version;
  for (const SharedBytes& part : *parts) SendShared(peer, part, out);  // same bytes for all
}

// ---------- ingest, with group commit ----------

bool BrokerCore::TakeToken(const std::string& org) {
  uint64_t now = clock_->MonotonicMillis();
  auto [it, fresh] = buckets_.try_emplace(org, Bucket{options_.rate_burst, now});
  Bucket& b = it->second;
  b.tokens =
      std::min(options_.rate_burst, b.tokens + (now - b.at_ms) * options_.rate_per_s / 1000.0);
  b.at_ms = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

bool BrokerCore::LogAllowance(const std::string& org, Role role) {
  if (role == Role::kMaintainer) return true;
  double cap = static_cast<double>(options_.log_bytes_per_hour);
  uint64_t now = clock_->MonotonicMillis();
  auto [it, fresh] = log_allowance_.try_emplace(org, Bucket{cap, now});
  Bucket& b = it->second;
  b.tokens = std::min(cap, b.tokens + static_cast<double>(now - b.at_ms) * cap / 3'600'000.0);
  b.at_ms = now;
  return b.tokens > 0;
}

void BrokerCore::ChargeLog(const std::string& org, Role role, size_t bytes) {
  if (role == Role::kMaintainer) return;
  if (auto it = log_allowance_.find(org); it != log_allowance_.end()) {
    it->second.tokens -= static_cast<double>(bytes);
  }
}

bool BrokerCore::TakeFullCatchup(const std::string& org, uint64_t* retry_ms) {
  uint64_t now = clock_->MonotonicMillis();
  std::deque<uint64_t>& times = full_catchups_[org];
  while (!times.empty() && now - times.front() >= options_.full_catchup_interval_ms) {
    times.pop_front();
  }
  if (times.size() >= options_.full_catchups_per_org) {
    *retry_ms = times.empty() ? options_.full_catchup_interval_ms
                              : times.front() + options_.full_catchup_interval_ms - now;
    return false;
  }
  times.push_back(now);
  return true;
}

void BrokerCore::QueuePush(const std::string& peer, Session& s, proto::Push p,
                           std::vector<Outgoing>* out) {
  std::deque<QueuedPush>& queue = push_queues_[s.org];
  if (queue.size() >= options_.max_queued_pushes_per_org) {
    stats_.quota_refusals++;
    WarnOrg(s.org, "broker: org=" + s.org + " push refused: " + std::to_string(queue.size()) +
                       " pushes waiting already (quota)");
    return Refuse(peer, proto::RefusalCode::kUnavailable,
                  "this organization has " + std::to_string(queue.size()) +
                      " pushes waiting at the broker, the most one organization may have; push "
                      "again later",
                  out);
  }
  if (queue.empty()) push_order_.push_back(s.org);
  queue.push_back(QueuedPush{peer, s.replica, std::move(p)});
  ++pushes_queued_;
}

void BrokerCore::StageQueued() {
  size_t items = 0;
  while (!push_order_.empty() && items < options_.ingest_turn_items) {
    std::string org = std::move(push_order_.front());
    push_order_.pop_front();
    auto queue = push_queues_.find(org);
    if (queue == push_queues_.end()) continue;
    QueuedPush next = std::move(queue->second.front());
    queue->second.pop_front();
    --pushes_queued_;
    if (queue->second.empty()) {
      push_queues_.erase(queue);
    } else {
      push_order_.push_back(std::move(org));  // its next push after every other one's
    }
    auto it = sessions_.find(next.peer);
    // The session ended meanwhile: nothing was acknowledged, its agent pushes again.
    if (it == sessions_.end() || it->second.replica != next.replica) continue;
    items += std::max<size_t>(1, next.push.items.size());
    StagePush(next.peer, it->second, next.push);
  }
}

void BrokerCore::StagePush(const std::string& peer, Session& s, const proto::Push& p) {
  if (staged_.size() >= options_.group_commit_pushes) CommitStaged();
  stats_.pushes++;
  if (!LogAllowance(s.org, s.role)) {
    stats_.quota_refusals++;
    stats_.log_quota_refusals++;
    WarnOrg(s.org,
            "broker: org=" + s.org + " push refused: its log bytes per hour are spent (quota)");
    uint64_t quota = options_.log_bytes_per_hour;
    std::string amount = quota >= (1u << 20) && quota % (1u << 20) == 0
                             ? std::to_string(quota >> 20) + " MiB"
                             : std::to_string(quota) + " bytes";
    Send(peer,
         proto::Refusal{proto::RefusalCode::kUnavailable,
                        "this organization's pushes wrote " + amount +
                            " of log within the last hour, the most one organization may; "
                            "the broker takes them again as the hour goes by: push again later"},
         &pending_);
    return;
  }
  Author who{s.org, s.role, s.replica};
  uint64_t now = clock_->NowMillis();
  auto lookup = [this](const std::string& id) { return StagedLookup(id); };
  StagedPush staged{peer, s.org, proto::PushAck{p.batch, {}}, {}, {}, s.role};
  std::vector<Delta> pushed;       // a maintainer's deltas, accepted or known, for publication
  std::set<std::string> backfill;  // records whose audience widened for partners
  for (const proto::PushItem& item : p.items) {
    if (!TakeToken(s.org)) {
      // Not acknowledged either way: the agent keeps it and pushes again later.
      stats_.throttled++;
      continue;
    }
    // One item that cannot be judged (a bug, an exhausted allocator) is refused on its own;
    // the rest of the push goes on.
    Result<Delta> d = Status::Internal("");
    try {
      d = ValidatePush(item.delta, who, lookup, *roster_, hlc_, now, options_.limits);
    } catch (const std::exception& e) {
      stats_.failed++;
      d = Status::Internal(std::string("the broker could not judge this delta: ") +
                           Printable(e.what(), 200));
    }
    // A late edit of a collected record: refused with that reason, whatever else is wrong
    // with it (its context names writes the broker collected).
    if (Status collected = RefuseCollectedDelta(item.delta.delta); !collected.ok()) d = collected;
    if (!d.ok()) {
      stats_.rejected++;
      WarnOrg(s.org, "broker: org=" + s.org + " delta " + std::to_string(item.outbox_seq) +
                         " refused: " + d.status().message());
      journal_.StageRefusal(&staged_batch_, now, s.org, s.replica, d.status().message(),
                            item.delta.delta);
      // Send back the broker's state of what the delta touched, for the agent to take it back.
      Delta current{1, hlc_.Now(now), {}};
      if (Result<Delta> raw = DecodeDelta(item.delta.delta); raw.ok()) {
        for (const Record& r : raw->records) {
          if (const Record* cur = lookup(r.id())) current.records.push_back(*cur);
        }
      }
      bool filtered = false;
      Delta visible = FilterFor(current, s.org, s.role, lookup, &filtered);
      // log_seq: the log position this state reflects (with what is staged before it).
      staged.ack.results.push_back(proto::PushResult{item.outbox_seq, false, d.status().message(),
                                                     staged_head_, EncodeDelta(visible)});
      continue;
    }
    if (AlreadyKnown(*d, lookup)) {
      staged.ack.results.push_back(proto::PushResult{item.outbox_seq, true, "", 0, ""});
      if (s.role == Role::kMaintainer) pushed.push_back(std::move(d).value());
      continue;
    }
    (void)hlc_.Observe(d->stamp, now);
    for (const Record& r : d->records) {
      staged_batch_.MergeRecord(r);
      const Record* before = lookup(r.id());
      Record next = before ? *before : Record(r.id(), r.kind());
      next.Join(r);
      if (before && WidensForPartners(*before, next)) backfill.insert(r.id());
      staged_state_[r.id()] = std::move(next);
    }
    const StagedEntry& logged = StageLogEntry(item.delta, std::make_shared<const Delta>(*d));
    uint64_t seq = logged.entry.seq;
    ChargeLog(s.org, s.role, logged.bytes);
    ReviewJournal::StageHistory(&staged_batch_, *d, s.org, seq, "push");
    staged.ack.results.push_back(proto::PushResult{item.outbox_seq, true, "", seq, ""});
    if (s.role == Role::kMaintainer) pushed.push_back(*d);
    staged.accepted.push_back(std::move(d).value());
  }
  if (!pushed.empty()) StagePublication(staged, pushed, now);
  // Fields that partners could not see before this push and now may (a location's address
  // whose address_confidential was cleared): they were filtered out of earlier updates, so
  // the whole record follows in a broker entry, projected for each view as it is sent.
  for (const std::string& id : backfill) {
    Delta whole{1, hlc_.Now(now), {staged_state_[id]}};
    std::string bytes = EncodeDelta(whole);
    std::string sig = Sign(broker_, bytes);
    StageLogEntry(proto::SignedDelta{bytes, "broker", "broker", sig},
                  std::make_shared<const Delta>(std::move(whole)));
  }
  staged_.push_back(std::move(staged));
}

void BrokerCore::CommitStaged() {
  if (staged_.empty()) return;
  std::vector<StagedPush> staged = std::move(staged_);
  std::vector<StagedEntry> entries = std::move(staged_entries_);
  staged_.clear();
  staged_entries_.clear();
  staged_state_.clear();
  WriteBatch batch = std::move(staged_batch_);
  staged_batch_ = WriteBatch();
  if (staged_head_ != log_head_) batch.Put(Cf::kMeta, kLogHead, EncodeSeq(staged_head_));
  Status st = batch.count() > 0 ? store_->Commit(std::move(batch)) : Status::Ok();
  if (!st.ok()) {
    spdlog::error("broker: cannot save {} push(es): {}", staged.size(), st.ToString());
    staged_head_ = log_head_;
    for (const StagedPush& p : staged) {
      Send(p.peer, proto::Refusal{proto::RefusalCode::kUnavailable, NotSavedReason(st, "the push")},
           &pending_);
    }
    return;
  }
  stats_.group_commits++;
  stats_.pushes_committed += staged.size();
  for (StagedEntry& staged_entry : entries) {
    log_bytes_.push_back((log_bytes_.empty() ? 0 : log_bytes_.back()) + staged_entry.bytes);
    auto e = std::make_shared<LoggedEntry>();
    e->seq = staged_entry.entry.seq;
    e->bytes = staged_entry.bytes;
    e->logged = std::move(staged_entry.entry.delta);
    e->delta = std::move(staged_entry.delta);
    RememberEntry(std::move(e));
  }
  log_head_ = staged_head_;
  for (StagedPush& p : staged) {
    for (const Delta& d : p.accepted) JoinCommitted(d);
    for (const Delta& d : p.published) JoinCommitted(d);
    stats_.accepted += p.accepted.size();
  }
  // The broker's backfill entries carry whole records already joined above.
  for (StagedPush& p : staged) Send(p.peer, p.ack, &pending_);
  if (log_head_ >= log_start_ + options_.log_retention + options_.log_retention / 10) {
    Status trimmed = TrimLog(options_.log_retention);
    if (!trimmed.ok()) spdlog::error("broker: cannot trim the log: {}", trimmed.ToString());
  }
}

void BrokerCore::JoinCommitted(const Delta& d) {
  for (const Record& r : d.records) {
    gc_touched_.insert(r.id());  // its history may need bounding (broker_gc.cpp)
    auto before = AudienceOf(dir_.Find(r.id()));
    dir_.Join(r);
    if (AudienceOf(dir_.Find(r.id())) != before) audience_epoch_++;
  }
}

// ---------- streaming ----------

bool BrokerCore::CanSend(const Session& s) const {
  return s.sent - s.acked < s.window && s.in_flight_bytes < WindowBytes(s);
}

uint64_t BrokerCore::WindowBytes(const Session& s) const {
  uint64_t share = options_.in_flight_budget_bytes / std::max<size_t>(1, sessions_.size());
  return std::min<uint64_t>(s.window_bytes, std::max<uint64_t>(options_.min_window_bytes, share));
}

void BrokerCore::NoteSent(Session& s, uint64_t last_seq, size_t bytes) {
  s.sent = std::max(s.sent, last_seq);
  s.in_flight.emplace_back(last_seq, static_cast<uint32_t>(std::min<size_t>(bytes, UINT32_MAX)));
  s.in_flight_bytes += bytes;
}

uint64_t BrokerCore::LogBytesAfter(uint64_t cursor) const {
  if (cursor + 1 < log_start_) return UINT64_MAX;
  if (log_bytes_.empty() || cursor >= log_head_) return 0;
  uint64_t before = cursor >= log_start_ ? log_bytes_[cursor - log_start_] : 0;
  return log_bytes_.back() - before;
}

uint64_t BrokerCore::FullCatchupCost() const {
  if (log_head_ == 0) return 0;
  uint64_t state = dir_.size() * 400;
  if (auto it = checkpoints_.find(View::Partners().Key()); it != checkpoints_.end()) {
    state = it->second->bytes;
  }
  return std::min(LogBytesAfter(0), state);
}

bool BrokerCore::WantsCheckpoint(uint64_t cursor) const {
  if (cursor + 1 < log_start_) return true;  // what it lacks was trimmed
  // The log up to the collection horizon may touch collected records (broker/gc.h).
  if (cursor < gc_horizon_ && cursor < log_head_) return true;
  if (cursor >= log_head_ || dir_.size() == 0) return false;
  // The log after the cursor against the state it builds: a checkpoint when the log is the
  // larger (long-offline agents, history rewritten many times), or for a new agent joining
  // a long log. Either way what is sent stays near what the agent needs.
  uint64_t state_estimate = 0;
  if (auto it = checkpoints_.find(View::Partners().Key()); it != checkpoints_.end()) {
    state_estimate = it->second->bytes;
  } else {
    state_estimate = dir_.size() * 400;
  }
  // A short way behind, the log is always the better choice (and what an agent that was
  // away a moment expects).
  if (log_head_ - cursor < 64) return false;
  return LogBytesAfter(cursor) > state_estimate + state_estimate / 2;
}

std::shared_ptr<const BrokerCore::Checkpoint> BrokerCore::CheckpointFor(const View& view) {
  std::string key = view.Key();
  uint64_t now = clock_->MonotonicMillis();
  if (auto it = checkpoints_.find(key); it != checkpoints_.end()) {
    const Checkpoint& cp = *it->second;
    // Reusable only while the log still holds every entry after it: an agent brought to a
    // checkpoint whose next entries were trimmed would be sent the same checkpoint again.
    if (cp.epoch == audience_epoch_ &&
        log_head_ - cp.log_seq <= options_.checkpoint_reuse_entries &&
        cp.log_seq + 1 >= log_start_ && now - cp.built_ms <= options_.checkpoint_reuse_ms) {
      return it->second;
    }
  }
  auto cp = std::make_shared<Checkpoint>();
  cp->id = ++snapshot_counter_;
  cp->log_seq = log_head_;
  cp->epoch = audience_epoch_;
  cp->built_ms = now;
  auto lookup = [this](const std::string& id) { return Lookup(id); };
  Delta chunk{1, hlc_.Now(clock_->NowMillis()), {}};
  auto flush = [&] {
    if (chunk.records.empty()) return;
    Delta visible = chunk;
    if (view.kind != View::Kind::kFull) {
      bool filtered = false;
      visible = FilterFor(chunk, kNoOrganization, Role::kPartner, lookup, &filtered);
    }
    visible.author = 1;  // the broker; checkpoints are not attributed to a replica
    std::string bytes = EncodeDelta(visible);
    std::string sig = Sign(broker_, bytes);
    auto index = static_cast<uint32_t>(cp->chunks.size());
    auto message = std::make_shared<const std::string>(proto::EncodeEnvelope(
        proto::SnapshotChunk{cp->id, index, false, cp->log_seq, std::move(bytes), std::move(sig)}));
    cp->bytes += message->size();
    cp->chunks.push_back(std::move(message));
    chunk.records.clear();
  };
  for (const auto& [rid, r] : dir_.records()) {
    chunk.records.push_back(r);
    if (chunk.records.size() == options_.snapshot_chunk_records) flush();
  }
  flush();
  stats_.checkpoints_built++;
  checkpoints_[key] = cp;
  return cp;
}

void BrokerCore::StartCheckpoint(Session& s) {
  stats_.snapshots++;
  s.checkpoint = CheckpointFor(s.role == Role::kMaintainer ? View::Full() : View::Partners());
  s.chunk_next = 0;
  s.chunks_acked = 0;
  s.closing_sent = false;
  s.in_flight.clear();
  s.in_flight_bytes = 0;
}

SharedBytes BrokerCore::ClosingChunk(const Session& s) {
  // The session's own records, whole (the shared chunks left out what only owners read).
  Delta own{1, hlc_.Now(clock_->NowMillis()), {}};
  if (s.role != Role::kMaintainer) {
    for (const auto& [rid, r] : dir_.records()) {
      if (r.Owner() == s.org) own.records.push_back(r);
    }
  }
  std::string bytes = EncodeDelta(own);
  std::string sig = Sign(broker_, bytes);
  const Checkpoint& cp = *s.checkpoint;
  return std::make_shared<const std::string>(proto::EncodeEnvelope(
      proto::SnapshotChunk{cp.id, static_cast<uint32_t>(cp.chunks.size()), true, cp.log_seq,
                           std::move(bytes), std::move(sig)}));
}

size_t BrokerCore::PumpCheckpoint(const std::string& peer, Session& s, std::vector<Outgoing>* out) {
  const Checkpoint& cp = *s.checkpoint;
  size_t cost = 0;
  while (s.chunk_next < cp.chunks.size() && s.chunk_next - s.chunks_acked < kMaxChunksInFlight &&
         cost < options_.session_turn_bytes) {
    SharedBytes chunk = cp.chunks[s.chunk_next++];
    cost += chunk->size();
    SendShared(peer, std::move(chunk), out);
  }
  if (s.chunk_next == cp.chunks.size() && !s.closing_sent &&
      s.chunk_next - s.chunks_acked < kMaxChunksInFlight) {
    SharedBytes closing = ClosingChunk(s);
    cost += closing->size();
    SendShared(peer, closing, out);
    s.closing_sent = true;
    // The log continues after the checkpoint once the agent confirms it.
    s.sent = std::max(s.sent, cp.log_seq);
  }
  return cost;
}

View BrokerCore::ViewOf(const Session& s, LoggedEntry& e) {
  if (s.role == Role::kMaintainer) return View::Full();
  if (!e.delta) return View::Partners();
  if (e.owners_epoch != audience_epoch_) {
    e.owners = OwnersOf(*e.delta, [this](const std::string& id) { return Lookup(id); });
    e.owners_epoch = audience_epoch_;
  }
  return std::binary_search(e.owners.begin(), e.owners.end(), s.org) ? View::Owner(s.org)
                                                                     : View::Partners();
}

size_t BrokerCore::PumpLog(const std::string& peer, Session& s, std::vector<Outgoing>* out) {
  size_t cost = 0;
  proto::Updates batch;
  size_t batch_bytes = 0;
  auto flush = [&] {
    if (batch.entries.empty()) return;
    batch.head = log_head_;
    uint64_t last = batch.entries.back().seq;
    auto bytes = std::make_shared<const std::string>(proto::EncodeEnvelope(batch));
    stats_.updates_out++;
    NoteSent(s, last, bytes->size());
    cost += bytes->size();
    SendShared(peer, std::move(bytes), out);
    batch.entries.clear();
    batch_bytes = 0;
  };
  auto lookup = [this](const std::string& id) { return Lookup(id); };
  if (options_.coalesce_backlog_entries > 0 && s.covered <= s.sent && s.sent >= s.coalesce_after &&
      log_head_ - s.sent > options_.coalesce_backlog_entries && CanSend(s)) {
    if (SharedBytes state = CoalescedState(s)) {
      stats_.updates_out++;
      coalesced_++;
      NoteSent(s, s.sent + 1, state->size());
      s.covered = log_head_;
      cost += state->size();
      SendShared(peer, std::move(state), out);
    } else {
      // Too many records (an import) or an unreadable entry: the log as it is, for a while.
      s.coalesce_after = s.sent + options_.coalesce_backlog_entries;
    }
  }
  uint64_t next = s.sent + 1;
  while (next <= log_head_ && cost < options_.session_turn_bytes) {
    // The window counts what is in this unsent batch too.
    if (next - 1 - s.acked >= s.window || s.in_flight_bytes + batch_bytes >= WindowBytes(s)) {
      break;
    }
    std::shared_ptr<LoggedEntry> e = Entry(next);
    if (!e) {
      flush();
      if (next < log_start_) {  // trimmed under the session's feet
        StartCheckpoint(s);
      } else {
        spdlog::error("broker: log entry {} is unreadable; org={} waits", next, s.org);
      }
      return cost;
    }
    // The agent's own writes, and entries whose records' state it was sent (coalesced):
    // only the position, not the bytes it already has.
    if (next <= s.covered || (!s.own_entries && e->logged.author == s.org && e->delta &&
                              e->delta->author == s.replica)) {
      batch.entries.push_back(
          proto::LogEntry{next, proto::SignedDelta{"", e->logged.author, "", ""}});
      batch_bytes += 32;
    } else {
      std::shared_ptr<ProjectedEntry> p = fanout_.Get(*e, ViewOf(s, *e), audience_epoch_, lookup);
      bool last_available = next == log_head_;
      if (p->bytes > options_.batch_entry_bytes || (batch.entries.empty() && last_available)) {
        // Large entries, and a live session's newest entry, go as the view's shared message.
        flush();
        SharedBytes single = fanout_.Single(*p, log_head_);
        NoteSent(s, next, single->size());
        cost += single->size();
        stats_.updates_out++;
        SendShared(peer, std::move(single), out);
        ++next;
        continue;
      }
      batch.entries.push_back(p->entry);
      batch_bytes += p->bytes + 32;
    }
    ++next;
    if (batch_bytes >= options_.batch_bytes ||
        batch.entries.size() >= options_.max_entries_per_update) {
      flush();
    }
  }
  flush();
  return cost;
}

SharedBytes BrokerCore::CoalescedState(const Session& s) {
  if (coalesced_cache_head_ != log_head_ || coalesced_cache_epoch_ != audience_epoch_) {
    coalesced_cache_.clear();
    coalesced_cache_head_ = log_head_;
    coalesced_cache_epoch_ = audience_epoch_;
  }
  std::set<std::string> ids;
  for (uint64_t seq = s.sent + 1; seq <= log_head_; ++seq) {
    std::shared_ptr<LoggedEntry> e = Entry(seq);
    if (!e || !e->delta) return nullptr;  // stream it entry by entry instead
    for (const Record& r : e->delta->records) ids.insert(r.id());
    // Many records (an import): a checkpoint's worth; the log is streamed as it is.
    if (ids.size() > options_.snapshot_chunk_records) return nullptr;
  }
  bool owns = false;
  if (s.role != Role::kMaintainer) {
    for (const std::string& id : ids) {
      const Record* r = Lookup(id);
      if (r && r->Owner() == s.org) owns = true;
    }
  }
  View view = s.role == Role::kMaintainer ? View::Full()
              : owns                      ? View::Owner(s.org)
                                          : View::Partners();
  std::string key = EncodeSeq(s.sent + 1) + view.Key();
  if (auto it = coalesced_cache_.find(key); it != coalesced_cache_.end()) return it->second;
  Delta state{1, hlc_.Now(clock_->NowMillis()), {}};
  for (const std::string& id : ids) {
    if (const Record* r = Lookup(id)) state.records.push_back(*r);
  }
  if (view.kind != View::Kind::kFull) {
    bool filtered = false;
    const std::string& org = view.kind == View::Kind::kOwner ? view.org : kNoOrganization;
    state = FilterFor(
        state, org, Role::kPartner, [this](const std::string& id) { return Lookup(id); },
        &filtered);
    state.author = 1;
  }
  proto::SignedDelta signed_state{"", "broker", "", ""};
  if (!state.records.empty()) {
    std::string bytes = EncodeDelta(state);
    std::string sig = Sign(broker_, bytes);
    signed_state = proto::SignedDelta{std::move(bytes), "broker", "broker", std::move(sig)};
  }
  auto message = std::make_shared<const std::string>(proto::EncodeEnvelope(
      proto::Updates{{proto::LogEntry{s.sent + 1, std::move(signed_state)}}, log_head_}));
  coalesced_cache_[key] = message;
  return message;
}

size_t BrokerCore::PumpSession(const std::string& peer, Session& s, uint64_t roster_version,
                               bool* erase, std::vector<Outgoing>* out) {
  size_t cost = 0;
  if (s.roster_version != roster_version) {
    std::optional<Member> m = roster_->Find(s.org);
    if (!m || m->revoked || m->key_epoch != s.key_epoch) {
      bool rekeyed = m && !m->revoked;
      spdlog::warn("broker: org={} {}; cutting its agent off", s.org,
                   rekeyed ? "has new keys (a session of the old key)" : "revoked");
      Refuse(peer, proto::RefusalCode::kRevoked,
             rekeyed ? "this organization's keys were replaced; this key is no longer enrolled"
                     : "this organization's enrollment was revoked",
             out);
      *erase = true;
      return 0;
    }
    s.role = m->role;
    SendRoster(peer, s, RosterSend::kChanges, out);
  }
  if (s.checkpoint) {
    if (!s.closing_sent || s.acked < s.checkpoint->log_seq) {
      return cost + PumpCheckpoint(peer, s, out);
    }
    s.checkpoint.reset();
  }
  return cost + PumpLog(peer, s, out);
}

bool BrokerCore::Pump(std::vector<Outgoing>* out) {
  StageQueued();
  CommitStaged();
  for (Outgoing& o : pending_) out->push_back(std::move(o));
  pending_.clear();
  uint64_t now = clock_->MonotonicMillis();
  if (now >= next_expiry_check_ms_) {
    next_expiry_check_ms_ = now + 1000;
    std::vector<ReferralRelay::Outbound> expired;
    Status st = referrals_.ExpireDue(&expired);
    if (!st.ok()) spdlog::error("broker: cannot expire referrals: {}", st.ToString());
    RouteReferrals(std::move(expired), out);
  }
  erase_pending_ |= referrals_.TakeBodiesDropped() > 0;
  if (erase_pending_ && now >= next_erase_ms_) {
    next_erase_ms_ = now + options_.erase_interval_ms;
    Status st = store_->Erase(Cf::kReferrals);
    if (st.ok()) {
      erase_pending_ = false;
    } else {
      spdlog::error("broker: cannot erase dropped referral bodies from the store's files: {}",
                    st.ToString());
    }
  }
  if (now >= next_cursor_flush_ms_) {
    next_cursor_flush_ms_ = now + options_.cursor_flush_ms;
    SaveCursors(false);
  }
  if (options_.gc_interval_ms > 0 && now >= next_gc_ms_) {
    next_gc_ms_ = now + options_.gc_interval_ms;
    if (Result<GcReport> gc = CollectTombstones(out); !gc.ok()) {
      spdlog::error("broker: cannot collect deleted records: {}", gc.status().ToString());
    }
  }
  uint64_t roster_version = roster_->version();
  if (log_head_ != pumped_head_ || roster_version != pumped_roster_version_) {
    pumped_head_ = log_head_;
    pumped_roster_version_ = roster_version;
    for (auto& [peer, s] : sessions_) MarkDue(peer, s);
  }
  size_t spent = 0;
  // Round-robin over the due sessions: one visit each per pass (a session that sent something
  // goes to the back, to be visited again), until the turn's budget is spent.
  for (size_t n = due_.size(); n > 0 && spent < options_.turn_bytes; --n) {
    std::string peer = std::move(due_.front());
    due_.pop_front();
    auto it = sessions_.find(peer);
    if (it == sessions_.end() || !it->second.due) continue;
    Session& s = it->second;
    s.due = false;
    bool erase = false;
    size_t sent_before = out->size();
    size_t cost = 0;
    // What a visit may change without sending (a checkpoint started for a trimmed log).
    const Checkpoint* checkpoint_before = s.checkpoint.get();
    try {
      cost = PumpSession(peer, s, roster_version, &erase, out);
    } catch (const std::exception& e) {
      // Not this session's fault necessarily, but nothing else can be done for it: drop it
      // (its agent says Hello again) and go on with the others.
      out->resize(sent_before);
      stats_.failed++;
      WarnOrg(s.org,
              "broker: org=" + s.org + ": cannot stream to its agent: " + Printable(e.what(), 300));
      erase = true;
    }
    spent += cost;
    if (erase) {
      EndSession(it);
    } else if (cost > 0 || s.checkpoint.get() != checkpoint_before) {
      MarkDue(peer, s);
    }
  }
  return !due_.empty() || !staged_.empty() || pushes_queued_ > 0;
}

// ---------- the log ----------

std::shared_ptr<LoggedEntry> BrokerCore::Entry(uint64_t seq) {
  if (seq < log_start_ || seq > log_head_) return nullptr;
  if (auto it = entries_.find(seq); it != entries_.end()) return it->second;
  Result<std::optional<std::string>> bytes = store_->Get(Cf::kLog, EncodeSeq(seq));
  if (!bytes.ok() || !*bytes) return nullptr;
  Result<proto::LogEntry> entry = DecodeLog(**bytes);
  if (!entry.ok()) return nullptr;
  auto e = std::make_shared<LoggedEntry>();
  e->seq = seq;
  e->bytes = (*bytes)->size();
  e->logged = std::move(entry->delta);
  if (Result<Delta> d = DecodeDelta(e->logged.delta); d.ok()) {
    e->delta = std::make_shared<const Delta>(std::move(d).value());
  }
  RememberEntry(e);
  return e;
}

void BrokerCore::RememberEntry(std::shared_ptr<LoggedEntry> e) {
  size_t cost = e->bytes * 4 + 256;  // decoded, an entry takes a few times its encoding
  auto [it, inserted] = entries_.emplace(e->seq, std::move(e));
  if (!inserted) return;
  entries_bytes_ += cost;
  // Keep the newest: live sessions read the head; catch-up reads once and moves on.
  while (entries_bytes_ > options_.entry_cache_bytes && entries_.size() > 1) {
    entries_bytes_ -= std::min(entries_bytes_, entries_.begin()->second->bytes * 4 + 256);
    entries_.erase(entries_.begin());
  }
}

Status BrokerCore::TrimLog(uint64_t keep) {
  if (log_head_ < keep || log_head_ - keep < log_start_) return Status::Ok();
  CommitStaged();
  uint64_t new_start = log_head_ - keep + 1;
  WriteBatch b;
  for (uint64_t s = log_start_; s < new_start; ++s) b.Delete(Cf::kLog, EncodeSeq(s));
  b.Put(Cf::kMeta, kLogStart, EncodeSeq(new_start));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  size_t drop = std::min<size_t>(new_start - log_start_, log_bytes_.size());
  uint64_t base = drop > 0 ? log_bytes_[drop - 1] : 0;
  log_bytes_.erase(log_bytes_.begin(), log_bytes_.begin() + static_cast<std::ptrdiff_t>(drop));
  for (uint64_t& b2 : log_bytes_) b2 -= base;
  entries_.erase(entries_.begin(), entries_.lower_bound(new_start));
  log_start_ = new_start;
  return Status::Ok();
}

void BrokerCore::SaveCursors(bool all) {
  // A cursor is saved when it moved, and at least hourly for a live session even when it did
  // not, so that the time of its last acknowledgement (tombstone collection's maximum age,
  // gc.h) follows an agent that stays connected.
  constexpr uint64_t kAckRefreshMs = 3'600'000;
  uint64_t now = clock_->NowMillis();
  WriteBatch b;
  std::vector<Session*> saved;
  for (auto& [peer, s] : sessions_) {
    auto known = acks_.find(s.replica);
    bool refresh = known == acks_.end() || now >= known->second.at_ms + kAckRefreshMs;
    if (!all && s.acked == s.cursor_saved && !refresh) continue;
    b.Put(Cf::kMeta, kGcCursorPrefix + ReplicaHex(s.replica), EncodeSeq(s.acked));
    b.Put(Cf::kMeta, kGcAckedAtPrefix + ReplicaHex(s.replica), EncodeSeq(now));
    saved.push_back(&s);
  }
  if (b.count() == 0) return;
  Status st = store_->Commit(std::move(b));
  if (!st.ok()) {
    spdlog::error("broker: cannot save agents' cursors: {}", st.ToString());
    return;
  }
  for (Session* s : saved) {
    s->cursor_saved = s->acked;
    acks_[s->replica] = ReplicaAck{s->acked, now};
  }
}

BrokerStats BrokerCore::stats() const {
  BrokerStats s = stats_;
  s.log_head = log_head_;
  s.log_start = log_start_;
  s.records = dir_.size();
  s.sessions = sessions_.size();
  s.projections_made = fanout_.made();
  s.projections_reused = fanout_.reused();
  s.pushes_queued = pushes_queued_;
  s.coalesced = coalesced_;
  return s;
}

std::vector<SessionInfo> BrokerCore::Sessions() const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [peer, s] : sessions_) {
    out.push_back(SessionInfo{peer, s.org, RoleName(s.role), s.replica, s.sent, s.acked, s.window,
                              s.in_flight_bytes, s.checkpoint != nullptr});
  }
  return out;
}

// ---------- maintainers' writes ----------

Result<uint64_t> BrokerCore::ApplyMaintainerWrite(const MaintainerPlan& plan,
                                                  const std::string& maintainer_org,
                                                  const std::string& audit_action,
                                                  const std::string& by,
                                                  const std::function<Status(WriteBatch*)>& also) {
  CommitStaged();  // the log is written in order
  const std::string& actor = by.empty() ? maintainer_org : by;
  uint64_t now = clock_->NowMillis();
  Hlc stamp = hlc_.Now(now);
  ASSIGN_OR_RETURN(std::vector<Record> records, plan(dir_, review_replica_, stamp));
  for (const Record& r : records) RETURN_IF_ERROR(RefuseCollected(r.id()));
  WriteBatch batch;
  if (also) RETURN_IF_ERROR(also(&batch));
  if (records.empty()) {
    if (batch.count() == 0) return uint64_t{0};
    if (Status st = store_->Commit(std::move(batch)); !st.ok()) {
      (void)audit().Load();  // entries `also` staged were not written
      return st;
    }
    return uint64_t{0};
  }
  Delta d{review_replica_, stamp, std::move(records)};
  std::string bytes = EncodeDelta(d);
  proto::SignedDelta sd{bytes, maintainer_org, "broker", Sign(broker_, bytes)};
  uint64_t seq = log_head_ + 1;
  for (const Record& r : d.records) batch.MergeRecord(r);
  std::string logged = EncodeLog(proto::LogEntry{seq, sd});
  batch.Put(Cf::kLog, EncodeSeq(seq), logged);
  batch.Put(Cf::kMeta, kLogHead, EncodeSeq(seq));
  ReviewJournal::StageHistory(&batch, d, maintainer_org, seq, "review", actor);
  if (!audit_action.empty()) {
    for (const Record& r : d.records) audit().Append(&batch, now, actor, audit_action, r.id());
  }
  if (Status st = store_->Commit(std::move(batch)); !st.ok()) {
    if (!audit_action.empty() || also) (void)audit().Load();  // staged entries were not written
    return st;
  }
  log_head_ = staged_head_ = seq;
  log_bytes_.push_back((log_bytes_.empty() ? 0 : log_bytes_.back()) + logged.size());
  auto e = std::make_shared<LoggedEntry>();
  e->seq = seq;
  e->bytes = logged.size();
  e->logged = std::move(sd);
  e->delta = std::make_shared<const Delta>(d);
  RememberEntry(std::move(e));
  JoinCommitted(d);
  spdlog::info("broker: maintainer write by {} logged at {} ({} record(s))", actor, seq,
               d.records.size());
  return seq;
}

Result<uint64_t> BrokerCore::ApplyMaintainerEdit(std::vector<RecordEdit> edits,
                                                 const std::string& maintainer_org) {
  return ApplyMaintainerWrite(
      [&](const Directory& state, ReplicaId replica, Hlc stamp) {
        return PlanEdits(
            edits, [&](const std::string& id) { return state.Find(id); }, replica, stamp);
      },
      maintainer_org);
}

const Record* BrokerCore::StagedLookup(const std::string& id) const {
  if (auto it = staged_state_.find(id); it != staged_state_.end()) return &it->second;
  return dir_.Find(id);
}

void BrokerCore::StagePublication(StagedPush& staged, const std::vector<Delta>& pushed,
                                  uint64_t now) {
  std::vector<RecordEdit> edits;
  for (const Delta& d : pushed) {
    for (const Record& r : d.records) {
      const Record* after = StagedLookup(r.id());
      if (!after) continue;
      RecordEdit e = SelfPublication(r, *after, d.author, FieldSchema::Hsds());
      if (!e.values.empty()) edits.push_back(std::move(e));
    }
  }
  if (edits.empty()) return;
  Hlc stamp = hlc_.Now(now);
  Result<std::vector<Record>> records = PlanEdits(
      edits, [this](const std::string& id) { return StagedLookup(id); }, review_replica_, stamp);
  // Not fatal: what stays unpublished shows in the review queue.
  if (!records.ok()) {
    spdlog::error("broker: cannot publish org={}'s writes: {}", staged.org,
                  records.status().ToString());
    return;
  }
  if (records->empty()) return;
  Delta d{review_replica_, stamp, std::move(records).value()};
  std::string bytes = EncodeDelta(d);
  proto::SignedDelta sd{bytes, staged.org, "broker", Sign(broker_, bytes)};
  for (const Record& r : d.records) {
    staged_batch_.MergeRecord(r);
    const Record* before = StagedLookup(r.id());
    Record next = before ? *before : Record(r.id(), r.kind());
    next.Join(r);
    staged_state_[r.id()] = std::move(next);
  }
  uint64_t seq = StageLogEntry(std::move(sd), std::make_shared<const Delta>(d)).entry.seq;
  ReviewJournal::StageHistory(&staged_batch_, d, staged.org, seq, "review");
  staged.published.push_back(std::move(d));
}

const BrokerCore::StagedEntry& BrokerCore::StageLogEntry(proto::SignedDelta sd,
                                                         std::shared_ptr<const Delta> delta) {
  uint64_t seq = ++staged_head_;
  proto::LogEntry entry{seq, std::move(sd)};
  std::string logged = EncodeLog(entry);
  staged_batch_.Put(Cf::kLog, EncodeSeq(seq), logged);
  staged_entries_.push_back(StagedEntry{logged.size(), std::move(entry), std::move(delta)});
  return staged_entries_.back();
}

}  // namespace sb

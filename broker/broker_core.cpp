#include "broker/broker_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "base/utf8.h"
#include "broker/review.h"
#include "conflict/codec.h"
#include "conflict/views.h"

namespace sb {

namespace {

constexpr char kLogHead[] = "log_head";
constexpr char kLogStart[] = "log_start";

std::string EncodeLog(const proto::LogEntry& e) {
  return proto::EncodeEnvelope(proto::Updates{{e}, e.seq});
}

Result<proto::LogEntry> DecodeLog(std::string_view bytes) {
  ASSIGN_OR_RETURN(proto::Message m, proto::DecodeEnvelope(bytes));
  auto* u = std::get_if<proto::Updates>(&m);
  if (!u || u->entries.size() != 1) return Status::Corruption("malformed log entry");
  return u->entries.front();
}

// True when the broker already holds everything `d` carries (a retry of an acked push).
bool AlreadyKnown(const Delta& d, const Directory& dir) {
  for (const Record& r : d.records) {
    const Record* cur = dir.Find(r.id());
    if (!cur || !cur->context().Includes(r.context())) return false;
    // A removal brings no new dot: only joining shows whether it changes anything.
    Record joined = *cur;
    joined.Join(r);
    if (!(joined == *cur)) return false;
  }
  return true;
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

}  // namespace

BrokerCore::BrokerCore(Store* store, Clock* clock, const Identity& broker, Roster* roster,
                       Options options)
    : store_(store), clock_(clock), broker_(broker), roster_(roster), options_(options),
      hlc_(options.max_skew_ms), referrals_(store, clock, broker, roster) {}

Status BrokerCore::Load() {
  RETURN_IF_ERROR(store_->ForEachRecord([&](const Record& r) {
    dir_.Join(r);
    return true;
  }));
  ASSIGN_OR_RETURN(auto head, store_->Get(Cf::kMeta, kLogHead));
  if (head) log_head_ = DecodeSeq(*head);
  ASSIGN_OR_RETURN(auto start, store_->Get(Cf::kMeta, kLogStart));
  if (start) log_start_ = DecodeSeq(*start);
  if (log_start_ == 0) return Status::Corruption("meta log_start is malformed");
  RETURN_IF_ERROR(journal_.Load());
  RETURN_IF_ERROR(quarantine_.Load());
  // The broker's own replica (maintainer decisions from review): bound to the broker's
  // organization so that no agent can ever claim it.
  review_replica_ = ReviewReplicaFor(broker_.pub.sign_public);
  RETURN_IF_ERROR(roster_->BindReplica(review_replica_, broker_.pub.org));
  stats_.log_head = log_head_;
  stats_.log_start = log_start_;
  return referrals_.Load();
}

void BrokerCore::Send(const std::string& peer, const proto::Message& m,
                      std::vector<Outgoing>* out) {
  out->push_back(Outgoing{peer, proto::EncodeEnvelope(m)});
  stats_.bytes_out += out->back().bytes.size();
  if (std::holds_alternative<proto::Updates>(m)) stats_.updates_out++;
}

void BrokerCore::Refuse(const std::string& peer, const std::string& code,
                        const std::string& message, std::vector<Outgoing>* out) {
  Send(peer, proto::Refusal{code, message}, out);
}

void BrokerCore::OnMessage(const std::string& peer, const std::string& org,
                           std::string_view bytes, std::vector<Outgoing>* out) {
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
    Refuse(peer, "failed",
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
    WarnOrg(org, "broker: org=" + Printable(org) + " refused: not enrolled or revoked");
    sessions_.erase(peer);
    return Refuse(peer, "revoked", "this organization's key is not enrolled (or was revoked)", out);
  }
  Result<proto::Message> msg = proto::DecodeEnvelope(bytes);
  if (!msg.ok()) {
    stats_.malformed++;
    WarnOrg(org, "broker: org=" + org + " sent a malformed message: " + msg.status().message());
    SetAside(org, bytes, "a malformed message: " + msg.status().message());
    return Refuse(peer, "malformed", msg.status().message(), out);
  }
  if (auto* h = std::get_if<proto::Hello>(&*msg)) return OnHello(peer, org, *h, out);
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) {
    WarnOrg(org, "broker: org=" + org + " sent " + proto::MessageName(*msg) +
                     " before hello; refused");
    return Refuse(peer, "hello_first", "send Hello before anything else", out);
  }
  Session& s = it->second;
  if (auto* p = std::get_if<proto::Push>(&*msg)) return OnPush(peer, s, *p, out);
  if (auto* rp = std::get_if<proto::ReferralPost>(&*msg)) {
    std::vector<ReferralRelay::Outbound> updates;
    proto::ReferralPostAck ack = referrals_.OnPost(org, *rp, &updates);
    if (!ack.accepted) {
      WarnOrg(org, "broker: org=" + org + " referral post " + std::to_string(rp->seq) +
                       " refused (" + ack.code + "): " + ack.reason);
      if (ack.code == "malformed") SetAside(org, bytes, "a malformed referral post: " + ack.reason);
    }
    Send(peer, ack, out);
    return RouteReferrals(std::move(updates), out);
  }
  if (auto* c = std::get_if<proto::Credit>(&*msg)) {
    s.credits = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{s.credits} + c->credits, 1u << 20));
    // Kept in memory: a restart learns each agent's position from its next Hello.
    if (c->cursor > s.acked && c->cursor <= s.sent) s.acked = c->cursor;
    return;
  }
  WarnOrg(org, "broker: org=" + org + " sent an unexpected " + proto::MessageName(*msg));
  Refuse(peer, "unexpected", std::string("a broker does not accept ") + proto::MessageName(*msg), out);
}

void BrokerCore::OnHello(const std::string& peer, const std::string& org, const proto::Hello& h,
                         std::vector<Outgoing>* out) {
  if (h.protocol_version != proto::kProtocolVersion) {
    WarnOrg(org, "broker: org=" + org + " speaks protocol " +
                     std::to_string(h.protocol_version) + ", refused");
    return Refuse(peer, "version",
                  "protocol version " + std::to_string(h.protocol_version) +
                      " is not supported; this broker speaks version " +
                      std::to_string(proto::kProtocolVersion) + " — upgrade switchboard",
                  out);
  }
  Status bound = roster_->BindReplica(h.replica, org);
  if (!bound.ok()) {
    WarnOrg(org, "broker: org=" + org + " hello refused: " + bound.message());
    return Refuse(peer, "replica", bound.message(), out);
  }
  if (h.cursor > log_head_) {
    return Refuse(peer, "cursor", "the agent's cursor is ahead of this broker's log (was the "
                                  "broker restored from an older backup?)", out);
  }
  // One session per replica: a reconnect replaces the old one.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = (it->second.replica == h.replica && it->first != peer) ? sessions_.erase(it) : std::next(it);
  }
  Member m = *roster_->Find(org);
  Session& s = sessions_[peer];
  s = Session{org, m.role, h.replica, h.cursor, h.cursor, h.credits, 0};
  bool snapshot = h.cursor + 1 < log_start_;
  Send(peer, proto::Welcome{proto::kProtocolVersion, org, RoleName(m.role), log_head_, snapshot}, out);
  spdlog::info("broker: org={} replica={:016x} connected, cursor {} of {}{}", org, h.replica,
               h.cursor, log_head_, snapshot ? " (snapshot)" : "");
  SendRoster(peer, s, out);
  if (snapshot) SendSnapshot(peer, s, out);
  // Referrals this organization has not seen: sealed ones held for it, and status changes.
  Result<std::vector<proto::ReferralUpdate>> missed = referrals_.Since(org, h.referral_cursor);
  if (!missed.ok()) {
    spdlog::error("broker: cannot read referrals for org={}: {}", org, missed.status().ToString());
  } else {
    for (proto::ReferralUpdate& u : *missed) Send(peer, u, out);
  }
}

void BrokerCore::RouteReferrals(std::vector<ReferralRelay::Outbound> updates,
                                std::vector<Outgoing>* out) {
  for (auto& [org, update] : updates) {
    for (const auto& [peer, s] : sessions_) {
      if (s.org == org) Send(peer, update, out);
    }
  }
}

void BrokerCore::SendRoster(const std::string& peer, Session& s, std::vector<Outgoing>* out) {
  proto::Roster r;
  for (const Member& m : roster_->List()) {
    r.entries.push_back(proto::RosterEntry{m.identity.org, RoleName(m.role), m.identity.sign_public,
                                           m.identity.box_public, m.revoked});
  }
  s.roster_version = roster_->version();
  Send(peer, r, out);
}

void BrokerCore::SendSnapshot(const std::string& peer, Session& s, std::vector<Outgoing>* out) {
  uint64_t id = ++snapshot_counter_;
  stats_.snapshots++;
  Delta chunk{0, hlc_.Now(clock_->NowMillis()), {}};
  chunk.author = 0;
  uint32_t index = 0;
  auto lookup = [this](const std::string& rid) { return Lookup(rid); };
  auto flush = [&](bool last) {
    bool filtered = false;
    Delta visible = FilterFor(chunk, s.org, s.role, lookup, &filtered);
    visible.author = 1;  // the broker; snapshots are not attributed to a replica
    std::string bytes = EncodeDelta(visible);
    Send(peer, proto::SnapshotChunk{id, index++, last, log_head_, bytes, Sign(broker_, bytes)}, out);
    chunk.records.clear();
  };
  for (const auto& [rid, r] : dir_.records()) {
    chunk.records.push_back(r);
    if (chunk.records.size() == options_.snapshot_chunk_records) flush(false);
  }
  flush(true);
  s.sent = log_head_;
}

bool BrokerCore::TakeToken(const std::string& org) {
  uint64_t now = clock_->MonotonicMillis();
  auto [it, fresh] = buckets_.try_emplace(org, Bucket{options_.rate_burst, now});
  Bucket& b = it->second;
  b.tokens = std::min(options_.rate_burst, b.tokens + (now - b.at_ms) * options_.rate_per_s / 1000.0);
  b.at_ms = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void BrokerCore::OnPush(const std::string& peer, Session& s, const proto::Push& p,
                        std::vector<Outgoing>* out) {
  stats_.pushes++;
  Author who{s.org, s.role, s.replica};
  uint64_t now = clock_->NowMillis();
  // Records as they will be once this push is durable.
  std::map<std::string, Record> overlay;
  auto lookup = [&](const std::string& id) -> const Record* {
    if (auto it = overlay.find(id); it != overlay.end()) return &it->second;
    return dir_.Find(id);
  };
  WriteBatch batch;
  proto::PushAck ack{p.batch, {}};
  std::vector<Delta> accepted;
  std::set<std::string> backfill;  // records whose audience widened for partners
  uint64_t seq = log_head_;
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
    if (!d.ok()) {
      stats_.rejected++;
      WarnOrg(s.org, "broker: org=" + s.org + " delta " + std::to_string(item.outbox_seq) +
                         " refused: " + d.status().message());
      journal_.StageRefusal(&batch, now, s.org, s.replica, d.status().message(), item.delta.delta);
      // Send back the broker's state of what the delta touched, for the agent to take it back.
      Delta current{1, hlc_.Now(now), {}};
      if (Result<Delta> raw = DecodeDelta(item.delta.delta); raw.ok()) {
        for (const Record& r : raw->records) {
          if (const Record* cur = lookup(r.id())) current.records.push_back(*cur);
        }
      }
      bool filtered = false;
      Delta visible = FilterFor(current, s.org, s.role, lookup, &filtered);
      // log_seq: the log position this state reflects (with the earlier items of this push).
      ack.results.push_back(proto::PushResult{item.outbox_seq, false, d.status().message(), seq,
                                              EncodeDelta(visible)});
      continue;
    }
    if (AlreadyKnown(*d, dir_) ) {
      ack.results.push_back(proto::PushResult{item.outbox_seq, true, "", 0, ""});
      continue;
    }
    (void)hlc_.Observe(d->stamp, now);
    for (const Record& r : d->records) {
      batch.MergeRecord(r);
      const Record* before = lookup(r.id());
      Record next = before ? *before : Record(r.id(), r.kind());
      next.Join(r);
      if (before && WidensForPartners(*before, next)) backfill.insert(r.id());
      overlay[r.id()] = std::move(next);
    }
    ++seq;
    batch.Put(Cf::kLog, EncodeSeq(seq), EncodeLog(proto::LogEntry{seq, item.delta}));
    ReviewJournal::StageHistory(&batch, *d, s.org, seq, "push");
    ack.results.push_back(proto::PushResult{item.outbox_seq, true, "", seq, ""});
    accepted.push_back(std::move(d).value());
  }
  // Fields that partners could not see before this push and now may (a location's address
  // whose address_confidential was cleared): they were filtered out of earlier updates, so
  // the whole record follows in a broker entry, filtered for each recipient as it is sent.
  for (const std::string& id : backfill) {
    Delta whole{1, hlc_.Now(now), {overlay[id]}};
    std::string bytes = EncodeDelta(whole);
    std::string sig = Sign(broker_, bytes);
    ++seq;
    batch.Put(Cf::kLog, EncodeSeq(seq),
              EncodeLog(proto::LogEntry{seq, proto::SignedDelta{bytes, "broker", "broker", sig}}));
  }
  if (batch.count() > 0) {  // accepted deltas, or refusals kept for review
    if (seq != log_head_) batch.Put(Cf::kMeta, kLogHead, EncodeSeq(seq));
    Status st = store_->Commit(std::move(batch));
    if (!st.ok()) {
      spdlog::error("broker: cannot save a push from org={}: {}", s.org, st.ToString());
      return Refuse(peer, "unavailable", "the broker could not save the push; retry", out);
    }
    log_head_ = seq;
    for (const Delta& d : accepted) dir_.Join(d);
    stats_.accepted += accepted.size();
    if (s.role == Role::kMaintainer) PublishMaintainerWrites(accepted, s.org);
  }
  Send(peer, ack, out);
  if (log_head_ >= log_start_ + options_.log_retention + options_.log_retention / 10) {
    Status st = TrimLog(options_.log_retention);
    if (!st.ok()) spdlog::error("broker: cannot trim the log: {}", st.ToString());
  }
}

proto::SignedDelta BrokerCore::ForRecipient(const proto::SignedDelta& sd, const Session& s) {
  Result<Delta> d = DecodeDelta(sd.delta);
  if (!d.ok()) return proto::SignedDelta{"", sd.author, "", ""};
  bool filtered = false;
  Delta visible = FilterFor(*d, s.org, s.role,
                            [this](const std::string& id) { return Lookup(id); }, &filtered);
  if (!filtered) return sd;
  if (visible.records.empty()) return proto::SignedDelta{"", sd.author, "", ""};
  std::string bytes = EncodeDelta(visible);
  std::string sig = Sign(broker_, bytes);
  return proto::SignedDelta{std::move(bytes), sd.author, "broker", std::move(sig)};
}

void BrokerCore::Pump(std::vector<Outgoing>* out) {
  if (uint64_t now = clock_->MonotonicMillis(); now >= next_expiry_check_ms_) {
    next_expiry_check_ms_ = now + 1000;
    std::vector<ReferralRelay::Outbound> expired;
    Status st = referrals_.ExpireDue(&expired);
    if (!st.ok()) spdlog::error("broker: cannot expire referrals: {}", st.ToString());
    RouteReferrals(std::move(expired), out);
  }
  uint64_t roster_version = roster_->version();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    bool erase = false;
    size_t sent_before = out->size();
    try {
      PumpSession(it->first, it->second, roster_version, &erase, out);
    } catch (const std::exception& e) {
      // Not this session's fault necessarily, but nothing else can be done for it: drop it
      // (its agent says Hello again) and go on with the others.
      out->resize(sent_before);
      stats_.failed++;
      WarnOrg(it->second.org, "broker: org=" + it->second.org +
                                  ": cannot stream to its agent: " + Printable(e.what(), 300));
      erase = true;
    }
    it = erase ? sessions_.erase(it) : std::next(it);
  }
}

void BrokerCore::PumpSession(const std::string& peer, Session& s, uint64_t roster_version,
                             bool* erase, std::vector<Outgoing>* out) {
  if (s.roster_version != roster_version) {
    std::optional<Member> m = roster_->Find(s.org);
    if (!m || m->revoked) {
      spdlog::warn("broker: org={} revoked; cutting its agent off", s.org);
      Refuse(peer, "revoked", "this organization's enrollment was revoked", out);
      *erase = true;
      return;
    }
    s.role = m->role;
    SendRoster(peer, s, out);
  }
  if (s.sent + 1 < log_start_ && s.credits > 0) SendSnapshot(peer, s, out);
  if (s.credits > 0 && s.sent < log_head_) {
    proto::Updates u;
    u.head = log_head_;
    uint32_t n = std::min<uint32_t>(s.credits, options_.max_entries_per_update);
    size_t bytes = 0;
    Status scanned = store_->Scan(Cf::kLog, "", EncodeSeq(s.sent + 1),
                                  [&](std::string_view, std::string_view v) {
      Result<proto::LogEntry> e = DecodeLog(v);
      if (!e.ok()) return false;
      // The agent's own writes: only the position, not the bytes it already has.
      Result<Delta> head = e->delta.author == s.org ? DecodeDelta(e->delta.delta)
                                                    : Result<Delta>(Status::NotFound(""));
      if (head.ok() && head->author == s.replica) {
        u.entries.push_back(proto::LogEntry{e->seq, proto::SignedDelta{"", e->delta.author, "", ""}});
      } else {
        u.entries.push_back(proto::LogEntry{e->seq, ForRecipient(e->delta, s)});
      }
      bytes += u.entries.back().delta.delta.size();
      // Stay well below the message size limit (imported chunks are large).
      return u.entries.size() < n && bytes < proto::kMaxMessageBytes / 4;
    });
    if (!scanned.ok()) spdlog::error("broker: cannot read the log: {}", scanned.ToString());
    if (!u.entries.empty()) {
      s.sent = u.entries.back().seq;
      s.credits -= static_cast<uint32_t>(u.entries.size());
      Send(peer, u, out);
    }
  }
}

void BrokerCore::OnDisconnected(const std::string& peer) { sessions_.erase(peer); }

Status BrokerCore::TrimLog(uint64_t keep) {
  if (log_head_ < keep || log_head_ - keep < log_start_) return Status::Ok();
  uint64_t new_start = log_head_ - keep + 1;
  WriteBatch b;
  for (uint64_t s = log_start_; s < new_start; ++s) b.Delete(Cf::kLog, EncodeSeq(s));
  b.Put(Cf::kMeta, kLogStart, EncodeSeq(new_start));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  log_start_ = new_start;
  return Status::Ok();
}

BrokerStats BrokerCore::stats() const {
  BrokerStats s = stats_;
  s.log_head = log_head_;
  s.log_start = log_start_;
  s.records = dir_.size();
  return s;
}

std::vector<SessionInfo> BrokerCore::Sessions() const {
  std::vector<SessionInfo> out;
  for (const auto& [peer, s] : sessions_) {
    out.push_back(SessionInfo{peer, s.org, RoleName(s.role), s.replica, s.sent, s.acked, s.credits});
  }
  return out;
}

Result<uint64_t> BrokerCore::ApplyMaintainerWrite(const MaintainerPlan& plan,
                                                  const std::string& maintainer_org,
                                                  const std::string& audit_action) {
  uint64_t now = clock_->NowMillis();
  Hlc stamp = hlc_.Now(now);
  ASSIGN_OR_RETURN(std::vector<Record> records, plan(dir_, review_replica_, stamp));
  if (records.empty()) return uint64_t{0};
  Delta d{review_replica_, stamp, std::move(records)};
  std::string bytes = EncodeDelta(d);
  proto::SignedDelta sd{bytes, maintainer_org, "broker", Sign(broker_, bytes)};
  uint64_t seq = log_head_ + 1;
  WriteBatch batch;
  for (const Record& r : d.records) batch.MergeRecord(r);
  batch.Put(Cf::kLog, EncodeSeq(seq), EncodeLog(proto::LogEntry{seq, sd}));
  batch.Put(Cf::kMeta, kLogHead, EncodeSeq(seq));
  ReviewJournal::StageHistory(&batch, d, maintainer_org, seq, "review");
  if (!audit_action.empty()) {
    for (const Record& r : d.records) audit().Append(&batch, now, maintainer_org, audit_action, r.id());
  }
  if (Status st = store_->Commit(std::move(batch)); !st.ok()) {
    if (!audit_action.empty()) (void)audit().Load();  // the staged entries were not written
    return st;
  }
  log_head_ = seq;
  dir_.Join(d);
  spdlog::info("broker: maintainer write by org={} logged at {} ({} record(s))", maintainer_org,
               seq, d.records.size());
  return seq;
}

Result<uint64_t> BrokerCore::ApplyMaintainerEdit(std::vector<RecordEdit> edits,
                                                 const std::string& maintainer_org) {
  return ApplyMaintainerWrite(
      [&](const Directory& state, ReplicaId replica, Hlc stamp) -> Result<std::vector<Record>> {
        Directory work;  // records as earlier edits of this call leave them
        std::vector<Record> out;
        for (const RecordEdit& e : edits) {
          const Record* base = work.Find(e.id) ? work.Find(e.id) : state.Find(e.id);
          ASSIGN_OR_RETURN(PlannedEdit plan,
                           PlanEdit(FieldSchema::Hsds(), base, e, replica, stamp));
          if (plan.empty()) continue;
          Record next = base ? *base : Record(e.id, e.kind);
          next.Join(plan.delta);
          work.Replace(next);
          out.push_back(std::move(plan.delta));
        }
        return out;
      },
      maintainer_org);
}

void BrokerCore::PublishMaintainerWrites(const std::vector<Delta>& accepted,
                                         const std::string& org) {
  std::vector<RecordEdit> edits;
  for (const Delta& d : accepted) {
    for (const Record& r : d.records) {
      const Record* after = dir_.Find(r.id());
      if (!after) continue;
      RecordEdit e = SelfPublication(r, *after, d.author, FieldSchema::Hsds());
      if (!e.values.empty()) edits.push_back(std::move(e));
    }
  }
  if (edits.empty()) return;
  Result<uint64_t> seq = ApplyMaintainerEdit(std::move(edits), org);
  // Not fatal: what stays unpublished shows in the review queue.
  if (!seq.ok()) spdlog::error("broker: cannot publish org={}'s writes: {}", org, seq.status().ToString());
}

}  // namespace sb

#include "agents/sync_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/utf8.h"
#include "conflict/codec.h"

namespace sb {

AgentSync::AgentSync(LocalDirectory* dir, Clock* clock, const Identity& me,
                     std::string broker_sign_public, Options options)
    : dir_(dir),
      clock_(clock),
      me_(me),
      broker_sign_public_(std::move(broker_sign_public)),
      options_(options) {
  status_.org = me.pub.org;
  status_.role = dir->welcomed_role();  // until the broker welcomes this agent again
  status_.cursor = dir->sync_cursor();
}

void AgentSync::KeepRole(Role role) {
  std::string name = RoleName(role);
  if (Status kept = dir_->SaveWelcomedRole(name); !kept.ok()) {
    // Memory still follows the broker; after a restart the older role is read until the next
    // Welcome, as before this was kept at all.
    spdlog::warn("sync: cannot keep the role {}: {}", name, kept.ToString());
  }
  MutexLock lock(status_mu_);
  status_.role = name;
}

void AgentSync::SetState(State s) {
  state_ = s;
  static const char* const kNames[] = {"disconnected", "connecting", "ready", "refused"};
  MutexLock lock(status_mu_);
  status_.state = kNames[static_cast<int>(s)];
}

void AgentSync::Error(const std::string& e) {
  spdlog::warn("sync: {}", e);
  MutexLock lock(status_mu_);
  status_.last_error = e;
}

void AgentSync::Note(const std::string& what, const std::string& why,
                     uint64_t SyncStatus::*counter) {
  spdlog::info("sync: {}: {}", what, why);
  MutexLock lock(status_mu_);
  ++(status_.*counter);
}

void AgentSync::ResetStream() {
  // The stream starts over: what was in flight is not coming, and the roster follows the
  // Welcome again.
  in_flight_batch_ = 0;
  roster_seen_ = false;
  roster_unsaved_ = false;
  referral_last_posted_ = 0;
  rewind_pending_ = false;
  checkpoint_id_ = 0;
  checkpoint_next_ = 0;
}

std::string AgentSync::Hello(bool resume) {
  hello_at_ = clock_->MonotonicMillis();
  last_heard_at_ = hello_at_;
  if (!resume) {
    ResetStream();
    hello_wait_ms_ = options_.hello_retry_ms;
  }
  proto::Hello h;
  h.replica = dir_->replica();
  h.cursor = dir_->sync_cursor();
  h.log_epoch = dir_->broker_epoch();
  // Restored from a backup: this replica's writes after it are in the broker's log only.
  h.own_entries = dir_->restored();
  h.credits = options_.credit_window;
  h.referral_cursor = referrals_ ? referrals_->cursor() : 0;
  h.window_bytes = options_.window_bytes;
  h.resume = resume;
  // A resume keeps the roster this session has (only changes come); without one it comes whole.
  h.has_roster = resume && roster_seen_;
  // This organization's referral pre-key (rotated first when due), for the broker's roster.
  if (referrals_) {
    h.pre_key = referrals_->CurrentPreKey();
    sent_pre_key_id_ = h.pre_key.id;
    pre_key_checked_at_ = hello_at_;
  }
  return proto::EncodeEnvelope(h);
}

std::string AgentSync::Credit(bool rewind) {
  return proto::EncodeEnvelope(
      proto::Credit{options_.credit_window, dir_->sync_cursor(), rewind, checkpoint_next_});
}

std::vector<std::string> AgentSync::Rewind(const std::string& why) {
  if (rewind_pending_) return {};  // asked already; what arrives meanwhile is dropped
  rewind_pending_ = true;
  checkpoint_id_ = 0;
  checkpoint_next_ = 0;
  Note("rewind", why, &SyncStatus::rewinds);
  return {Credit(/*rewind=*/true)};
}

std::vector<std::string> AgentSync::OnConnected() {
  if (state_ == State::kRefused) return {};
  SetState(State::kHelloSent);
  {
    MutexLock lock(status_mu_);
    ++status_.connects;
  }
  return {Hello(/*resume=*/false)};
}

void AgentSync::OnDisconnected(const std::string& why) {
  if (state_ == State::kRefused) return;
  SetState(State::kDisconnected);
  in_flight_batch_ = 0;
  if (!why.empty()) Error(why);
}

namespace {

// The keys entries by `e`'s organization may be signed with: its current one first.
std::vector<std::string> SignKeys(const proto::RosterEntry& e) {
  std::vector<std::string> keys{e.sign_key};
  keys.insert(keys.end(), e.retired_sign_keys.begin(), e.retired_sign_keys.end());
  return keys;
}

}  // namespace

void AgentSync::NoteOwnRole(const proto::RosterEntry& e) {
  // The coordinator may change this organization's role (`enroll role`) while connected.
  if (e.org != me_.pub.org || e.revoked) return;
  KeepRole(e.role);
}

bool AgentSync::Verify(const proto::SignedDelta& sd) {
  if (sd.signer == "broker") return VerifySignature(broker_sign_public_, sd.delta, sd.signature);
  if (sd.signer != sd.author) return false;
  auto it = sign_keys_.find(sd.author);
  if (it == sign_keys_.end()) return false;
  for (const std::string& key : it->second) {
    if (VerifySignature(key, sd.delta, sd.signature)) return true;
  }
  return false;
}

std::vector<std::string> AgentSync::OnMessage(std::string_view bytes) {
  last_heard_at_ = clock_->MonotonicMillis();
  {
    MutexLock lock(status_mu_);
    status_.last_sync_ms = clock_->NowMillis();
    status_.bytes_in += bytes.size();
  }
  Result<proto::Message> msg = proto::DecodeEnvelope(bytes);
  if (!msg.ok()) {
    Error("the broker sent a malformed message: " + msg.status().message());
    return {};
  }
  try {
    return Handle(*msg);
  } catch (const std::exception& e) {
    std::string why = Printable(e.what(), 300);
    if (auto* u = std::get_if<proto::Updates>(&*msg)) {
      Error("updates could not be applied together (" + why + "); applying them one by one");
      try {
        return OnUpdatesOneByOne(*u);
      } catch (const std::exception& e2) {
        why = Printable(e2.what(), 300);
      }
    }
    if (auto* ru = std::get_if<proto::ReferralUpdate>(&*msg); ru && referrals_) {
      try {
        Status set_aside = referrals_->SetAside(*ru, Status::Internal(why));
        if (!set_aside.ok()) Error("cannot set a referral update aside: " + set_aside.ToString());
        return {};
      } catch (const std::exception&) {
      }
    }
    SetAside("message", "", "broker",
             std::string("a ") + proto::MessageName(*msg) + " could not be processed: " + why,
             bytes);
    return {};
  } catch (...) {
    SetAside("message", "", "broker", "a message could not be processed", bytes);
    return {};
  }
}

void AgentSync::SetAside(const std::string& source, const std::string& ref, const std::string& from,
                         const std::string& reason, std::string_view bytes) {
  Error("quarantined " + source + (ref.empty() ? "" : " " + ref) + ": " + reason);
  {
    MutexLock lock(status_mu_);
    status_.quarantined++;
  }
  if (!quarantine_) return;
  QuarantineEntry q;
  q.at_ms = clock_->NowMillis();
  q.source = source;
  q.ref = ref;
  q.from = from;
  q.reason = reason;
  Result<bool> kept = quarantine_->Add(std::move(q), bytes);
  if (!kept.ok()) Error("cannot write to the quarantine: " + kept.status().ToString());
}

std::vector<std::string> AgentSync::Handle(const proto::Message& m) {
  const proto::Message* msg = &m;
  if (auto* r = std::get_if<proto::Refusal>(msg)) {
    Error("the broker refused: " + r->message + " (" + proto::Name(r->code) + ")");
    if (r->code == proto::RefusalCode::kVersion || r->code == proto::RefusalCode::kRevoked ||
        r->code == proto::RefusalCode::kReplica) {
      SetState(State::kRefused);
    } else if (r->code == proto::RefusalCode::kHelloFirst) {
      // The broker has no session for this connection (it dropped it): start over.
      SetState(State::kHelloSent);
      Note("session restart", "the broker no longer knew this session",
           &SyncStatus::session_restarts);
      return {Hello(/*resume=*/false)};
    } else if (r->code == proto::RefusalCode::kUnavailable) {
      // Push again later (a quota, a broker whose disk is full): backing off, as when throttled,
      // so that a broker that cannot save is not asked to at every tick.
      in_flight_batch_ = 0;
      throttle_backoff_ms_ =
          std::min<uint64_t>(throttle_backoff_ms_ == 0 ? 500 : throttle_backoff_ms_ * 2, 30'000);
      throttled_until_ = clock_->MonotonicMillis() + throttle_backoff_ms_;
    } else if (r->code == proto::RefusalCode::kCursor) {
      // Our cursor is past the broker's log: it lost entries (restored from a backup), and
      // did not know our log epoch to tell. Rejoin: read its log from the start, re-send.
      if (!Rejoin(0)) return {};
      SetState(State::kHelloSent);
      return {Hello(/*resume=*/false)};
    }
    return {};
  }
  if (auto* w = std::get_if<proto::Welcome>(msg)) {
    if (w->protocol_version != proto::kProtocolVersion) {
      SetState(State::kRefused);
      Error("the broker speaks protocol " + std::to_string(w->protocol_version) +
            "; this agent speaks " + std::to_string(proto::kProtocolVersion));
      return {};
    }
    if (w->org != me_.pub.org) {
      Error("the broker authenticated us as " + w->org + ", not " + me_.pub.org);
    }
    bool was_ready = state_ == State::kReady;
    if (w->log_epoch != 0 && w->log_epoch != dir_->broker_epoch()) {
      // The broker started the session at 0 when our Hello named another epoch.
      if (dir_->broker_epoch() == 0) {
        if (Status s = dir_->KeepBrokerEpoch(w->log_epoch); !s.ok()) {
          Error("cannot keep the broker's log epoch: " + s.ToString());
        }
      } else if (!Rejoin(w->log_epoch)) {
        return {};
      }
    }
    // A Hello that asked to resume found no session (the broker dropped it, or this is a
    // new connection): the broker starts one at our cursor, so start over here too.
    if (!w->resumed) ResetStream();
    SetState(State::kReady);
    known_head_ = std::max(known_head_, w->log_head);
    dir_->NoteBrokerClock(w->broker_ms);
    if (std::optional<int64_t> skew = dir_->clock_skew_ms();
        skew && (*skew > 60'000 || *skew < -60'000)) {
      std::string ahead = dir_->ClockAhead();
      if (!ahead.empty()) {
        spdlog::error("sync: {}", ahead);
      } else {
        spdlog::warn("sync: this agent's clock is {} {} the broker's",
                     HumanDuration(static_cast<uint64_t>(*skew < 0 ? -*skew : *skew)),
                     *skew < 0 ? "behind" : "ahead of");
      }
    }
    if (!was_ready) {
      spdlog::info("sync: connected as {} ({}), cursor {} of {}{}{}", w->org, RoleName(w->role),
                   dir_->sync_cursor(), w->log_head, w->snapshot ? ", checkpoint follows" : "",
                   w->resumed ? " (resumed)" : "");
    }
    KeepRole(w->role);
    MutexLock lock(status_mu_);
    status_.broker_head = w->log_head;
    status_.last_error.clear();
    return {};
  }
  // The stream continues while a repeated Hello waits for its Welcome (same connection).
  if (state_ != State::kReady && state_ != State::kHelloSent) return {};
  if (auto* r = std::get_if<proto::Roster>(msg)) {
    if (r->changes) {
      // Members that changed since the last roster: merged part by part. Before the whole
      // roster has arrived there is nothing to merge into (it follows every Welcome).
      if (!roster_seen_) return {};
      for (const auto& e : r->entries) {
        sign_keys_[e.org] = SignKeys(e);
        NoteOwnRole(e);
      }
      SaveRoster(*r);
      return AskAgainIfUnsaved();
    }
    // Parts are put together; the roster is taken whole when the last part arrives.
    if (r->part == 0)
      roster_parts_.clear();
    else if (r->part != roster_next_part_)
      return {};  // a part went missing: wait for the next roster
    roster_next_part_ = r->part + 1;
    for (const auto& e : r->entries) {
      roster_parts_[e.org] = SignKeys(e);
      NoteOwnRole(e);
    }
    SaveRoster(*r);  // keys are added, never removed: a part will do
    if (r->more) return {};
    sign_keys_ = std::move(roster_parts_);
    roster_parts_.clear();
    roster_next_part_ = 0;
    roster_seen_ = true;
    return AskAgainIfUnsaved();
  }
  if (auto* u = std::get_if<proto::Updates>(msg)) {
    stalled_ = false;  // the stream moves (a resumed Welcome alone does not say so)
    return OnUpdates(*u);
  }
  if (auto* c = std::get_if<proto::SnapshotChunk>(msg)) {
    stalled_ = false;
    return OnSnapshot(*c);
  }
  if (auto* a = std::get_if<proto::PushAck>(msg)) {
    uint64_t cursor = dir_->sync_cursor();
    OnPushAck(*a);
    RetryCollected();
    if (dir_->sync_cursor() < cursor) {
      // A refused edit was taken back to an older broker state: replay the log from there.
      rewind_pending_ = false;
      std::vector<std::string> out = Rewind("a refused edit was taken back to log position " +
                                            std::to_string(dir_->sync_cursor()));
      for (std::string& m : Tick()) out.push_back(std::move(m));
      return out;
    }
    return Tick();
  }
  if (auto* ru = std::get_if<proto::ReferralUpdate>(msg)) return OnReferralUpdate(*ru);
  if (auto* ra = std::get_if<proto::ReferralPostAck>(msg)) {
    if (!referrals_) return {};
    Status s = referrals_->OnAck(*ra);
    if (!s.ok()) Error("cannot settle a referral post: " + s.ToString());
    if (!ra->accepted && ra->code == proto::PostRefusalCode::kUnavailable) {
      // Not saved at the broker: the book keeps it, and it is posted again after a while.
      Error("the broker could not save a referral post: " + ra->reason);
      return Tick();
    }
    if (ra->seq >= referral_last_posted_) referral_last_posted_ = 0;  // all answered
    return Tick();
  }
  if (auto* c = std::get_if<proto::Collected>(msg)) return OnCollected(*c);
  Error(std::string("unexpected ") + proto::MessageName(m) + " from the broker");
  return {};
}

void AgentSync::SaveRoster(const proto::Roster& r) {
  if (!referrals_) return;
  Status s = referrals_->SaveRoster(r);
  if (s.ok()) return;
  Error("cannot save the roster: " + s.ToString());
  roster_unsaved_ = true;
}

std::vector<std::string> AgentSync::AskAgainIfUnsaved() {
  if (!roster_unsaved_) return {};
  // A resumed Hello without the roster brings it whole, and leaves the log stream as it is.
  roster_unsaved_ = false;
  roster_seen_ = false;
  Note("hello repeated", "the roster could not be saved", &SyncStatus::hello_repeats);
  return {Hello(/*resume=*/true)};
}

std::vector<std::string> AgentSync::OnUpdates(const proto::Updates& u) {
  known_head_ = std::max(known_head_, u.head);
  if (checkpoint_id_ != 0) return {};  // a checkpoint is coming first; the log follows it
  std::vector<RemoteDelta> deltas;
  const uint64_t start = dir_->sync_cursor();
  uint64_t cursor = start;
  std::string gap;
  // Verifies and decodes one entry's delta into `deltas`; sets aside what cannot be used.
  auto take = [&](const proto::LogEntry& e) {
    if (!Verify(e.delta)) {
      SetAside("log", std::to_string(e.seq), e.delta.author,
               "the signature does not verify (signer " + e.delta.signer + ")", e.delta.delta);
      return;
    }
    Result<Delta> d = DecodeDelta(e.delta.delta);
    if (!d.ok()) {
      SetAside("log", std::to_string(e.seq), e.delta.author, d.status().message(), e.delta.delta);
      return;
    }
    deltas.push_back(RemoteDelta{std::move(d).value(), e.delta.author});
  };
  for (const proto::LogEntry& e : u.entries) {
    if (e.seq <= cursor) {
      // Already applied (a resend), except a state the broker made (author "broker"): a
      // session far behind starts with the coalesced state of the records its backlog
      // touched, and the backlog follows as positions only. When a stream of an earlier
      // session took our cursor past that state's position (held bytes arriving after a new
      // Hello), the positions after our cursor are covered by that state alone: take it
      // (joining a state again changes nothing).
      if (e.delta.author == "broker" && e.delta.signer == "broker" && !e.delta.delta.empty()) {
        take(e);
      }
      continue;
    }
    if (e.seq != cursor + 1) {
      // Something was lost, or comes from before a rewind: apply what is contiguous.
      gap = "entry " + std::to_string(e.seq) + " came after " + std::to_string(cursor);
      break;
    }
    bool unknown_author =
        !e.delta.delta.empty() && e.delta.signer != "broker" && !sign_keys_.count(e.delta.author);
    if (unknown_author && (!roster_seen_ || roster_asked_for_ != e.seq)) {
      // The roster has not arrived (lost or overtaken), or a change to it was lost: stop
      // before this entry and ask for the whole roster, once for this entry. An author still
      // unknown after that is not enrolled: the entry is set aside below.
      if (roster_seen_) {
        roster_asked_for_ = e.seq;
        roster_seen_ = false;
      }
      gap = "entry " + std::to_string(e.seq) + "'s author is not in the roster yet";
      break;
    }
    rewind_pending_ = false;  // the stream is contiguous again
    cursor = e.seq;
    if (e.delta.delta.empty()) continue;  // nothing visible to us, or our own write
    take(e);
  }
  size_t n = deltas.size();
  if (cursor > dir_->sync_cursor() || !deltas.empty()) {
    Status s = dir_->ApplyRemote(std::move(deltas), cursor);
    if (!s.ok()) {
      Error("cannot save updates: " + s.ToString());
      return {};
    }
  }
  {
    MutexLock lock(status_mu_);
    status_.cursor = cursor;
    status_.broker_head = std::max(status_.broker_head, u.head);
    status_.applied += n;
  }
  std::vector<std::string> out;
  if (cursor > start) out.push_back(Credit(/*rewind=*/false));
  if (!gap.empty()) {
    if (!roster_seen_ && !rewind_pending_) {
      // The roster was lost or overtaken: a resumed Hello brings it (and leaves the stream
      // as it is); the rewind then sends the entries again after it.
      Note("hello repeated", "the roster has not arrived", &SyncStatus::hello_repeats);
      out.push_back(Hello(/*resume=*/true));
    }
    for (std::string& m : Rewind(gap)) out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> AgentSync::OnUpdatesOneByOne(const proto::Updates& u) {
  for (const proto::LogEntry& e : u.entries) {
    if (e.seq <= dir_->sync_cursor()) continue;
    std::vector<std::string> out;
    try {
      out = OnUpdates(proto::Updates{{e}, u.head});
    } catch (const std::exception& ex) {
      SetAside("log", std::to_string(e.seq), e.delta.author,
               std::string("could not be applied: ") + Printable(ex.what(), 300), e.delta.delta);
      // Step over it, or it would come back at every reconnect.
      if (e.seq == dir_->sync_cursor() + 1) {
        Status s = dir_->ApplyRemote({}, e.seq);
        if (!s.ok()) {
          Error("cannot save the sync cursor: " + s.ToString());
          return {};
        }
      }
    }
    if (state_ != State::kReady) return out;  // a gap started the session over
  }
  {
    MutexLock lock(status_mu_);
    status_.cursor = dir_->sync_cursor();
  }
  return {proto::EncodeEnvelope(
      proto::Credit{static_cast<uint32_t>(u.entries.size()), dir_->sync_cursor()})};
}

std::vector<std::string> AgentSync::OnReferralUpdate(const proto::ReferralUpdate& u) {
  if (!referrals_) return {};
  Status s = referrals_->OnUpdate(u);
  if (s.ok()) {
    std::vector<std::string> out;
    PostReferrals(&out);  // e.g. the delivery acknowledgement it queued
    return out;
  }
  Error("referral " + u.id + ": " + s.message());
  if (s.code() == Code::kFailedPrecondition || s.code() == Code::kIoError) {
    // Not yet possible (the roster is behind) or not saved: ask again. A resumed Hello brings
    // the roster and every referral after the durable referral cursor, and leaves the log
    // stream as it is.
    Note("hello repeated", "referral " + u.id + " could not be applied yet: " + s.message(),
         &SyncStatus::hello_repeats);
    return {Hello(/*resume=*/true)};
  }
  return {};
}

void AgentSync::PostReferrals(std::vector<std::string>* out) {
  if (!referrals_ || state_ != State::kReady) return;
  if (referrals_->queue_depth() == 0) {  // the common case: no store read on every tick
    referral_last_posted_ = 0;
    return;
  }
  uint64_t now = clock_->MonotonicMillis();
  if (referral_last_posted_ != 0 && now - referral_posted_at_ < options_.resend_after_ms) {
    // Only what was queued after the posts in flight.
    for (proto::ReferralPost& p : referrals_->Pending(64)) {
      if (p.seq <= referral_last_posted_) continue;
      referral_last_posted_ = p.seq;
      out->push_back(proto::EncodeEnvelope(p));
    }
    return;
  }
  std::vector<proto::ReferralPost> pending = referrals_->Pending(64);
  if (pending.empty()) return;
  referral_posted_at_ = now;
  for (proto::ReferralPost& p : pending) {
    referral_last_posted_ = std::max(referral_last_posted_, p.seq);
    out->push_back(proto::EncodeEnvelope(p));
  }
}

std::vector<std::string> AgentSync::OnSnapshot(const proto::SnapshotChunk& c) {
  // Chunks of one checkpoint arrive in order, from index 0; anything else (a chunk lost, or
  // one from a checkpoint that was superseded) starts the checkpoint over.
  // Every chunk says where the log continues after it: an agent that then hears nothing
  // knows it is behind (and asks again after a stall) even if the rest was lost.
  known_head_ = std::max(known_head_, c.log_seq);
  if (c.index == 0) {
    checkpoint_id_ = c.snapshot;
    checkpoint_next_ = 0;
  }
  if (c.snapshot != checkpoint_id_ || c.index != checkpoint_next_) {
    if (checkpoint_id_ == 0 && rewind_pending_) return {};  // from before the rewind
    return Rewind("checkpoint chunk " + std::to_string(c.snapshot) + "/" + std::to_string(c.index) +
                  " came out of order");
  }
  ++checkpoint_next_;
  if (!VerifySignature(broker_sign_public_, c.records, c.signature)) {
    SetAside("snapshot", std::to_string(c.snapshot) + "/" + std::to_string(c.index), "broker",
             "the broker's signature does not verify", c.records);
  } else {
    Result<Delta> d = DecodeDelta(c.records);
    if (!d.ok()) {
      SetAside("snapshot", std::to_string(c.snapshot) + "/" + std::to_string(c.index), "broker",
               d.status().message(), c.records);
    } else {
      Status s =
          dir_->ApplyRemote({RemoteDelta{std::move(d).value(), "broker"}}, c.last ? c.log_seq : 0);
      if (!s.ok()) {
        Error("cannot save a checkpoint chunk: " + s.ToString());
        --checkpoint_next_;  // not applied: it must come again
        return Rewind("a checkpoint chunk could not be saved");
      }
    }
  }
  if (c.last) {
    checkpoint_id_ = 0;
    rewind_pending_ = false;
    spdlog::info("sync: checkpoint applied ({} chunks), cursor {}", checkpoint_next_, c.log_seq);
    MutexLock lock(status_mu_);
    status_.cursor = c.log_seq;
    ++status_.checkpoints;
  }
  std::vector<std::string> out{Credit(/*rewind=*/false)};
  if (c.last) checkpoint_next_ = 0;
  return out;
}

void AgentSync::OnPushAck(const proto::PushAck& a) {
  if (a.batch != in_flight_batch_) return;  // a late answer to an earlier attempt
  in_flight_batch_ = 0;
  std::vector<PushOutcome> outcomes;
  uint64_t accepted = 0, refused = 0;
  for (const proto::PushResult& r : a.results) {
    PushOutcome o{r.outbox_seq, r.accepted, r.reason, {}, r.accepted ? 0 : r.log_seq};
    if (!r.accepted) {
      if (!r.current.empty()) {
        Result<Delta> d = DecodeDelta(r.current);
        if (!d.ok()) {
          // Without the broker's state the record would be taken back to nothing: keep the
          // edit in the outbox (it is pushed again, and refused again until the broker sends
          // a state this agent can read) and say why.
          SetAside("refusal", std::to_string(r.outbox_seq), "broker",
                   "the broker's state of a refused edit cannot be read (" + d.status().message() +
                       "); the edit stays in the outbox",
                   r.current);
          continue;
        }
        o.current = std::move(d).value();
      }
      ++refused;
    } else {
      ++accepted;
    }
    outcomes.push_back(std::move(o));
  }
  // Items left out of the ack were throttled: back off before pushing again.
  uint64_t now = clock_->MonotonicMillis();
  if (a.results.size() < in_flight_items_) {
    throttle_backoff_ms_ =
        std::min<uint64_t>(throttle_backoff_ms_ == 0 ? 500 : throttle_backoff_ms_ * 2, 30'000);
    throttled_until_ = now + throttle_backoff_ms_;
  } else {
    throttle_backoff_ms_ = 0;
  }
  Status s = dir_->SettleOutbox(std::move(outcomes));
  if (!s.ok()) Error("cannot settle the outbox: " + s.ToString());
  MutexLock lock(status_mu_);
  status_.accepted += accepted;
  status_.refused += refused;
}

std::vector<std::string> AgentSync::Tick() {
  uint64_t now = clock_->MonotonicMillis();
  {
    MutexLock lock(status_mu_);
    status_.outbox_depth = dir_->outbox_depth();
    status_.cursor = dir_->sync_cursor();
  }
  if (state_ == State::kHelloSent && now - hello_at_ > hello_wait_ms_) {
    // No Welcome yet: the broker is slow, or the Hello was lost. Say it again on this
    // connection; the broker carries on with what it has already sent.
    Note("hello repeated", "no welcome after " + std::to_string(hello_wait_ms_) + " ms",
         &SyncStatus::hello_repeats);
    hello_wait_ms_ = std::min(hello_wait_ms_ * 2, options_.hello_retry_max_ms);
    return {Hello(/*resume=*/true)};
  }
  if (state_ != State::kReady) return {};
  if (dir_->restored() && checkpoint_id_ == 0 && dir_->sync_cursor() >= known_head_) {
    // Restored from a backup and now caught up: every write of ours the broker holds is
    // here, so new edits take fresh dots (store/backup.h).
    if (Status s = dir_->ClearRestored(); !s.ok())
      Error("cannot clear the restored mark: " + s.ToString());
    else
      spdlog::info("sync: caught up after the restore (cursor {}); edits are accepted again",
                   dir_->sync_cursor());
  }
  if (referrals_ && now - pre_key_checked_at_ >= 1000) {
    // The pre-key rotated since the Hello (its schedule, or `refer rotate-key`): a resumed
    // Hello publishes the new one, and the stream goes on.
    pre_key_checked_at_ = now;
    if (referrals_->CurrentPreKeyId() != sent_pre_key_id_) {
      Note("hello repeated", "a new referral pre-key to publish", &SyncStatus::hello_repeats);
      return {Hello(/*resume=*/true)};
    }
  }
  // Behind the broker and nothing at all came from it for a long while. Ask it to resume,
  // not to start over: an overloaded broker (thousands of sessions) may take this long and
  // still have the stream in flight on this connection, and a restart would send it all again
  // behind the first copy — the feedback loop that once kept 100 agents from converging. A
  // broker that lost the session (a full queue, a new connection) starts one at the cursor.
  // Still nothing a whole stall later: something was lost after all (ZeroMQ does not lose
  // messages on a live connection, but this must not hang if it did): start over.
  // In the middle of a checkpoint counts as behind too.
  bool waiting = known_head_ > dir_->sync_cursor() || checkpoint_id_ != 0;
  if (waiting && now - last_heard_at_ > options_.stall_ms) {
    SetState(State::kHelloSent);
    std::string behind = (known_head_ > dir_->sync_cursor()
                              ? "behind the broker (" + std::to_string(dir_->sync_cursor()) +
                                    " of " + std::to_string(known_head_) + ")"
                              : std::string("in the middle of a checkpoint")) +
                         " and nothing from it for " + std::to_string(options_.stall_ms / 1000) +
                         " s";
    if (stalled_) {
      Note("session restart", behind + " after asking it to resume", &SyncStatus::session_restarts);
      stalled_ = false;
      return {Hello(/*resume=*/false)};
    }
    Note("stalled", behind + "; asking it to resume", &SyncStatus::stalls);
    stalled_ = true;
    return {Hello(/*resume=*/true)};
  }
  std::vector<std::string> referral_posts;
  PostReferrals(&referral_posts);
  if (!referral_posts.empty()) return referral_posts;
  if (now < throttled_until_) return {};
  if (in_flight_batch_ != 0) {
    if (now - in_flight_at_ < options_.resend_after_ms) return {};
    in_flight_batch_ = 0;  // unanswered: push again (the broker recognises repeats)
  }
  if (dir_->outbox_depth() == 0) return {};  // the common case: no store read on every tick
  if (std::string ahead = dir_->ClockAhead(); !ahead.empty()) {
    // Held, not pushed: see the header. Pushed once the clock is right.
    if (!holding_) spdlog::warn("sync: outbox held: {}", ahead);
    holding_ = true;
    MutexLock lock(status_mu_);
    status_.pushes_held++;
    return {};
  }
  holding_ = false;
  Result<std::vector<OutboxEntry>> entries = dir_->Outbox(0, options_.max_push_items);
  if (!entries.ok()) {
    Error("cannot read the outbox: " + entries.status().ToString());
    return {};
  }
  if (entries->empty()) return {};
  proto::Push push{++batch_counter_, {}};
  size_t bytes = 0;
  for (OutboxEntry& e : *entries) {
    // Stay well below the message size limit (imports make large outbox entries).
    if (!push.items.empty() && bytes + e.delta.size() > proto::kMaxMessageBytes / 2) break;
    bytes += e.delta.size();
    std::string sig = Sign(me_, e.delta);
    push.items.push_back(proto::PushItem{
        e.seq, proto::SignedDelta{std::move(e.delta), me_.pub.org, me_.pub.org, std::move(sig)}});
  }
  in_flight_batch_ = push.batch;
  in_flight_at_ = now;
  in_flight_items_ = push.items.size();
  {
    MutexLock lock(status_mu_);
    status_.pushed += push.items.size();
  }
  return {proto::EncodeEnvelope(push)};
}

SyncStatus AgentSync::status() const {
  MutexLock lock(status_mu_);
  SyncStatus s = status_;
  s.outbox_depth = dir_->outbox_depth();
  if (std::optional<int64_t> skew = dir_->clock_skew_ms()) {
    s.clock_skew_known = true;
    s.clock_skew_ms = *skew;
    s.clock_ahead = dir_->ClockAhead();
  }
  return s;
}

bool AgentSync::Rejoin(uint64_t epoch) {
  Result<size_t> queued = dir_->Rejoin(epoch);
  if (!queued.ok()) {
    Error("cannot rejoin the restored broker: " + queued.status().ToString());
    return false;
  }
  ResetStream();
  known_head_ = 0;
  in_flight_batch_ = 0;  // what was in flight is pushed again, with the re-sent part
  Note("session restart",
       "the broker's log is another one (restored from a backup?); " + std::to_string(*queued) +
           " records re-sent",
       &SyncStatus::session_restarts);
  return true;
}

}  // namespace sb

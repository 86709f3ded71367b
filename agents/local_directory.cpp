#include "agents/local_directory.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "agents/hsds_json.h"
#include "base/json.h"
#include "base/utf8.h"
#include "conflict/codec.h"
#include "store/backup.h"
#include "transport/protocol.h"

namespace sb {

namespace {

constexpr char kNextSeqKey[] = "next_seq";
constexpr char kHlcKey[] = "hlc_last";
constexpr char kCursorKey[] = "sync_cursor";
constexpr char kRoleKey[] = "welcomed_role";
constexpr char kRejectionPrefix[] = "rejection/";
constexpr char kBrokerEpochKey[] = "broker_epoch";
// More requests than this wait for the next group, bounding a batch's size and latency.
constexpr size_t kMaxGroup = 256;
constexpr size_t kMaxRecordsPerOutboxEntry = 256;

std::string HistoryKey(const std::string& id, uint64_t seq) {
  std::string k = id;
  k.push_back('\0');
  k += EncodeSeq(seq);
  return k;
}

const char* OpName(const RecordEdit& e, const PlannedEdit& p) {
  if (p.empty()) return "unchanged";
  if (e.remove) return "delete";
  if (e.restore) return "restore";
  return p.created ? "create" : "update";
}

}  // namespace

LocalDirectory::LocalDirectory(Store* store, Clock* clock, Options options)
    : store_(store), clock_(clock), options_(options), hlc_(options.max_skew_ms) {}

Result<std::unique_ptr<LocalDirectory>> LocalDirectory::Open(Store* store, Clock* clock,
                                                             Options options) {
  if (options.replica == 0) return Status::InvalidArgument("replica id 0 is not valid");
  std::unique_ptr<LocalDirectory> d(new LocalDirectory(store, clock, options));
  // The highest stamp the state holds within the skew bound of this clock: a store written
  // before agents observed what they apply has applied stamps its saved clock never saw.
  uint64_t now = clock->NowMillis();
  Hlc within = Hlc::Make(std::min(now + options.max_skew_ms, Hlc::kMaxMillis), 0xffff);
  Hlc applied;
  {
    WriterLock lock(d->state_mu_);  // nobody else has `d` yet: for the analysis' sake
    RETURN_IF_ERROR(store->ForEachRecord([&](const Record& r) REQUIRES(d->state_mu_) {
      d->dir_.Join(r);
      applied = std::max(applied, HighestStamp(r, within));
      return true;
    }));
  }
  ASSIGN_OR_RETURN(auto seq, store->Get(Cf::kMeta, kNextSeqKey));
  if (seq) d->next_seq_ = DecodeSeq(*seq);
  if (d->next_seq_ == 0) return Status::Corruption("meta next_seq is malformed");
  ASSIGN_OR_RETURN(auto hlc, store->Get(Cf::kMeta, kHlcKey));
  // Never issue a timestamp below one issued or observed before a restart, even if the wall
  // clock went back: the saved clock is written in the batch of every edit and of every
  // remote update it observed (CommitJob), so what survives a power loss was seen by it.
  if (hlc) d->hlc_.ObserveChecked(Hlc{DecodeSeq(*hlc)}, now);
  d->hlc_.ObserveChecked(applied, now);
  d->hlc_last_ = d->hlc_.last().packed;
  ASSIGN_OR_RETURN(auto cursor, store->Get(Cf::kMeta, kCursorKey));
  if (cursor) d->sync_cursor_ = DecodeSeq(*cursor);
  ASSIGN_OR_RETURN(auto role, store->Get(Cf::kMeta, kRoleKey));
  if (role) {
    if (!ParseRole(*role).ok()) return Status::Corruption("meta welcomed_role is malformed");
    MutexLock lock(d->role_mu_);
    d->welcomed_role_ = *role;
  }
  ASSIGN_OR_RETURN(auto epoch, store->Get(Cf::kMeta, kBrokerEpochKey));
  if (epoch) d->broker_epoch_ = DecodeSeq(*epoch);
  ASSIGN_OR_RETURN(bool restored, IsRestored(*store));
  d->restored_ = restored;
  uint64_t depth = 0;
  RETURN_IF_ERROR(store->Scan(Cf::kOutbox, "", "", [&](std::string_view, std::string_view) {
    ++depth;
    return true;
  }));
  d->outbox_depth_ = depth;
  d->committer_ = std::thread([p = d.get()] { p->CommitLoop(); });
  return d;
}

LocalDirectory::~LocalDirectory() {
  {
    MutexLock lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.NotifyAll();
  if (committer_.joinable()) committer_.join();
}

Result<std::vector<EditOutcome>> LocalDirectory::Apply(std::vector<RecordEdit> edits,
                                                       const std::string& actor) {
  if (edits.empty()) return std::vector<EditOutcome>{};
  if (restored_) {
    return Status::Unavailable(
        "this agent was restored from a backup and is catching up with the broker; edits are "
        "accepted once it has (see `switchboard status`)");
  }
  auto req = std::make_unique<Request>();
  req->edits = std::move(edits);
  req->actor = actor;
  auto done = req->done.get_future();
  {
    MutexLock lock(queue_mu_);
    if (stopping_) return Status::Unavailable("the agent is shutting down");
    queue_.push_back(std::move(req));
  }
  queue_cv_.NotifyOne();
  return done.get();
}

void LocalDirectory::CommitLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Request>> group;
    {
      MutexLock lock(queue_mu_);
      queue_cv_.Wait(queue_mu_, [&]() REQUIRES(queue_mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      // A run of edit requests forms one group; a job (sync step) runs on its own.
      if (queue_.front()->job) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        while (!queue_.empty() && !queue_.front()->job && group.size() < kMaxGroup) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    // Nothing a request or a sync step carries may stop the committer (and with it every
    // write): a failure fails the requests of this group, and the loop goes on.
    try {
      if (group.front()->job) {
        CommitJob(*group.front());
      } else {
        CommitGroup(group);
      }
    } catch (const std::exception& e) {
      spdlog::error("store: a write failed unexpectedly: {}", Printable(e.what(), 300));
      FailGroup(group,
                Status::Internal(std::string("the write failed: ") + Printable(e.what(), 300)));
    } catch (...) {
      FailGroup(group, Status::Internal("the write failed"));
    }
  }
}

void LocalDirectory::FailGroup(std::vector<std::unique_ptr<Request>>& group, const Status& why) {
  for (auto& req : group) {
    // A promise already answered throws future_error: that request has its answer.
    try {
      if (req->job) {
        req->job_done.set_value(why);
      } else {
        req->done.set_value(why);
      }
    } catch (const std::future_error&) {
    }
  }
}

void LocalDirectory::CommitGroup(std::vector<std::unique_ptr<Request>>& group) {
  // Records as they will be once this group is durable; falls back to the committed state.
  std::map<std::string, Record> overlay;
  auto current = [&](const std::string& id) -> const Record* {
    if (auto it = overlay.find(id); it != overlay.end()) return &it->second;
    return CommittedState().Find(id);
  };

  WriteBatch batch;
  std::vector<Result<std::vector<EditOutcome>>> results;
  std::vector<Record> accepted;  // deltas to join into memory after the commit
  uint64_t outbox_added = 0;
  uint64_t seq = next_seq_;
  if (std::string ahead = ClockAhead(); !ahead.empty()) {
    FailGroup(group, Status::FailedPrecondition(ahead + " (nothing was saved)"));
    return;
  }
  uint64_t now = clock_->NowMillis();
  if (std::optional<int64_t> skew = clock_skew_ms(); skew) {
    // This clock is right (again): a hybrid clock left in the future by the time it ran ahead
    // goes back to the broker's time (see NoteBrokerClock).
    uint64_t broker_now = static_cast<uint64_t>(static_cast<int64_t>(now) - *skew);
    if (hlc_.last().millis() > broker_now + options_.max_skew_ms) {
      spdlog::warn("the hybrid clock was {} ahead of the broker's clock; set back to it",
                   HumanDuration(hlc_.last().millis() - broker_now));
      hlc_.Reset(ResetTarget(broker_now));
    }
  }
  Hlc stamp = hlc_.Now(now);
  hlc_last_ = hlc_.last().packed;

  for (auto& req : group) {
    // Plan the whole request against a private overlay; keep it only if every edit is valid.
    std::map<std::string, Record> mine;
    std::vector<std::pair<const RecordEdit*, PlannedEdit>> plans;
    Status failed;
    for (const RecordEdit& e : req->edits) {
      const Record* base = nullptr;
      if (auto it = mine.find(e.id); it != mine.end())
        base = &it->second;
      else
        base = current(e.id);
      Result<PlannedEdit> p = PlanEdit(FieldSchema::Hsds(), base, e, options_.replica, stamp);
      if (!p.ok()) {
        const std::string& m = p.status().message();
        failed = m.rfind("record ", 0) == 0 || m.rfind("no record ", 0) == 0
                     ? p.status()
                     : p.status().WithContext("record " + e.id);
        break;
      }
      Record next = base ? *base : Record(e.id, e.kind);
      next.Join(p->delta);
      mine[e.id] = std::move(next);
      plans.emplace_back(&e, std::move(p).value());
    }
    if (!failed.ok()) {
      results.emplace_back(failed);
      continue;
    }
    std::vector<EditOutcome> outcomes;
    Delta outgoing{options_.replica, stamp, {}};
    for (auto& [edit, plan] : plans) {
      outcomes.push_back(EditOutcome{edit->id, OpName(*edit, plan), plan.changed});
      if (plan.empty()) continue;
      batch.MergeRecord(plan.delta);
      nlohmann::json h = {{"at_ms", stamp.millis()},
                          {"hlc", stamp.ToString()},
                          {"replica", ReplicaHex(options_.replica)},
                          {"actor", req->actor},
                          {"op", OpName(*edit, plan)},
                          {"fields", plan.changed}};
      batch.Put(Cf::kHistory, HistoryKey(edit->id, seq++), DumpJson(h));
      accepted.push_back(plan.delta);
      outgoing.records.push_back(std::move(plan.delta));
      // Large requests (imports) become several outbox entries, each well below the size
      // limit a broker accepts for one delta.
      if (outgoing.records.size() == kMaxRecordsPerOutboxEntry) {
        batch.Put(Cf::kOutbox, EncodeSeq(seq++), EncodeDelta(outgoing));
        outgoing.records.clear();
        ++outbox_added;
      }
    }
    if (!outgoing.records.empty()) {
      batch.Put(Cf::kOutbox, EncodeSeq(seq++), EncodeDelta(outgoing));
      ++outbox_added;
    }
    for (auto& [id, r] : mine) overlay[id] = std::move(r);
    results.emplace_back(std::move(outcomes));
  }

  Status committed;
  if (batch.count() > 0) {
    batch.Put(Cf::kMeta, kNextSeqKey, EncodeSeq(seq));
    batch.Put(Cf::kMeta, kHlcKey, EncodeSeq(hlc_.last().packed));
    committed = store_->Commit(std::move(batch));
  }
  if (committed.ok()) {
    next_seq_ = seq;
    outbox_depth_ += outbox_added;
    {
      WriterLock lock(state_mu_);
      for (const Record& d : accepted) dir_.Join(d);
      ++generation_;
    }
    if (outbox_added > 0) {
      MutexLock lock(on_outbox_mu_);
      if (on_outbox_) on_outbox_();
    }
  }
  for (size_t i = 0; i < group.size(); ++i) {
    if (!committed.ok() && results[i].ok()) {
      group[i]->done.set_value(committed.WithContext("not saved"));
    } else {
      group[i]->done.set_value(std::move(results[i]));
    }
  }
}

Result<std::vector<HistoryEntry>> LocalDirectory::History(const std::string& id) const {
  std::vector<HistoryEntry> out;
  std::string prefix = id;
  prefix.push_back('\0');
  Status parse;
  RETURN_IF_ERROR(
      store_->Scan(Cf::kHistory, prefix, "", [&](std::string_view k, std::string_view v) {
        auto j = ParseStoredJson(v);
        if (j.is_discarded() || !j.is_object()) {
          parse = Status::Corruption("history entry of " + id + " is malformed");
          return false;
        }
        HistoryEntry e;
        e.seq = DecodeSeq(k.substr(prefix.size()));
        e.at_ms = j.value("at_ms", uint64_t{0});
        e.hlc = j.value("hlc", "");
        e.replica = j.value("replica", "");
        e.actor = j.value("actor", "");
        e.op = j.value("op", "");
        e.fields = j.value("fields", std::vector<std::string>{});
        out.push_back(std::move(e));
        return true;
      }));
  RETURN_IF_ERROR(parse);
  return out;
}

uint64_t LocalDirectory::outbox_depth() const {
  return outbox_depth_.load();
}

Status LocalDirectory::RunJob(Job job) {
  auto req = std::make_unique<Request>();
  req->job = std::move(job);
  auto done = req->job_done.get_future();
  {
    MutexLock lock(queue_mu_);
    if (stopping_) return Status::Unavailable("the agent is shutting down");
    queue_.push_back(std::move(req));
  }
  queue_cv_.NotifyOne();
  return done.get();
}

void LocalDirectory::CommitJob(Request& req) {
  JobResult r;
  uint64_t seq = next_seq_;
  Status s = req.job(CommittedState(), &seq, &r);
  if (s.ok() && r.batch.count() > 0) {
    // What the clock observed is saved with what brought it (one batch): after a power loss
    // it is past every stamp the store holds, never below one it has applied.
    if (r.hlc_before && hlc_.last() != *r.hlc_before) {
      r.batch.Put(Cf::kMeta, kHlcKey, EncodeSeq(hlc_.last().packed));
    }
    if (seq != next_seq_) r.batch.Put(Cf::kMeta, kNextSeqKey, EncodeSeq(seq));
    if (r.cursor > 0) r.batch.Put(Cf::kMeta, kCursorKey, EncodeSeq(r.cursor));
    // The cursor counts in the broker log's epoch: saved together.
    if (r.cursor > 0 && broker_epoch_ != 0) {
      r.batch.Put(Cf::kMeta, kBrokerEpochKey, EncodeSeq(broker_epoch_.load()));
    }
    if (r.reset_cursor) r.batch.Put(Cf::kMeta, kCursorKey, EncodeSeq(0));
    s = store_->Commit(std::move(r.batch));
  }
  if (!s.ok() && r.hlc_before) hlc_.Reset(*r.hlc_before);  // not saved: not observed
  hlc_last_ = hlc_.last().packed;
  if (s.ok()) {
    next_seq_ = seq;
    if (r.cursor > 0) sync_cursor_ = r.cursor;
    if (r.reset_cursor) sync_cursor_ = 0;
    outbox_depth_ -= std::min<uint64_t>(outbox_depth_, r.outbox_removed);
    outbox_depth_ += r.outbox_added;
    if (r.outbox_added > 0) {
      MutexLock lock(on_outbox_mu_);
      if (on_outbox_) on_outbox_();
    }
    WriterLock lock(state_mu_);
    for (const Record& d : r.joins) dir_.Join(d);
    for (const Record& d : r.replaces) dir_.Replace(d);
    for (const std::string& id : r.erases) dir_.Erase(id);
    ++generation_;
  }
  req.job_done.set_value(s);
}

Result<std::vector<OutboxEntry>> LocalDirectory::Outbox(uint64_t after, size_t max) const {
  std::vector<OutboxEntry> out;
  RETURN_IF_ERROR(store_->Scan(Cf::kOutbox, "", EncodeSeq(after + 1),
                               [&](std::string_view k, std::string_view v) {
                                 out.push_back(OutboxEntry{DecodeSeq(k), std::string(v)});
                                 return out.size() < max;
                               }));
  return out;
}

namespace {
std::vector<std::string> FieldNames(const Record& r) {
  std::vector<std::string> out;
  for (const auto& [name, f] : r.fields()) out.push_back(name);
  return out;
}
}  // namespace

Status LocalDirectory::ApplyRemote(std::vector<RemoteDelta> deltas, uint64_t cursor) {
  if (deltas.empty() && cursor == 0) return Status::Ok();
  return RunJob([&](const Directory&, uint64_t* seq, JobResult* r) {
    // Each stamp applied is observed (ObserveApplied): an edit made after seeing it is
    // stamped after it, even on a clock behind. (It once broke BrokerStoreFaults, power loss 8
    // of 21: the broker's clock went back across its restart, BrokerCore::Load.)
    for (const RemoteDelta& rd : deltas) {
      if (!rd.delta.records.empty()) ObserveApplied(rd.delta.stamp, r);
      for (const Record& rec : rd.delta.records) {
        r->batch.MergeRecord(rec);
        nlohmann::json h = {{"at_ms", rd.delta.stamp.millis()},
                            {"hlc", rd.delta.stamp.ToString()},
                            {"replica", ReplicaHex(rd.delta.author)},
                            {"actor", rd.author},
                            {"op", "sync"},
                            {"fields", FieldNames(rec)}};
        r->batch.Put(Cf::kHistory, HistoryKey(rec.id(), (*seq)++), DumpJson(h));
        r->joins.push_back(rec);
      }
    }
    r->cursor = cursor;
    if (r->batch.count() == 0 && cursor > 0) r->batch.Put(Cf::kMeta, kCursorKey, EncodeSeq(cursor));
    return Status::Ok();
  });
}

void LocalDirectory::ObserveApplied(Hlc stamp, JobResult* r) {
  if (stamp <= hlc_.last()) return;  // the next stamp is after it already
  uint64_t now = clock_->NowMillis();
  // The bound is the broker's clock (which checked the stamp when it took it) plus the skew
  // allowed, so a clock hours behind still follows what it receives; this clock stands in
  // before any Welcome.
  std::optional<int64_t> skew = clock_skew_ms();
  uint64_t reference = skew ? static_cast<uint64_t>(static_cast<int64_t>(now) - *skew) : now;
  uint64_t bound = std::min(reference + options_.max_skew_ms, Hlc::kMaxMillis);
  if (stamp.millis() > bound) {
    spdlog::warn(
        "sync: a received update is stamped {} ahead of the {} clock (at most {} is allowed); "
        "this agent's clock follows it only that far",
        HumanDuration(stamp.millis() - reference), skew ? "broker's" : "agent's",
        HumanDuration(options_.max_skew_ms));
    stamp = Hlc::Make(bound, 0);
    if (stamp <= hlc_.last()) return;
  }
  if (!r->hlc_before) r->hlc_before = hlc_.last();
  hlc_.ObserveChecked(stamp, now);
}

Hlc LocalDirectory::ResetTarget(uint64_t broker_now) const {
  // Not below a stamp applied within the skew bound (another replica's, up to max_skew_ms
  // ahead of the broker): an edit of that field is still stamped after it. This replica's own
  // stamps from while its clock ran ahead are further out and left behind.
  Hlc within = Hlc::Make(std::min(broker_now + options_.max_skew_ms, Hlc::kMaxMillis), 0xffff);
  Hlc target = Hlc::Make(broker_now, 0);
  for (const auto& [id, rec] : CommittedState().records()) {
    target = std::max(target, HighestStamp(rec, within));
  }
  return target;
}

void LocalDirectory::NoteBrokerClock(uint64_t broker_ms) {
  if (broker_ms == 0) return;
  uint64_t mono = clock_->MonotonicMillis();
  MutexLock lock(skew_mu_);
  broker_clock_known_ = true;
  broker_ms_ = broker_ms;
  broker_at_mono_ = mono;
}

std::optional<int64_t> LocalDirectory::clock_skew_ms() const {
  uint64_t broker_ms = 0, at = 0;
  {
    MutexLock lock(skew_mu_);
    if (!broker_clock_known_) return std::nullopt;
    broker_ms = broker_ms_;
    at = broker_at_mono_;
  }
  uint64_t mono = clock_->MonotonicMillis();
  uint64_t broker_now = broker_ms + (mono > at ? mono - at : 0);
  return static_cast<int64_t>(clock_->NowMillis()) - static_cast<int64_t>(broker_now);
}

std::string LocalDirectory::ClockAhead() const {
  std::optional<int64_t> skew = clock_skew_ms();
  if (!skew || *skew <= static_cast<int64_t>(options_.max_skew_ms)) return "";
  return ClockAheadMessage(static_cast<uint64_t>(*skew), options_.max_skew_ms);
}

Status LocalDirectory::SettleOutbox(std::vector<PushOutcome> outcomes) {
  if (outcomes.empty()) return Status::Ok();
  return RunJob([&, this](const Directory& committed, uint64_t* seq, JobResult* r) {
    std::set<uint64_t> refused;
    uint64_t rewind = 0;  // the oldest broker state a refused record is taken back to
    for (const PushOutcome& o : outcomes) {
      if (o.accepted) continue;
      refused.insert(o.outbox_seq);
      if (o.state_at > 0 && (rewind == 0 || o.state_at < rewind)) rewind = o.state_at;
    }
    // A record taken back to the broker's state as of log position `rewind` loses what later
    // entries brought, if they arrived first (messages overtaking each other): apply the log
    // again from there. Joins are idempotent; the sync session starts over from the cursor.
    if (rewind > 0 && rewind < sync_cursor_) r->cursor = rewind;
    // The outbox entries that stay, for re-applying on top of the broker's state.
    std::vector<Delta> remaining;
    if (!refused.empty()) {
      // Every other entry, accepted ones included: the broker's state in a refusal was taken
      // before later items of the same push were applied.
      RETURN_IF_ERROR(
          store_->Scan(Cf::kOutbox, "", "", [&](std::string_view k, std::string_view v) {
            if (refused.count(DecodeSeq(k))) return true;
            if (Result<Delta> d = DecodeDelta(v); d.ok()) remaining.push_back(std::move(d).value());
            return true;
          }));
    }
    std::set<uint64_t> settled;
    for (const PushOutcome& o : outcomes) {
      // An answer for an entry already gone (a replayed push answered twice, or twice in
      // one ack) settles nothing and must not count as a removal.
      ASSIGN_OR_RETURN(auto bytes, store_->Get(Cf::kOutbox, EncodeSeq(o.outbox_seq)));
      if (!bytes || !settled.insert(o.outbox_seq).second) continue;
      r->batch.Delete(Cf::kOutbox, EncodeSeq(o.outbox_seq));
      r->outbox_removed++;
      if (o.accepted) continue;
      ASSIGN_OR_RETURN(Delta refused_delta, DecodeDelta(*bytes));
      std::vector<std::string> ids;
      for (const Record& rec : refused_delta.records) {
        ids.push_back(rec.id());
        const Record* broker_rec = nullptr;
        for (const Record& c : o.current.records) {
          if (c.id() == rec.id()) broker_rec = &c;
        }
        if (broker_rec) ObserveApplied(o.current.stamp, r);
        Record base = broker_rec ? *broker_rec : Record(rec.id(), rec.kind());
        for (const Delta& d : remaining) {
          for (const Record& pending : d.records) {
            if (pending.id() == rec.id()) base.Join(pending);
          }
        }
        // The broker's state and the edits still pending, with the refused write's own dots
        // kept as seen, so they are never issued again (conflict/record.h Retract).
        Record next = Retract(base, rec, options_.replica, committed.Find(rec.id()));
        if (next.fields().empty() && !broker_rec) {
          // A refused creation that nothing else refers to: the record goes away. (Its dots
          // are never reused: the replica's counters for a new record of the same id would
          // start over, but that id was refused for this organization.)
          r->batch.Delete(Cf::kRecords, rec.id());
          r->erases.push_back(rec.id());
        } else {
          r->batch.Put(Cf::kRecords, rec.id(), EncodeRecord(next));
          r->replaces.push_back(next);
        }
        nlohmann::json h = {{"at_ms", clock_->NowMillis()},
                            {"hlc", ""},
                            {"replica", ReplicaHex(options_.replica)},
                            {"actor", "broker"},
                            {"op", "refused"},
                            {"reason", o.reason},
                            {"fields", FieldNames(rec)}};
        r->batch.Put(Cf::kHistory, HistoryKey(rec.id(), (*seq)++), DumpJson(h));
      }
      nlohmann::json rej = {{"seq", o.outbox_seq},
                            {"at_ms", clock_->NowMillis()},
                            {"reason", o.reason},
                            {"records", ids}};
      r->batch.Put(Cf::kMeta, kRejectionPrefix + EncodeSeq(o.outbox_seq), DumpJson(rej));
      spdlog::warn("sync: the broker refused an edit of {}: {}",
                   ids.empty() ? std::string("?") : ids.front(), o.reason);
    }
    return Status::Ok();
  });
}

Result<std::vector<Rejection>> LocalDirectory::Rejections(size_t max) const {
  std::vector<Rejection> out;
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kRejectionPrefix, "", [&](std::string_view, std::string_view v) {
        auto j = ParseStoredJson(v);
        if (j.is_discarded() || !j.is_object()) return true;
        Rejection r;
        r.outbox_seq = j.value("seq", uint64_t{0});
        r.at_ms = j.value("at_ms", uint64_t{0});
        r.reason = j.value("reason", "");
        r.records = j.value("records", std::vector<std::string>{});
        out.push_back(std::move(r));
        return out.size() < max;
      }));
  return out;
}

std::string LocalDirectory::welcomed_role() const {
  MutexLock lock(role_mu_);
  return welcomed_role_;
}

Status LocalDirectory::SaveWelcomedRole(const std::string& role) {
  MutexLock lock(role_mu_);
  if (role == welcomed_role_) return Status::Ok();
  WriteBatch batch;
  batch.Put(Cf::kMeta, kRoleKey, role);
  RETURN_IF_ERROR(store_->Commit(std::move(batch)));
  welcomed_role_ = role;
  return Status::Ok();
}

Status LocalDirectory::KeepBrokerEpoch(uint64_t epoch) {
  // No write of its own: it is saved with the next cursor, which counts in it (CommitJob).
  broker_epoch_ = epoch;
  return Status::Ok();
}

Result<size_t> LocalDirectory::Rejoin(uint64_t epoch) {
  size_t queued = 0;
  Status s = RunJob([&, this](const Directory& committed, uint64_t* seq, JobResult* r) {
    // On the committer thread: hlc_ is its own.
    Delta outgoing{options_.replica, hlc_.Now(clock_->NowMillis()), {}};
    auto flush = [&] {
      if (outgoing.records.empty()) return;
      r->batch.Put(Cf::kOutbox, EncodeSeq((*seq)++), EncodeDelta(outgoing));
      outgoing.records.clear();
      ++r->outbox_added;
    };
    for (const auto& [id, rec] : committed.records()) {
      Record mine = AuthoredPart(rec, options_.replica);
      if (mine.fields().empty()) continue;
      outgoing.records.push_back(std::move(mine));
      ++queued;
      if (outgoing.records.size() == kMaxRecordsPerOutboxEntry) flush();
    }
    flush();
    r->batch.Put(Cf::kMeta, kHlcKey, EncodeSeq(hlc_.last().packed));
    r->batch.Put(Cf::kMeta, kBrokerEpochKey, EncodeSeq(epoch));
    r->reset_cursor = true;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  broker_epoch_ = epoch;
  spdlog::warn(
      "sync: the broker's log is not the one this agent synced with (restored from a "
      "backup?): reading it again from its start, and {} records this agent wrote are "
      "queued to be sent again",
      queued);
  return queued;
}

Status LocalDirectory::ClearRestored() {
  Status s = RunJob([&](const Directory&, uint64_t*, JobResult* r) {
    sb::ClearRestored(r->batch);
    return Status::Ok();
  });
  if (s.ok()) restored_ = false;
  return s;
}

}  // namespace sb

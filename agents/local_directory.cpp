#include "agents/local_directory.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

#include "agents/hsds_json.h"
#include "conflict/codec.h"

namespace sb {

namespace {

constexpr char kNextSeqKey[] = "next_seq";
constexpr char kHlcKey[] = "hlc_last";
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
  RETURN_IF_ERROR(store->ForEachRecord([&](const Record& r) {
    d->dir_.Join(r);
    return true;
  }));
  ASSIGN_OR_RETURN(auto seq, store->Get(Cf::kMeta, kNextSeqKey));
  if (seq) d->next_seq_ = DecodeSeq(*seq);
  if (d->next_seq_ == 0) return Status::Corruption("meta next_seq is malformed");
  ASSIGN_OR_RETURN(auto hlc, store->Get(Cf::kMeta, kHlcKey));
  // Never issue a timestamp below one issued before a restart, even if the wall clock went back.
  if (hlc) RETURN_IF_ERROR(d->hlc_.Observe(Hlc{DecodeSeq(*hlc)}, Hlc{DecodeSeq(*hlc)}.millis()));
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
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

Result<std::vector<EditOutcome>> LocalDirectory::Apply(std::vector<RecordEdit> edits,
                                                       const std::string& actor) {
  if (edits.empty()) return std::vector<EditOutcome>{};
  auto req = std::make_unique<Request>();
  req->edits = std::move(edits);
  req->actor = actor;
  auto done = req->done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return Status::Unavailable("the agent is shutting down");
    queue_.push_back(std::move(req));
  }
  queue_cv_.notify_one();
  return done.get();
}

void LocalDirectory::CommitLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Request>> group;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && group.size() < kMaxGroup) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(std::move(group));
  }
}

void LocalDirectory::CommitGroup(std::vector<std::unique_ptr<Request>> group) {
  // Records as they will be once this group is durable; falls back to the committed state.
  // Only this thread writes dir_, so reading it here without the lock is safe.
  std::map<std::string, Record> overlay;
  auto current = [&](const std::string& id) -> const Record* {
    if (auto it = overlay.find(id); it != overlay.end()) return &it->second;
    return dir_.Find(id);
  };

  WriteBatch batch;
  std::vector<Result<std::vector<EditOutcome>>> results;
  std::vector<Record> accepted;  // deltas to join into memory after the commit
  uint64_t outbox_added = 0;
  uint64_t seq = next_seq_;
  Hlc stamp = hlc_.Now(clock_->NowMillis());

  for (auto& req : group) {
    // Plan the whole request against a private overlay; keep it only if every edit is valid.
    std::map<std::string, Record> mine;
    std::vector<std::pair<const RecordEdit*, PlannedEdit>> plans;
    Status failed;
    for (const RecordEdit& e : req->edits) {
      const Record* base = nullptr;
      if (auto it = mine.find(e.id); it != mine.end()) base = &it->second;
      else base = current(e.id);
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
      batch.Put(Cf::kHistory, HistoryKey(edit->id, seq++), h.dump());
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
    std::unique_lock lock(state_mu_);
    for (const Record& d : accepted) dir_.Join(d);
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
  RETURN_IF_ERROR(store_->Scan(Cf::kHistory, prefix, "", [&](std::string_view k,
                                                              std::string_view v) {
    auto j = nlohmann::json::parse(v, nullptr, false);
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

uint64_t LocalDirectory::outbox_depth() const { return outbox_depth_.load(); }

}  // namespace sb

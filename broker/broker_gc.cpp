// Tombstone collection at the broker: the horizon, the collection batch, the collected ids
// (broker/gc.h has the rules).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "base/json.h"
#include "broker/broker_core.h"
#include "broker/gc.h"
#include "conflict/codec.h"

namespace sb {

namespace {

constexpr size_t kCollectedPerMessage = proto::kMaxCollectedIds;

// "0123456789abcdef" -> the replica id; 0 when malformed.
ReplicaId ParseReplicaHex(std::string_view hex) {
  if (hex.size() != 16) return 0;
  ReplicaId r = 0;
  for (char c : hex) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return 0;
    r = (r << 4) | static_cast<ReplicaId>(v);
  }
  return r;
}

// A deleted record with nothing left but its deletion and owner: a concurrent edit that
// survived the delete (add-wins) keeps the record for review instead.
bool IsTombstone(const Record& r) {
  if (!r.IsDeleted()) return false;
  for (const auto& [name, field] : r.fields()) {
    if (name != kDeletedField && name != kOwnerField) return false;
  }
  return true;
}

}  // namespace

GcHorizon ComputeGcHorizon(const std::vector<GcReplica>& replicas, uint64_t log_head,
                           uint64_t now_ms, uint64_t max_ack_age_ms) {
  GcHorizon h;
  h.seq = log_head;
  for (const GcReplica& r : replicas) {
    if (!r.member_live) {
      h.revoked.push_back(r.replica);
      continue;
    }
    if (!r.connected && now_ms > r.acked_at_ms && now_ms - r.acked_at_ms > max_ack_age_ms) {
      h.stale.push_back(r.replica);
      continue;
    }
    h.counted.push_back(r.replica);
    h.seq = std::min(h.seq, r.cursor);
  }
  return h;
}

Status BrokerCore::LoadGc() {
  loaded_ms_ = clock_->NowMillis();
  next_gc_ms_ = clock_->MonotonicMillis() + options_.gc_interval_ms;
  acks_.clear();
  collected_.clear();
  collected_by_seq_.clear();
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kGcCursorPrefix, "", [&](std::string_view k, std::string_view v) {
        if (ReplicaId r = ParseReplicaHex(k.substr(std::string_view(kGcCursorPrefix).size())))
          acks_[r].cursor = DecodeSeq(v);
        return true;
      }));
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kGcAckedAtPrefix, "", [&](std::string_view k, std::string_view v) {
        if (ReplicaId r = ParseReplicaHex(k.substr(std::string_view(kGcAckedAtPrefix).size())))
          acks_[r].at_ms = DecodeSeq(v);
        return true;
      }));
  // A cursor saved before acknowledgement times were kept counts as acknowledged now.
  for (auto& [replica, ack] : acks_) {
    if (ack.at_ms == 0) ack.at_ms = loaded_ms_;
  }
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kGcCollectedPrefix, "", [&](std::string_view k, std::string_view v) {
        nlohmann::json j = ParseStoredJson(v);
        CollectedId c;
        if (j.is_object()) {
          c.seq = j.value("seq", uint64_t{0});
          c.at_ms = j.value("at_ms", uint64_t{0});
        }
        std::string id(k.substr(std::string_view(kGcCollectedPrefix).size()));
        collected_by_seq_[c.seq].push_back(id);
        collected_[std::move(id)] = c;
        return true;
      }));
  ASSIGN_OR_RETURN(auto horizon, store_->Get(Cf::kMeta, kGcHorizonKey));
  gc_horizon_ = horizon ? DecodeSeq(*horizon) : 0;
  return Status::Ok();
}

GcHorizon BrokerCore::Horizon() const {
  std::set<ReplicaId> connected;
  for (const auto& [peer, s] : sessions_) connected.insert(s.replica);
  std::vector<GcReplica> replicas;
  for (const auto& [replica, org] : roster_->Replicas()) {
    if (replica == review_replica_) continue;  // the broker's own: it has everything
    std::optional<Member> m = roster_->Find(org);
    GcReplica g;
    g.replica = replica;
    g.member_live = m && !m->revoked;
    g.connected = connected.count(replica) > 0;
    if (auto a = acks_.find(replica); a != acks_.end()) {
      g.cursor = a->second.cursor;
      g.acked_at_ms = a->second.at_ms;
    } else {
      g.acked_at_ms = loaded_ms_;  // bound, never acknowledged: as if it had just now
    }
    replicas.push_back(g);
  }
  return ComputeGcHorizon(replicas, log_head_, clock_->NowMillis(), options_.gc_max_ack_age_ms);
}

std::optional<uint64_t> BrokerCore::CollectedAt(const std::string& id) const {
  auto it = collected_.find(id);
  if (it == collected_.end()) return std::nullopt;
  return it->second.at_ms;
}

Result<GcReport> BrokerCore::CollectTombstones(std::vector<Outgoing>* out) {
  CommitStaged();  // the state collected from is the committed one
  SaveCursors(false);
  GcHorizon h = Horizon();
  GcReport report;
  report.horizon = h.seq;
  report.stale = h.stale.size();
  report.revoked = h.revoked.size();
  report.counted = h.counted.size();
  report.collected_total = collected_.size();
  uint64_t now = clock_->NowMillis();
  WriteBatch batch;
  // Cursors of replicas whose organization was revoked or removed: never needed again.
  for (ReplicaId r : h.revoked) {
    if (!acks_.count(r)) continue;
    batch.Delete(Cf::kMeta, kGcCursorPrefix + ReplicaHex(r));
    batch.Delete(Cf::kMeta, kGcAckedAtPrefix + ReplicaHex(r));
  }
  // History of records written since the last collection: the newest lines only.
  std::set<std::string> touched = std::move(gc_touched_);
  gc_touched_.clear();
  if (options_.history_per_record > 0) {
    for (const std::string& id : touched) {
      if (!dir_.Find(id)) continue;
      std::string prefix = id;
      prefix.push_back('\0');
      std::vector<std::string> keys;
      RETURN_IF_ERROR(
          store_->Scan(Cf::kHistory, prefix, "", [&](std::string_view k, std::string_view) {
            keys.emplace_back(k);
            return true;
          }));
      for (size_t i = 0; i + options_.history_per_record < keys.size(); ++i)
        batch.Delete(Cf::kHistory, keys[i]);
    }
  }
  std::vector<std::string> ids;
  for (const auto& [id, r] : dir_.records()) {
    if (h.seq == 0) break;
    if (!IsTombstone(r)) continue;
    report.deleted_seen++;
    // The record's last write: its newest history line (keyed by log position). Every write
    // the broker logs for a record has one; a record with none is left alone.
    std::string prefix = id;
    prefix.push_back('\0');
    uint64_t last = 0;
    std::vector<std::string> keys;
    RETURN_IF_ERROR(
        store_->Scan(Cf::kHistory, prefix, "", [&](std::string_view k, std::string_view) {
          last = std::max(last, DecodeSeq(k.substr(prefix.size())));
          keys.emplace_back(k);
          return true;
        }));
    if (last == 0 || last > h.seq) continue;
    batch.Delete(Cf::kRecords, id);
    for (const std::string& k : keys) batch.Delete(Cf::kHistory, k);
    batch.Put(Cf::kMeta, kGcCollectedPrefix + id,
              DumpJson(nlohmann::json{{"seq", log_head_}, {"at_ms", now}}));
    ids.push_back(id);
  }
  if (batch.count() == 0) return report;
  uint64_t horizon = std::max(gc_horizon_, h.seq);
  if (!ids.empty()) batch.Put(Cf::kMeta, kGcHorizonKey, EncodeSeq(horizon));
  if (Status st = store_->Commit(std::move(batch)); !st.ok()) {
    gc_touched_.insert(touched.begin(), touched.end());  // bounded next time
    return st;
  }
  for (ReplicaId r : h.revoked) acks_.erase(r);
  if (ids.empty()) return report;
  gc_horizon_ = horizon;
  for (const std::string& id : ids) {
    dir_.Erase(id);
    collected_[id] = CollectedId{log_head_, now};
  }
  collected_by_seq_[log_head_].insert(collected_by_seq_[log_head_].end(), ids.begin(), ids.end());
  // What was built from the state before (checkpoints, coalesced states) held the tombstones.
  checkpoints_.clear();
  coalesced_cache_.clear();
  audience_epoch_++;
  report.collected = ids.size();
  report.collected_total = collected_.size();
  for (const auto& [peer, s] : sessions_) SendCollected(peer, ids, out);
  spdlog::info(
      "broker: collected {} deleted record(s) at horizon {} ({} replica(s) counted, {} stale, "
      "{} revoked); {} collected in all",
      ids.size(), h.seq, h.counted.size(), h.stale.size(), h.revoked.size(), collected_.size());
  return report;
}

Status BrokerCore::RefuseCollected(const std::string& id) const {
  auto it = collected_.find(id);
  if (it == collected_.end()) return Status::Ok();
  return Status::FailedPrecondition(
      "record " + id + " was deleted and collected on " + IsoTime(it->second.at_ms) +
      ": this edit was made before its agent learned of the deletion and is not applied "
      "(kept for review; create a new record to bring the listing back)");
}

Status BrokerCore::RefuseCollectedDelta(std::string_view delta_bytes) const {
  if (collected_.empty()) return Status::Ok();
  Result<Delta> d = DecodeDelta(delta_bytes);
  if (!d.ok()) return Status::Ok();  // validation refuses it for what it is
  for (const Record& r : d->records) RETURN_IF_ERROR(RefuseCollected(r.id()));
  return Status::Ok();
}

void BrokerCore::SendCollected(const std::string& peer, const std::vector<std::string>& ids,
                               std::vector<Outgoing>* out) {
  for (size_t i = 0; i < ids.size(); i += kCollectedPerMessage) {
    size_t end = std::min(ids.size(), i + kCollectedPerMessage);
    proto::Collected c;
    c.ids.assign(ids.begin() + static_cast<std::ptrdiff_t>(i),
                 ids.begin() + static_cast<std::ptrdiff_t>(end));
    Send(peer, c, out);
  }
}

void BrokerCore::SendCollectedSince(const std::string& peer, uint64_t cursor,
                                    std::vector<Outgoing>* out) {
  if (cursor == 0 || collected_.empty()) return;
  std::vector<std::string> ids;
  for (auto it = collected_by_seq_.lower_bound(cursor); it != collected_by_seq_.end(); ++it)
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  SendCollected(peer, ids, out);
}

}  // namespace sb

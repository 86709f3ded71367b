#include "broker/review_journal.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "conflict/codec.h"

namespace sb {

using nlohmann::json;

namespace {

constexpr std::string_view kRefusedPrefix = "review/refused/";
constexpr std::string_view kSettledPrefix = "review/settled/";
constexpr size_t kMaxSummaryBytes = 64 << 10;
constexpr size_t kMaxRecords = 32;

std::string Key(std::string_view prefix, uint64_t seq) {
  return std::string(prefix) + EncodeSeq(seq);
}

json ToJson(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return nullptr;
}

Value FromJson(const json& j) {
  if (j.is_string()) return Value(j.get<std::string>());
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<int64_t>());
  return Value(Null{});
}

std::vector<std::string> FieldNames(const Record& r) {
  std::vector<std::string> out;
  for (const auto& [name, f] : r.fields()) out.push_back(name);
  return out;
}

Result<RefusedPush> ParseRefusal(std::string_view bytes) {
  json j = ParseStoredJson(bytes);
  if (!j.is_object()) return Status::Corruption("a stored refusal is not JSON");
  RefusedPush p;
  p.seq = j.value("seq", 0ULL);
  p.at_ms = j.value("at_ms", 0ULL);
  p.org = j.value("org", "");
  p.replica = j.value("replica", 0ULL);
  p.reason = j.value("reason", "");
  p.truncated = j.value("truncated", false);
  for (const json& c : j.value("changes", json::array())) {
    RefusedChange rc;
    rc.record = c.value("record", "");
    rc.kind = c.value("kind", "");
    const json values = c.value("values", json::object()), sets = c.value("sets", json::object());
    for (const auto& [k, v] : values.items()) rc.values[k] = FromJson(v);
    for (const auto& [k, v] : sets.items()) {
      for (const json& e : v) {
        if (e.is_string()) rc.sets[k].push_back(e.get<std::string>());
      }
    }
    p.changes.push_back(std::move(rc));
  }
  return p;
}

}  // namespace

Status ReviewJournal::Load() {
  first_ = 0;
  next_ = 1;
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kRefusedPrefix, "", [&](std::string_view k, std::string_view) {
        uint64_t seq = DecodeSeq(k.substr(kRefusedPrefix.size()));
        if (first_ == 0) first_ = seq;
        next_ = seq + 1;
        return true;
      }));
  if (first_ == 0) first_ = next_;
  return Status::Ok();
}

void ReviewJournal::StageRefusal(WriteBatch* batch, uint64_t at_ms, const std::string& org,
                                 ReplicaId replica, const std::string& reason,
                                 std::string_view delta_bytes) {
  uint64_t seq = next_++;
  ++version_;
  json changes = json::array();
  bool truncated = false;
  size_t bytes = 0;
  if (Result<Delta> d = DecodeDelta(delta_bytes); d.ok()) {
    for (const Record& r : d->records) {
      if (changes.size() == kMaxRecords) {
        truncated = true;
        break;
      }
      json values = json::object(), sets = json::object();
      for (const auto& [name, f] : r.fields()) {
        if (const auto* reg = std::get_if<MvRegister>(&f)) {
          if (auto v = reg->Displayed()) values[name] = ToJson(v->second.value);
        } else {
          sets[name] = std::get<AwSet>(f).Elements();
        }
      }
      json c = {{"record", r.id()}, {"kind", r.kind()}, {"values", values}, {"sets", sets}};
      bytes += DumpJson(c).size();
      if (bytes > kMaxSummaryBytes) {
        truncated = true;
        break;
      }
      changes.push_back(std::move(c));
    }
  } else {
    truncated = true;
  }
  json entry = {{"seq", seq},
                {"at_ms", at_ms},
                {"org", org},
                {"replica", replica},
                {"reason", reason.substr(0, 2000)},
                {"truncated", truncated},
                {"changes", changes}};
  batch->Put(Cf::kMeta, Key(kRefusedPrefix, seq), DumpJson(entry));
  while (next_ - first_ > max_refusals_) {
    batch->Delete(Cf::kMeta, Key(kRefusedPrefix, first_));
    batch->Delete(Cf::kMeta, Key(kSettledPrefix, first_));
    ++first_;
  }
}

void ReviewJournal::StageHistory(WriteBatch* batch, const Delta& delta, const std::string& org,
                                 uint64_t seq, const std::string& via, const std::string& by) {
  for (const Record& r : delta.records) {
    std::string op = "update";
    if (auto del = r.Displayed(kDeletedField)) op = *del == Value(true) ? "delete" : "restore";
    json line = {{"seq", seq},
                 {"at_ms", delta.stamp.millis()},
                 {"org", org},
                 {"replica", delta.author},
                 {"via", via},
                 {"op", op},
                 {"by", by.empty() ? org : by},
                 {"fields", FieldNames(r)}};
    std::string key = r.id();
    key.push_back('\0');
    key += EncodeSeq(seq);
    batch->Put(Cf::kHistory, key, DumpJson(line));
  }
}

Result<std::vector<RefusedPush>> ReviewJournal::Refusals() const {
  std::map<uint64_t, std::string> settled;
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kSettledPrefix, "", [&](std::string_view k, std::string_view v) {
        json j = ParseStoredJson(v);
        settled[DecodeSeq(k.substr(kSettledPrefix.size()))] =
            j.is_object() ? j.value("decision", "settled") : "settled";
        return true;
      }));
  std::vector<RefusedPush> out;
  Status bad = Status::Ok();
  RETURN_IF_ERROR(
      store_->Scan(Cf::kMeta, kRefusedPrefix, "", [&](std::string_view, std::string_view v) {
        Result<RefusedPush> p = ParseRefusal(v);
        if (!p.ok()) {
          bad = p.status();
          return false;
        }
        if (auto it = settled.find(p->seq); it != settled.end()) {
          p->settled = true;
          p->decision = it->second;
        }
        out.push_back(std::move(p).value());
        return true;
      }));
  RETURN_IF_ERROR(bad);
  return out;
}

Result<RefusedPush> ReviewJournal::Refusal(uint64_t seq) const {
  ASSIGN_OR_RETURN(auto raw, store_->Get(Cf::kMeta, Key(kRefusedPrefix, seq)));
  if (!raw) return Status::NotFound("no refused push " + std::to_string(seq));
  ASSIGN_OR_RETURN(RefusedPush p, ParseRefusal(*raw));
  ASSIGN_OR_RETURN(auto settled, store_->Get(Cf::kMeta, Key(kSettledPrefix, seq)));
  if (settled) {
    json j = ParseStoredJson(*settled);
    p.settled = true;
    p.decision = j.is_object() ? j.value("decision", "settled") : "settled";
  }
  return p;
}

Status ReviewJournal::StageSettle(WriteBatch* batch, uint64_t seq, const std::string& decision,
                                  const std::string& reason, const std::string& by, uint64_t at_ms,
                                  AuditLog* audit) {
  ASSIGN_OR_RETURN(RefusedPush p, Refusal(seq));
  if (p.settled)
    return Status::FailedPrecondition("refused push " + std::to_string(seq) + " is already " +
                                      p.decision);
  ++version_;
  batch->Put(
      Cf::kMeta, Key(kSettledPrefix, seq),
      DumpJson(json{{"decision", decision}, {"reason", reason}, {"by", by}, {"at_ms", at_ms}}));
  if (audit)
    audit->Append(batch, at_ms, by, "review." + decision, "refused-push/" + std::to_string(seq));
  return Status::Ok();
}

Status ReviewJournal::Settle(uint64_t seq, const std::string& decision, const std::string& reason,
                             const std::string& by, uint64_t at_ms, AuditLog* audit) {
  WriteBatch b;
  RETURN_IF_ERROR(StageSettle(&b, seq, decision, reason, by, at_ms, audit));
  Status st = store_->Commit(std::move(b));
  if (!st.ok() && audit) (void)audit->Load();  // the staged entry was not written
  return st;
}

Result<std::vector<BrokerHistoryEntry>> ReviewJournal::History(const std::string& record,
                                                               size_t max) const {
  std::string prefix = record;
  prefix.push_back('\0');
  std::vector<BrokerHistoryEntry> out;
  RETURN_IF_ERROR(store_->Scan(Cf::kHistory, prefix, "", [&](std::string_view, std::string_view v) {
    json j = ParseStoredJson(v);
    if (!j.is_object()) return true;
    BrokerHistoryEntry e;
    e.seq = j.value("seq", 0ULL);
    e.at_ms = j.value("at_ms", 0ULL);
    e.org = j.value("org", "");
    e.replica = j.value("replica", 0ULL);
    e.via = j.value("via", "");
    e.by = j.value("by", e.org);  // absent before maintainers had names
    e.op = j.value("op", "");
    for (const json& f : j.value("fields", json::array())) {
      if (f.is_string()) e.fields.push_back(f.get<std::string>());
    }
    out.push_back(std::move(e));
    return true;
  }));
  if (out.size() > max) out.erase(out.begin(), out.end() - static_cast<long>(max));
  return out;
}

}  // namespace sb

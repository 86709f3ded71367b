#include "store/quarantine.h"

#include <algorithm>

#include "base/clock.h"
#include "base/json.h"

namespace sb {

namespace {

constexpr char kPrefix[] = "quarantine/";

std::string Key(uint64_t seq) {
  return kPrefix + EncodeSeq(seq);
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

nlohmann::json ToJson(const QuarantineEntry& e) {
  return {{"seq", e.seq},   {"at_ms", e.at_ms},   {"source", e.source}, {"ref", e.ref},
          {"from", e.from}, {"reason", e.reason}, {"bytes", e.bytes},   {"sample", e.sample}};
}

bool FromJson(const nlohmann::json& j, QuarantineEntry* e) {
  if (!j.is_object()) return false;
  e->seq = j.value("seq", uint64_t{0});
  e->at_ms = j.value("at_ms", uint64_t{0});
  e->source = j.value("source", "");
  e->ref = j.value("ref", "");
  e->from = j.value("from", "");
  e->reason = j.value("reason", "");
  e->bytes = j.value("bytes", uint64_t{0});
  e->sample = j.value("sample", "");
  return e->seq != 0;
}

}  // namespace

nlohmann::json QuarantineJson(const QuarantineEntry& e) {
  nlohmann::json j = ToJson(e);
  j["at"] = IsoTime(e.at_ms);
  return j;
}

Status Quarantine::Load() {
  MutexLock lock(mu_);
  keys_.clear();
  order_.clear();
  return store_->Scan(Cf::kMeta, kPrefix, "",
                      [&](std::string_view k, std::string_view v) REQUIRES(mu_) {
                        uint64_t seq = DecodeSeq(k.substr(sizeof(kPrefix) - 1));
                        next_seq_ = std::max(next_seq_, seq + 1);
                        QuarantineEntry e;
                        nlohmann::json j = ParseStoredJson(v);
                        // An unreadable entry still counts (and is trimmed in turn); it can never
                        // block anything.
                        if (!j.is_discarded()) (void)FromJson(j, &e);
                        auto key = std::make_pair(e.source, e.ref);
                        keys_.insert(key);
                        order_.emplace_back(seq, key);
                        return true;
                      });
}

Result<bool> Quarantine::Add(QuarantineEntry e, std::string_view payload) {
  MutexLock lock(mu_);
  auto key = std::make_pair(e.source, e.ref);
  if (!e.ref.empty() && keys_.count(key)) return false;
  e.seq = next_seq_;
  if (e.bytes == 0) e.bytes = payload.size();
  if (e.sample.empty()) e.sample = Hex(payload.substr(0, kSampleBytes));
  WriteBatch b;
  b.Put(Cf::kMeta, Key(e.seq), DumpJson(ToJson(e)));
  size_t trim = order_.size() + 1 > kMaxKept ? order_.size() + 1 - kMaxKept : 0;
  for (size_t i = 0; i < trim; ++i) b.Delete(Cf::kMeta, Key(order_[i].first));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  for (size_t i = 0; i < trim; ++i) keys_.erase(order_[i].second);
  order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(trim));
  keys_.insert(key);
  order_.emplace_back(e.seq, key);
  ++next_seq_;
  ++added_;
  return true;
}

Result<std::vector<QuarantineEntry>> Quarantine::List(size_t max) const {
  std::vector<uint64_t> seqs;
  {
    MutexLock lock(mu_);
    for (auto it = order_.rbegin(); it != order_.rend() && seqs.size() < max; ++it) {
      seqs.push_back(it->first);
    }
  }
  std::vector<QuarantineEntry> out;
  for (uint64_t seq : seqs) {
    ASSIGN_OR_RETURN(auto v, store_->Get(Cf::kMeta, Key(seq)));
    QuarantineEntry e;
    if (v && FromJson(ParseStoredJson(*v), &e)) out.push_back(std::move(e));
  }
  return out;
}

uint64_t Quarantine::added() const {
  MutexLock lock(mu_);
  return added_;
}

uint64_t Quarantine::kept() const {
  MutexLock lock(mu_);
  return order_.size();
}

}  // namespace sb

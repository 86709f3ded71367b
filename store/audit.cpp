#include "store/audit.h"

#include <sodium.h>
#include <nlohmann/json.hpp>

#include <deque>

#include "base/clock.h"
#include "base/json.h"

namespace sb {

namespace {

constexpr char kHeadKey[] = "head";
const std::string kZeroHash(64, '0');

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

}  // namespace

nlohmann::json AuditEntryJson(const AuditEntry& e) {
  return {{"seq", e.seq},       {"at", IsoTime(e.at_ms)}, {"actor", e.actor},
          {"action", e.action}, {"subject", e.subject},   {"hash", e.hash}};
}

namespace {

std::string ToJson(const AuditEntry& e) {
  return DumpJson(nlohmann::json{{"seq", e.seq},
                                 {"at_ms", e.at_ms},
                                 {"actor", e.actor},
                                 {"action", e.action},
                                 {"subject", e.subject},
                                 {"prev", e.prev},
                                 {"hash", e.hash}});
}

Result<AuditEntry> FromJson(std::string_view bytes) {
  nlohmann::json j = ParseStoredJson(bytes);
  if (!j.is_object()) return Status::Corruption("not a JSON object");
  AuditEntry e;
  try {
    e.seq = j.at("seq").get<uint64_t>();
    e.at_ms = j.at("at_ms").get<uint64_t>();
    e.actor = j.at("actor").get<std::string>();
    e.action = j.at("action").get<std::string>();
    e.subject = j.at("subject").get<std::string>();
    e.prev = j.at("prev").get<std::string>();
    e.hash = j.at("hash").get<std::string>();
  } catch (const nlohmann::json::exception& ex) {
    return Status::Corruption(std::string("a field is missing or of the wrong type: ") + ex.what());
  }
  return e;
}

}  // namespace

std::string AuditLog::Hash(const std::string& prev_hex, const AuditEntry& e) {
  std::string prev(32, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(prev.data()), prev.size(), prev_hex.data(),
                     prev_hex.size(), nullptr, &len, nullptr) != 0 ||
      len != 32) {
    prev.assign(32, '\xff');  // a malformed prev can never produce the stored hash
  }
  std::string text = prev + std::to_string(e.seq) + "\n" + std::to_string(e.at_ms) + "\n" +
                     e.actor + "\n" + e.action + "\n" + e.subject;
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return Hex(out, sizeof out);
}

Status AuditLog::Load() {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(auto head, store_->Get(Cf::kAudit, kHeadKey));
  head_seq_ = 0;
  head_hash_ = kZeroHash;
  if (!head) return Status::Ok();
  nlohmann::json j = ParseStoredJson(*head);
  if (!j.is_object() || !j["seq"].is_number_unsigned() || !j["hash"].is_string()) {
    return Status::Corruption("the audit log's head is malformed; run `switchboard audit verify`");
  }
  head_seq_ = j["seq"].get<uint64_t>();
  head_hash_ = j["hash"].get<std::string>();
  return Status::Ok();
}

AuditEntry AuditLog::Append(WriteBatch* batch, uint64_t at_ms, const std::string& actor,
                            const std::string& action, const std::string& subject) {
  MutexLock lock(mu_);
  AuditEntry e{head_seq_ + 1, at_ms, actor, action, subject, head_hash_, ""};
  e.hash = Hash(e.prev, e);
  batch->Put(Cf::kAudit, EncodeSeq(e.seq), ToJson(e));
  batch->Put(Cf::kAudit, kHeadKey, DumpJson(nlohmann::json{{"seq", e.seq}, {"hash", e.hash}}));
  head_seq_ = e.seq;
  head_hash_ = e.hash;
  return e;
}

Result<std::vector<AuditEntry>> AuditLog::Tail(size_t n) const {
  std::deque<AuditEntry> out;
  RETURN_IF_ERROR(store_->Scan(Cf::kAudit, "", "", [&](std::string_view k, std::string_view v) {
    if (k.size() != 8) return true;  // the head
    if (Result<AuditEntry> e = FromJson(v); e.ok()) {
      out.push_back(std::move(e).value());
      if (out.size() > n) out.pop_front();
    }
    return true;
  }));
  return std::vector<AuditEntry>(out.begin(), out.end());
}

Result<AuditCheck> AuditLog::Verify(const Store& store) {
  AuditCheck c;
  std::string prev = kZeroHash;
  uint64_t expect = 1;
  auto bad = [&](uint64_t seq, std::string problem) {
    c.ok = false;
    c.first_bad = seq;
    c.problem = std::move(problem);
    return false;
  };
  RETURN_IF_ERROR(store.Scan(Cf::kAudit, "", "", [&](std::string_view k, std::string_view v) {
    if (k.size() != 8) return true;  // the head, checked below
    uint64_t seq = DecodeSeq(k);
    if (seq != expect) {
      return bad(expect, seq > expect ? "entry " + std::to_string(expect) + " is missing"
                                      : "unexpected key for entry " + std::to_string(seq));
    }
    Result<AuditEntry> e = FromJson(v);
    if (!e.ok()) return bad(seq, "unreadable: " + e.status().message());
    if (e->seq != seq)
      return bad(seq,
                 "its key says " + std::to_string(seq) + ", its body " + std::to_string(e->seq));
    if (e->prev != prev) return bad(seq, "it does not link to the entry before it");
    if (Hash(prev, *e) != e->hash) return bad(seq, "its contents do not match its hash");
    prev = e->hash;
    ++c.entries;
    ++expect;
    return true;
  }));
  if (!c.ok) return c;
  ASSIGN_OR_RETURN(auto head, store.Get(Cf::kAudit, kHeadKey));
  if (head) {
    nlohmann::json j = ParseStoredJson(*head);
    uint64_t seq = j.is_object() && j["seq"].is_number_unsigned() ? j["seq"].get<uint64_t>() : 0;
    std::string hash = j.is_object() && j["hash"].is_string() ? j["hash"].get<std::string>() : "";
    if (seq != c.entries || hash != prev) {
      c.ok = false;
      c.first_bad = c.entries + 1;
      c.problem = "the log ends at entry " + std::to_string(c.entries) +
                  " but its head names entry " + std::to_string(seq) +
                  " (entries were removed from the end, or the head was altered)";
    }
  } else if (c.entries > 0) {
    c.ok = false;
    c.first_bad = 1;
    c.problem = "the log has entries but no head";
  }
  return c;
}

}  // namespace sb

// The append-only, hash-chained audit log (DESIGN.md §7), kept in the store's `audit` column
// family on the broker and on every agent: who did what to which referral, and when — never
// contents (no payload, no reasons, no names).
//
// Entry n (key: 8-byte big-endian n, from 1) is JSON:
//   {"seq": n, "at_ms": ..., "actor": ORG, "action": "referral.accepted", "subject": ID,
//    "prev": HEX, "hash": HEX}
// hash = SHA-256(prev bytes || "seq\nat_ms\nactor\naction\nsubject"), prev = the previous
// entry's hash (32 zero bytes for the first). The key "head" holds the last entry's seq and
// hash, so a truncated tail is noticed too (unless the head was rewritten with it).
//
// Entries are staged into the same WriteBatch as the change they describe, so the change and
// its audit entry are durable together. Thread safety: all methods may be called from any
// thread; Append serialises callers.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "store/store.h"

namespace sb {

struct AuditEntry {
  uint64_t seq = 0;
  uint64_t at_ms = 0;
  std::string actor;       // organization id, or "broker"
  std::string action;      // e.g. "referral.sent"
  std::string subject;     // e.g. the referral id
  std::string prev, hash;  // hex
};

// The outcome of checking a chain: ok, or the first bad entry and what is wrong with it.
struct AuditCheck {
  bool ok = true;
  uint64_t entries = 0;
  uint64_t first_bad = 0;  // seq of the first bad entry (0 when ok)
  std::string problem;
};

// An entry as the APIs show it: {"seq", "at" (ISO time), "actor", "action", "subject", "hash"}.
nlohmann::json AuditEntryJson(const AuditEntry& e);

class AuditLog {
 public:
  explicit AuditLog(Store* store) : store_(store) {}

  // Reads the head (seq and hash of the last entry). Call once after opening the store.
  Status Load();

  // Stages the next entry into `batch`; returns it. If the batch is not committed, call
  // Load() again before the next Append (the in-memory head moved on).
  AuditEntry Append(WriteBatch* batch, uint64_t at_ms, const std::string& actor,
                    const std::string& action, const std::string& subject);

  // The last `n` entries, newest last.
  Result<std::vector<AuditEntry>> Tail(size_t n) const;

  // Walks the whole chain from entry 1.
  static Result<AuditCheck> Verify(const Store& store);

  static std::string Hash(const std::string& prev_hex, const AuditEntry& e);

 private:
  Store* store_;
  Mutex mu_;  // guards the chain's head: appends are numbered and chained one at a time
  uint64_t head_seq_ GUARDED_BY(mu_) = 0;
  std::string head_hash_ GUARDED_BY(mu_);  // hex
};

}  // namespace sb

// Quarantine: what a process received or stored and could not use, kept aside with the reason
// (issue 10) — instead of blocking a cursor, being retried for ever, or stopping the process.
// A log entry that does not verify, a referral that breaks a limit on receipt, a message that
// made the handler fail: each becomes one entry here and the process moves on. Operators read
// them with `switchboard quarantine --data DIR` (the agent's and the broker's API:
// GET /v1/quarantine) and /metrics counts them.
//
// Stored in the meta column family: "quarantine/<seq, 8 bytes BE>" -> JSON
//   {seq, at_ms, source, ref, from, reason, bytes, sample}
// where `sample` is the hex of at most the first 512 bytes (never a referral's decrypted
// contents: callers pass ciphertext or nothing). The newest kMaxKept entries are kept; an
// entry with the same source and ref as a kept one is not added twice.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "store/store.h"

namespace sb {

struct QuarantineEntry {
  uint64_t seq = 0;  // assigned by Add
  uint64_t at_ms = 0;
  std::string source;  // "log", "snapshot", "referral", "message", "stored"
  std::string ref;     // what it was: a log seq, a referral id, a message type
  std::string from;    // the organization it came from ("" when unknown)
  std::string reason;  // why it could not be used
  uint64_t bytes = 0;  // its size
  std::string sample;  // hex of its first bytes
};

// The entry as the APIs show it (the stored shape, plus an ISO time).
nlohmann::json QuarantineJson(const QuarantineEntry& e);

class Quarantine {
 public:
  static constexpr size_t kMaxKept = 1000;
  static constexpr size_t kSampleBytes = 512;

  explicit Quarantine(Store* store) : store_(store) {}
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;

  // Reads what is kept. Call once after opening the store.
  Status Load();

  // Keeps `e` (its seq is assigned here; `payload` is sampled) in a durable batch of its own.
  // Returns false, and writes nothing, when an entry with the same source and ref is kept.
  Result<bool> Add(QuarantineEntry e, std::string_view payload = {});

  // Newest first, at most `max`.
  Result<std::vector<QuarantineEntry>> List(size_t max) const;

  // Entries added since the process started, and entries kept.
  uint64_t added() const;
  uint64_t kept() const;

 private:
  Store* store_;
  mutable Mutex mu_;  // guards everything below
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  uint64_t added_ GUARDED_BY(mu_) = 0;
  // (source, ref) of kept entries
  std::set<std::pair<std::string, std::string>> keys_ GUARDED_BY(mu_);
  // oldest first
  std::vector<std::pair<uint64_t, std::pair<std::string, std::string>>> order_ GUARDED_BY(mu_);
};

}  // namespace sb

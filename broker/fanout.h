// Fan-out that costs once per audience view, not once per session (DESIGN.md §11, issue 15).
//
// Every partner reads the same projection of a log entry — everything but other organizations'
// owner-only and maintainer-only fields — except for the records it owns, which it reads whole;
// maintainers read everything. So an entry has at most a few distinct projections: `full`
// (maintainers, and the entry as logged), `partners` (every partner that owns none of the
// entry's records) and one `owner` view per organization owning one of them. Each is projected,
// encoded and signed once, cached, and handed to every session of that view as the same
// bytes (a shared buffer: ZeroMQ sends it without copying).
//
// A projection depends on the broker's current state through two things only: who owns each
// record, and which fields are hidden (a location's address_confidential). Both change rarely;
// each change bumps the audience epoch, and the cache keeps only projections of the current
// epoch (DESIGN.md §3: a confidential address never reaches other partners' agents, even an
// agent that catches up long after the address was written).
//
// Not thread-safe: owned by the broker's event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/roster.h"
#include "conflict/directory.h"
#include "crypto/identity.h"
#include "transport/protocol.h"

namespace sb {

using SharedBytes = std::shared_ptr<const std::string>;

// Which projection of the log a session reads.
struct View {
  enum class Kind { kFull, kPartners, kOwner };
  Kind kind = Kind::kPartners;
  std::string org;  // kOwner: the owning organization

  static View Full() { return {Kind::kFull, ""}; }
  static View Partners() { return {Kind::kPartners, ""}; }
  static View Owner(std::string org) { return {Kind::kOwner, std::move(org)}; }
  std::string Key() const;
};

// One log entry as the broker knows it, decoded once.
struct LoggedEntry {
  uint64_t seq = 0;
  proto::SignedDelta logged;           // as pushed (or as the broker wrote it)
  std::shared_ptr<const Delta> delta;  // null when the bytes do not decode (never for our log)
  uint64_t owners_epoch = ~uint64_t{0};
  std::vector<std::string> owners;  // organizations owning a record it touches, sorted
  size_t bytes = 0;                 // of `logged`
};

// One entry as one view reads it: the entry itself (for batching several into one message)
// and, made on first use, a message holding just this entry that every session of the view
// can be sent.
struct ProjectedEntry {
  proto::LogEntry entry;
  SharedBytes single;  // an Updates envelope with this entry alone; null until asked for
  size_t bytes = 0;    // of entry.delta.delta
};

class FanoutCache {
 public:
  using Lookup = std::function<const Record*(const std::string&)>;

  // `max_bytes` bounds the projections kept (least recently used go first).
  FanoutCache(const Identity& broker, size_t max_bytes);

  // The entry as `view` reads it at audience epoch `epoch` (projected against the current
  // state through `lookup`), made once and then shared.
  std::shared_ptr<ProjectedEntry> Get(const LoggedEntry& e, const View& view, uint64_t epoch,
                                      const Lookup& lookup);
  // The single-entry message of `p` (made on first use), with `head` as the log head.
  SharedBytes Single(ProjectedEntry& p, uint64_t head);

  // How many projections were made, and how many times one was reused.
  uint64_t made() const { return made_; }
  uint64_t reused() const { return reused_; }

 private:
  struct Slot {
    std::shared_ptr<ProjectedEntry> value;
    std::list<std::string>::iterator lru;
  };
  void Evict();

  const Identity& broker_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t epoch_ = 0;
  std::map<std::string, Slot> slots_;  // key: seq (8 bytes BE) + view key
  std::list<std::string> lru_;         // most recently used first
  uint64_t made_ = 0, reused_ = 0;
};

// The organization id no organization has: the projection every non-owning partner reads.
inline constexpr char kNoOrganization[] = "\x01partners";

// The organizations owning a record `delta` touches, judged on `lookup`'s state and on the
// delta itself, sorted.
std::vector<std::string> OwnersOf(const Delta& delta, const FanoutCache::Lookup& lookup);

}  // namespace sb

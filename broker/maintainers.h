// The broker's maintainers as people (issue 14): each has a name, a console password and an API
// token of their own, so that every review decision, enrollment change and console action is
// attributed to the person who made it (audit chain, review journal, record history).
//
// Persisted in the store's `roster` column family:
//   "maintainer/<name>" -> JSON {"name", "password" (libsodium crypto_pwhash_str: Argon2id,
//                           interactive limits), "token" (hex BLAKE2b-256 of the token),
//                           "added_at", "added_by"}
// Only hashes are kept: neither the password nor the token can be read back from the store.
// The token ("sbm_" + 64 hex characters, 256 random bits) is checked by its hash, which is
// enough for a random secret and costs nothing per request; the password, chosen by a person,
// gets Argon2id.
//
// The broker's own api.token (and console.token) stay the coordinator's credential: what is done
// with them is attributed to the broker's organization, as before; they add and remove
// maintainers. Removing a maintainer ends their console sessions and refuses their token at the
// next request.
//
// Thread-safe: the console's and API's threads check credentials while the event loop adds and
// removes (writes are the loop's: callers post Add/Remove to it).
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "store/audit.h"
#include "store/store.h"

namespace sb {

struct MaintainerInfo {
  std::string name;
  uint64_t added_at_ms = 0;
  std::string added_by;
};

// What a new maintainer is given, once: the store keeps neither.
struct MaintainerCredentials {
  std::string name;
  std::string password;
  std::string token;
};

// "<org>/<name>" for a named maintainer of the broker's organization, `org` alone for the
// coordinator's own token. Organization ids hold no '/', so the two never collide.
std::string MaintainerActor(const std::string& org, const std::string& name);

class Maintainers {
 public:
  static constexpr size_t kMinPasswordChars = 12;
  static constexpr size_t kMaxPasswordChars = 256;
  static constexpr size_t kMaxMaintainers = 1000;

  explicit Maintainers(Store* store) : store_(store) {}
  Status Load();

  // A name is 1..64 of [a-z0-9._-], starting with a letter or digit.
  static Status CheckName(const std::string& name);

  // Adds `name` with `password` (when empty, a random one is made) and a new random token;
  // durable on return with the audit entry "maintainer.add" (actor `actor`, subject the name).
  // AlreadyExists for a name in use, InvalidArgument for a bad name or a password shorter than
  // kMinPasswordChars. Slow on purpose (Argon2id: about 0.1 s and 64 MiB).
  Result<MaintainerCredentials> Add(const std::string& name, const std::string& password,
                                    uint64_t now_ms, AuditLog* audit, const std::string& actor);
  // Removes `name` (audit "maintainer.remove"); their token and sessions stop working.
  // NotFound for an unknown name.
  Status Remove(const std::string& name, uint64_t now_ms, AuditLog* audit,
                const std::string& actor);

  std::vector<MaintainerInfo> List() const;
  bool Active(const std::string& name) const;
  // The maintainer whose token this is, if any (constant-time comparison of hashes).
  std::optional<std::string> ByToken(const std::string& token) const;
  // Whether `password` is `name`'s (false for an unknown name, after the same work, so a
  // reply's timing does not say which names exist). Slow on purpose (Argon2id); at most two
  // checks run at once: Unavailable (try again) beyond that, so a flood of sign-ins cannot take
  // the broker's memory.
  Result<bool> CheckPassword(const std::string& name, const std::string& password) const;

  // Bumps on every removal (sessions compare to see whether to re-check their maintainer).
  uint64_t removals() const { return removals_.load(); }

 private:
  struct Entry {
    MaintainerInfo info;
    std::string password_hash;  // crypto_pwhash_str output
    std::string token_hash;     // 32 raw bytes
  };
  Store* store_;
  mutable Mutex mu_;  // guards entries_
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);
  std::atomic<uint64_t> removals_{0};
  mutable std::atomic<int> checking_{0};  // password checks running
  std::string dummy_hash_;                // for unknown names (same work as a real check)
};

}  // namespace sb

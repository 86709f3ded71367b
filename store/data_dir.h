// A data directory: what an agent or a broker keeps on disk (the same layout for both roles).
//
//   DIR/FORMAT      "switchboard data directory", format version, role — written first
//   DIR/db/         the RocksDB store (store/store.h)
//   DIR/api.token   the local API's bearer token, mode 0600 (looser modes are refused)
//   DIR/agent.json  where the running agent listens ({"api": "127.0.0.1:7420", "pid": ...})
//
// Opening checks that DIR is ours, of a format this build reads, and of the right role, so a
// wrong, foreign or newer directory gives a clear error instead of a crash or silent damage.
#pragma once

#include <memory>
#include <string>

#include "base/files.h"  // ReadFile, ReadSecretFile, WriteSecretFile, WriteFileAtomic
#include "base/ids.h"    // RandomReplicaId, RandomToken
#include "base/status.h"
#include "conflict/causal_context.h"
#include "store/store.h"

namespace sb {

// 1: the first release. 2: the whole HSDS 3.0 model (issue 11): 12 more record kinds, numbers
// held as decimal text, free-text phone numbers, ISO 639-3 codes, iCal days with week numbers.
// Records of format 1 are valid records of format 2 as they are (every rule only widened, and
// latitude/longitude were already decimal text), so opening a format 1 directory upgrades it
// by rewriting FORMAT; a build that reads only format 1 then refuses the directory instead of
// misreading the kinds and values it does not know.
inline constexpr int kDataDirFormat = 2;

struct DataDir {
  std::string path;
  std::string role;  // "agent" or "broker"
  ReplicaId replica = 0;
  std::string token;
  std::unique_ptr<Store> store;

  // Opens DIR for `role`, creating it (and its replica id and token) if it does not exist or
  // is empty. Fails with FailedPrecondition for a foreign, newer-format or other-role
  // directory, Corruption for damaged files, PermissionDenied for a token file readable by
  // others.
  static Result<DataDir> OpenOrCreate(const std::string& path, const std::string& role,
                                      const StoreOptions& store_options = {});

  std::string TokenPath() const { return path + "/api.token"; }
  std::string RuntimePath() const { return path + "/" + role + ".json"; }
};

}  // namespace sb

// Backup and restore of a data directory (`switchboard backup`, `switchboard restore`).
//
// What a backup holds: DIR/FORMAT and a consistent RocksDB checkpoint of DIR/db (every column
// family at one sequence number: hard links to the table files and a copy of the live
// write-ahead log, made by rocksdb::Checkpoint). A running agent or broker holds the store's
// lock, so the backup command asks it over its local API (POST /v1/backup, the data
// directory's api.token) to make the checkpoint into DIR/backup-<random>.tmp; a stopped one
// has its store opened by the command itself. Keys (identity files, api.token) are included
// only when asked for, and then encrypted with a passphrase.
//
// The archive (one file, written 0600 through a temp file and a rename), version 1:
//   "SBBACKUP" u32 version, then sections, each: u8 tag, u16 name length, name,
//   u64 payload length, payload (integers big endian):
//     'H' header: JSON {"role", "data_format", "created_ms", "files", "bytes", "keys"}
//     'F' a file of the data directory: its relative path ("FORMAT", "db/000123.sst")
//     'K' the keys, encrypted: salt (16) | opslimit u64 | memlimit u64 | nonce (24) |
//         crypto_secretbox(XSalsa20-Poly1305) of [u16 name length, name, u32 length, bytes]*
//         under a key from crypto_pwhash (Argon2id) of the passphrase
//     'E' end: BLAKE2b-256 (crypto_generichash) of every byte before this section's tag.
// Restore reads the archive twice: first it checks the end hash (a truncated or corrupted
// archive is refused before anything is written) and opens the keys (a wrong passphrase is
// refused likewise), then it extracts into a temp directory beside the target, checks the
// data directory FORMAT and opens the restored store, and only then renames it into place.
// On any failure the temp directory is removed. Names are checked: nothing outside the
// target can be written.
//
// Rejoining the network after a restore (DESIGN.md §6):
// - A restored *agent* is behind the broker: its cursor is older, so it catches up from the
//   log. Until it has (its cursor reaches the head the broker announced), it refuses local
//   edits: the broker holds writes this replica made after the backup, and a new edit planned
//   on the older state would reuse one of their dots (the counters are per record) and be
//   taken for a repeat. The restore marks the store (meta "restored"); while marked, the
//   agent's Hello asks for its own log entries whole (normally they come as positions only:
//   the agent has them, but a restored one lost those after the backup); the sync session
//   clears the mark once caught up.
// - A restored *broker* is behind its agents. Its log has an identity, the log epoch (meta
//   "log_epoch", random, made with the log); restore gives the restored log a new one. Each
//   agent keeps the epoch it last synced with and names it in its Hello; the Welcome names
//   the broker's. A broker that sees an older epoch starts the agent's session from cursor 0
//   (whatever its cursor: the numbers of another log mean nothing here), and the agent, seeing
//   the new epoch (or, from an agent that never learned one, a `cursor` refusal), rejoins:
//   in one durable batch it sets its cursor to 0, keeps the new epoch and queues in its
//   outbox what it wrote that is still live — for each record, its own entries with the
//   record's context less the other replicas' live entries (conflict/record.h AuthoredPart)
//   — which the broker validates like any push (a partner re-sends only its own writes, a
//   maintainer's agent the maintainer's; a maintainer-only entry the broker already holds,
//   such as the owner a partner wrote when it created the record, is no change and passes,
//   broker/ingest.cpp). The broker joins them (what it already holds is acknowledged as a
//   repeat), the agent joins the broker's whole log again (idempotent),
//   and the network converges with every acknowledged edit the agents hold.
//   Limits: a write the broker itself made after the backup (a publication by its review
//   replica) is held by the agents but not re-sent by them, and a re-sent part whose context
//   names another replica's write the restored broker lacks is refused until that replica
//   has re-sent it (the broker's rule against claiming unseen writes) — and a refused part is
//   taken back out of that agent's view like any refused edit. Referrals are not rejoined: an
//   agent's referral cursor past the restored broker's versions waits until they pass it, and
//   enrollments made after the backup must be made again.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace sb {

inline constexpr uint32_t kBackupFormat = 1;

// Files of a data directory that are keys: included only with BackupOptions::with_keys.
const std::vector<std::string>& BackupKeyFiles();

struct BackupProgress {
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
};
using ProgressFn = std::function<void(const BackupProgress&)>;

struct BackupSummary {
  std::string role;  // "agent" or "broker"
  uint64_t files = 0;
  uint64_t bytes = 0;  // of data files (not keys)
  uint64_t created_ms = 0;
  bool keys = false;                   // the archive holds (encrypted) keys
  std::vector<std::string> key_files;  // restored or packed key files
};

struct BackupOptions {
  bool with_keys = false;
  std::string passphrase;  // required with keys; at least 8 characters
  // crypto_pwhash cost (tests lower it; the defaults are libsodium's "moderate").
  uint64_t pwhash_ops = 0;
  uint64_t pwhash_mem = 0;
  uint64_t created_ms = 0;
  ProgressFn progress;
};

// Makes a consistent checkpoint of `store` in the new directory `target` (which must not
// exist; its parent must).
Status CheckpointStore(Store& store, const std::string& target);

// Makes a checkpoint of `store` (the store of the data directory `data_dir`) in a new
// directory DIR/backup-<random>.tmp (as DIR/backup-<random>.tmp/db) and returns that
// directory. The caller removes it.
Result<std::string> CheckpointForBackup(Store& store, const std::string& data_dir);

// Writes the archive `out` (through out.tmp, then a rename; mode 0600) from `data_dir`'s
// FORMAT and key files and the store checkpoint in `db_dir`. Refuses an existing `out`.
Result<BackupSummary> WriteBackup(const std::string& data_dir, const std::string& db_dir,
                                  const std::string& out, const BackupOptions& options);

// Reads the archive's header and checks its end hash (the whole file), without writing.
Result<BackupSummary> VerifyBackup(const std::string& archive);

struct RestoreOptions {
  std::string passphrase;      // needed when the archive holds keys, unless skip_keys
  bool skip_keys = false;      // restore the data only
  uint64_t new_log_epoch = 0;  // broker: the restored log's epoch (0: a random one)
  ProgressFn progress;
};

// Restores `archive` into `target`, which must not exist or be an empty directory. On error
// nothing is left behind. After extracting, marks the restored store (see above).
Result<BackupSummary> RestoreBackup(const std::string& archive, const std::string& target,
                                    const RestoreOptions& options);

// --- The log epoch and the restored mark (meta keys) ---
// The log's epoch; made (random) and stored if there is none yet.
Result<uint64_t> LogEpoch(Store& store);
// Whether the store was restored and its agent has not caught up since.
Result<bool> IsRestored(const Store& store);
// Clears the mark, in `batch`.
void ClearRestored(WriteBatch& batch);

}  // namespace sb

// `switchboard backup --data DIR --out FILE` and `switchboard restore --from FILE --data DIR`
// (store/backup.h has the archive format and how a restored agent or broker rejoins).
//
// A running agent or broker holds its store's lock: backup asks it, through its local API
// (POST /v1/backup with DIR/api.token), for a checkpoint in DIR/backup-*.tmp, packs that and
// removes it. With nothing running, backup opens the store itself. The passphrase that
// encrypts the keys comes from --passphrase-file (mode 0600) or stdin, never an argument.
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/files.h"
#include "base/json.h"
#include "cli/commands.h"
#include "cli/internal/agent_client.h"
#include "store/backup.h"
#include "store/data_dir.h"

namespace sb::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct BackupArgs {
  std::string data, out, passphrase_file, kdf = "moderate";
  bool with_keys = false, json = false;
};

struct RestoreArgs {
  std::string from, data, passphrase_file;
  bool without_keys = false, json = false;
};

int Fail(const char* cmd, const Status& s) {
  std::cerr << "switchboard " << cmd << ": " << s.message() << "\n";
  return 1;
}

std::string Mb(uint64_t bytes) {
  char buf[32];
  if (bytes < (1 << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  }
  return buf;
}

// Progress on stderr when someone watches it (one line, rewritten).
ProgressFn ProgressLine(const char* what, bool quiet) {
  if (quiet || !isatty(STDERR_FILENO)) return nullptr;
  return [what](const BackupProgress& p) {
    std::cerr << "\r" << what << ": " << p.files_done << "/" << p.files_total << " files, "
              << Mb(p.bytes_done) << " of " << Mb(p.bytes_total) << std::flush;
    if (p.files_done == p.files_total) std::cerr << "\n";
  };
}

// The passphrase: from `file` (mode 0600; "-" is stdin) or, with no file, one line of stdin.
Result<std::string> ReadPassphrase(const std::string& file, bool confirm_hint) {
  std::string text;
  if (!file.empty() && file != "-") {
    ASSIGN_OR_RETURN(text, ReadSecretFile(file));
  } else {
    if (isatty(STDIN_FILENO)) {
      std::cerr << "passphrase" << (confirm_hint ? " (at least 8 characters)" : "") << ": "
                << std::flush;
    }
    std::getline(std::cin, text);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return Status::InvalidArgument("no passphrase given");
  return text;
}

// A checkpoint of DIR's store: from the running process, or made here when none runs.
// Returns the checkpoint directory (to remove) and where it came from.
Result<std::pair<std::string, std::string>> Checkpoint(const std::string& data,
                                                       const std::string& role) {
  std::error_code ec;
  std::string runtime = role + ".json";
  std::string via_api_error;
  if (fs::exists(data + "/" + runtime, ec)) {
    AgentClient::Options o;
    o.runtime_file = runtime;
    o.read_timeout_s = 600;  // a flush of a large store
    Result<AgentClient> c = AgentClient::Open(data, o);
    if (c.ok()) {
      Result<HttpReply> r = c->Send("POST", "/v1/backup");
      if (r.ok() && r->status == 200) {
        json j = json::parse(r->body, nullptr, false);
        if (j.is_object() && j.contains("checkpoint") && j["checkpoint"].is_string()) {
          std::string dir = j["checkpoint"].get<std::string>();
          // The process names a directory inside DIR: accept nothing else.
          fs::path canon = fs::weakly_canonical(dir, ec);
          fs::path base = fs::weakly_canonical(data, ec);
          if (canon.parent_path() == base && canon.filename().string().ends_with(".tmp")) {
            return std::make_pair(canon.string(), "the running " + role);
          }
        }
        return Status::Internal("the running " + role + " answered POST /v1/backup strangely");
      }
      if (r.ok()) return c->ErrorOf(*r);
      via_api_error = r.status().message();
    } else {
      via_api_error = c.status().message();
    }
  }
  // Nothing answers: open the store here (refused if a process still holds it).
  Result<std::unique_ptr<Store>> store = Store::Open(data + "/db", StoreOptions{});
  if (!store.ok()) {
    return Status::FailedPrecondition(
        store.status().message() +
        (via_api_error.empty() ? "" : "; and its local API did not answer: " + via_api_error));
  }
  ASSIGN_OR_RETURN(std::string dir, CheckpointForBackup(**store, data));
  return std::make_pair(dir, std::string("the stopped " + role + "'s store"));
}

int RunBackup(const BackupArgs& a) {
  std::error_code ec;
  Result<std::string> format = ReadFile(a.data + "/FORMAT");
  if (!format.ok()) {
    return Fail("backup", Status::FailedPrecondition(
                              a.data + " is not a switchboard data directory (no FORMAT)"));
  }
  std::string role = format->find("\nrole broker") != std::string::npos ? "broker" : "agent";
  if (fs::exists(a.out, ec)) {
    return Fail("backup", Status::AlreadyExists(a.out + " exists; a backup never overwrites"));
  }
  BackupOptions o;
  o.with_keys = a.with_keys;
  if (a.kdf == "interactive") {
    o.pwhash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    o.pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  } else if (a.kdf == "sensitive") {
    o.pwhash_ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
    o.pwhash_mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
  } else if (a.kdf != "moderate") {
    return Fail("backup",
                Status::InvalidArgument("--kdf-cost must be interactive, moderate or sensitive"));
  }
  if (a.with_keys) {
    Result<std::string> p = ReadPassphrase(a.passphrase_file, true);
    if (!p.ok()) return Fail("backup", p.status());
    o.passphrase = std::move(p).value();
    if (o.passphrase.size() < 8) {
      return Fail("backup",
                  Status::InvalidArgument("the passphrase must have at least 8 characters"));
    }
  } else if (!a.passphrase_file.empty()) {
    return Fail("backup", Status::InvalidArgument("--passphrase-file goes with --with-keys"));
  }
  o.created_ms = SystemClock::Get()->NowMillis();
  o.progress = ProgressLine("backup", a.json);
  Result<std::pair<std::string, std::string>> cp = Checkpoint(a.data, role);
  if (!cp.ok()) return Fail("backup", cp.status());
  Result<BackupSummary> sum = WriteBackup(a.data, cp->first + "/db", a.out, o);
  fs::remove_all(cp->first, ec);
  sodium_memzero(o.passphrase.data(), o.passphrase.size());
  if (!sum.ok()) return Fail("backup", sum.status());
  uint64_t size = fs::file_size(a.out, ec);
  if (a.json) {
    std::cout << DumpJson(json{{"out", a.out},
                               {"role", sum->role},
                               {"source", cp->second},
                               {"files", sum->files},
                               {"bytes", sum->bytes},
                               {"archive_bytes", size},
                               {"keys", sum->key_files}},
                          2)
              << "\n";
    return 0;
  }
  std::cout << "backed up the " << sum->role << " data directory " << a.data << " to " << a.out
            << "\n  from:  a consistent checkpoint of " << cp->second << "\n  files: " << sum->files
            << " (" << Mb(sum->bytes) << "), archive " << Mb(size) << ", mode 0600\n";
  if (sum->keys) {
    std::cout << "  keys:  included, encrypted with the passphrase (";
    for (size_t i = 0; i < sum->key_files.size(); ++i) {
      std::cout << (i ? ", " : "") << sum->key_files[i];
    }
    std::cout << ")\n";
  } else {
    std::cout << "  keys:  not included (keep the keys safe separately, or use --with-keys)\n";
  }
  return 0;
}

int RunRestore(const RestoreArgs& a) {
  Result<BackupSummary> head = VerifyBackup(a.from);
  if (!head.ok()) return Fail("restore", head.status());
  RestoreOptions o;
  o.skip_keys = a.without_keys;
  if (head->keys && !a.without_keys) {
    Result<std::string> p = ReadPassphrase(a.passphrase_file, false);
    if (!p.ok()) return Fail("restore", p.status());
    o.passphrase = std::move(p).value();
  }
  o.progress = ProgressLine("restore", a.json);
  Result<BackupSummary> sum = RestoreBackup(a.from, a.data, o);
  sodium_memzero(o.passphrase.data(), o.passphrase.size());
  if (!sum.ok()) return Fail("restore", sum.status());
  std::string next =
      sum->role == "broker"
          ? "start the broker: its agents bring it forward (each re-sends what it wrote that "
            "the restored log lacks)"
          : "start the agent: it catches up from the broker, and accepts edits once it has";
  if (a.json) {
    std::cout << DumpJson(json{{"data", a.data},
                               {"role", sum->role},
                               {"files", sum->files},
                               {"bytes", sum->bytes},
                               {"created_ms", sum->created_ms},
                               {"keys", sum->key_files}},
                          2)
              << "\n";
    return 0;
  }
  std::cout << "restored the " << sum->role << " data directory " << a.data << " from " << a.from
            << "\n  files: " << sum->files << " (" << Mb(sum->bytes) << ")\n  keys:  "
            << (sum->key_files.empty() ? std::string("none restored (copy them in before starting)")
                                       : std::to_string(sum->key_files.size()) + " files")
            << "\n  next:  " << next << "\n";
  return 0;
}

}  // namespace

void AddBackupCommands(CLI::App& app, int& exit_code) {
  auto b = std::make_shared<BackupArgs>();
  CLI::App* backup = app.add_subcommand(
      "backup",
      "Write a consistent backup of an agent's or broker's data directory to one file (mode "
      "0600), while it runs or not; keys only with --with-keys, encrypted with a passphrase");
  backup->add_option("--data", b->data, "the data directory")->required();
  backup->add_option("--out", b->out, "the archive to write (must not exist)")->required();
  backup->add_flag("--with-keys", b->with_keys,
                   "include the keys and API token, encrypted with a passphrase (Argon2id, "
                   "XSalsa20-Poly1305)");
  backup->add_option("--passphrase-file", b->passphrase_file,
                     "file holding the passphrase (mode 0600; '-' or absent: read it from stdin)");
  backup->add_option("--kdf-cost", b->kdf,
                     "passphrase key derivation cost: interactive, moderate (default), sensitive");
  backup->add_flag("--json", b->json, "print JSON");
  backup->callback([b, &exit_code] { exit_code = RunBackup(*b); });

  auto r = std::make_shared<RestoreArgs>();
  CLI::App* restore = app.add_subcommand(
      "restore",
      "Restore a backup into a new or empty data directory; a damaged, truncated or "
      "wrong-passphrase archive is refused and nothing is written");
  restore->add_option("--from", r->from, "the archive")->required();
  restore->add_option("--data", r->data, "the data directory to create (new or empty)")->required();
  restore->add_option("--passphrase-file", r->passphrase_file,
                      "file holding the passphrase (mode 0600; '-' or absent: read it from "
                      "stdin) when the archive holds keys");
  restore->add_flag("--without-keys", r->without_keys,
                    "restore the data only, leaving the archive's keys out");
  restore->add_flag("--json", r->json, "print JSON");
  restore->callback([r, &exit_code] { exit_code = RunRestore(*r); });
}

}  // namespace sb::cli

#include "broker/maintainers.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/utf8.h"

namespace sb {

using nlohmann::json;

namespace {

constexpr char kPrefix[] = "maintainer/";
constexpr char kTokenPrefix[] = "sbm_";

std::string TokenHash(const std::string& token) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  return out;
}

// 20 characters of an alphabet without look-alikes (about 100 bits), in groups of five so it
// can be read out: "k7mq2-xw9tp-…".
std::string RandomPassword() {
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";  // 32 characters
  std::string out;
  for (int i = 0; i < 20; ++i) {
    if (i > 0 && i % 5 == 0) out.push_back('-');
    out.push_back(kAlphabet[randombytes_uniform(32)]);
  }
  return out;
}

Result<std::string> HashPassword(const std::string& password) {
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::ResourceExhausted("not enough memory to hash the password (Argon2id)");
  }
  return std::string(hash);
}

}  // namespace

std::string MaintainerActor(const std::string& org, const std::string& name) {
  return name.empty() ? org : org + "/" + name;
}

Status Maintainers::CheckName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("a maintainer's name is 1 to 64 characters");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
      return Status::InvalidArgument("maintainer name '" + Printable(name, 64) +
                                     "': use lower-case letters, digits, '.', '_' and '-', "
                                     "starting with a letter or digit");
    }
  }
  return Status::Ok();
}

Status Maintainers::Load() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (dummy_hash_.empty()) {
    ASSIGN_OR_RETURN(dummy_hash_, HashPassword(RandomToken()));
  }
  std::map<std::string, Entry> loaded;
  Status bad;
  RETURN_IF_ERROR(store_->Scan(Cf::kRoster, kPrefix, "", [&](std::string_view, std::string_view v) {
    json j = ParseStoredJson(v);
    try {
      Entry e;
      e.info.name = j.at("name").get<std::string>();
      e.info.added_at_ms = j.at("added_at").get<uint64_t>();
      e.info.added_by = j.at("added_by").get<std::string>();
      e.password_hash = j.at("password").get<std::string>();
      Result<std::string> th = FromHex(j.at("token").get<std::string>());
      if (!th.ok() || th->size() != crypto_generichash_BYTES) {
        bad = Status::Corruption("malformed maintainer entry (token hash)");
        return false;
      }
      e.token_hash = *th;
      loaded[e.info.name] = std::move(e);
      return true;
    } catch (const json::exception& ex) {
      bad = Status::Corruption(std::string("malformed maintainer entry: ") + ex.what());
      return false;
    }
  }));
  RETURN_IF_ERROR(bad);
  MutexLock lock(mu_);
  entries_ = std::move(loaded);
  return Status::Ok();
}

Result<MaintainerCredentials> Maintainers::Add(const std::string& name, const std::string& password,
                                               uint64_t now_ms, AuditLog* audit,
                                               const std::string& actor) {
  RETURN_IF_ERROR(CheckName(name));
  MaintainerCredentials c{name, password.empty() ? RandomPassword() : password,
                          kTokenPrefix + RandomToken()};
  if (c.password.size() < kMinPasswordChars || c.password.size() > kMaxPasswordChars) {
    return Status::InvalidArgument(
        "a maintainer's password is " + std::to_string(kMinPasswordChars) + " to " +
        std::to_string(kMaxPasswordChars) + " characters (leave it out and one is made)");
  }
  if (!IsUtf8(c.password)) return Status::InvalidArgument("password: not valid UTF-8");
  {
    MutexLock lock(mu_);
    if (entries_.count(name)) {
      return Status::AlreadyExists("maintainer " + name +
                                   " exists (remove them first to issue new credentials)");
    }
    if (entries_.size() >= kMaxMaintainers) {
      return Status::ResourceExhausted("the broker has " + std::to_string(kMaxMaintainers) +
                                       " maintainers already");
    }
  }
  Entry e;
  e.info = MaintainerInfo{name, now_ms, actor};
  ASSIGN_OR_RETURN(e.password_hash, HashPassword(c.password));
  e.token_hash = TokenHash(c.token);
  json stored = {{"name", name},
                 {"password", e.password_hash},
                 {"token", ToHex(e.token_hash)},
                 {"added_at", now_ms},
                 {"added_by", actor}};
  MutexLock lock(mu_);
  if (entries_.count(name)) return Status::AlreadyExists("maintainer " + name + " exists");
  WriteBatch b;
  b.Put(Cf::kRoster, kPrefix + name, DumpJson(stored));
  if (audit) audit->Append(&b, now_ms, actor, "maintainer.add", name);
  if (Status st = store_->Commit(std::move(b)); !st.ok()) {
    if (audit) (void)audit->Load();  // the staged entry was not written
    return st;
  }
  entries_[name] = std::move(e);
  return c;
}

Status Maintainers::Remove(const std::string& name, uint64_t now_ms, AuditLog* audit,
                           const std::string& actor) {
  MutexLock lock(mu_);
  if (!entries_.count(name)) {
    return Status::NotFound("no maintainer " + Printable(name, 64) +
                            " (see switchboard maintainer list)");
  }
  WriteBatch b;
  b.Delete(Cf::kRoster, kPrefix + name);
  if (audit) audit->Append(&b, now_ms, actor, "maintainer.remove", name);
  if (Status st = store_->Commit(std::move(b)); !st.ok()) {
    if (audit) (void)audit->Load();
    return st;
  }
  entries_.erase(name);
  ++removals_;
  return Status::Ok();
}

std::vector<MaintainerInfo> Maintainers::List() const {
  MutexLock lock(mu_);
  std::vector<MaintainerInfo> out;
  for (const auto& kv : entries_) out.push_back(kv.second.info);
  return out;
}

bool Maintainers::Active(const std::string& name) const {
  MutexLock lock(mu_);
  return entries_.count(name) > 0;
}

std::optional<std::string> Maintainers::ByToken(const std::string& token) const {
  if (token.size() != 4 + 64 || token.compare(0, 4, kTokenPrefix) != 0) return std::nullopt;
  std::string h = TokenHash(token);
  MutexLock lock(mu_);
  std::optional<std::string> found;
  for (const auto& [name, e] : entries_) {
    if (sodium_memcmp(e.token_hash.data(), h.data(), h.size()) == 0) found = name;
  }
  return found;
}

Result<bool> Maintainers::CheckPassword(const std::string& name,
                                        const std::string& password) const {
  if (password.empty() || password.size() > kMaxPasswordChars) return false;
  std::string hash;
  {
    MutexLock lock(mu_);
    auto it = entries_.find(name);
    hash = it == entries_.end() ? dummy_hash_ : it->second.password_hash;
  }
  if (hash.empty()) return false;  // not loaded
  if (checking_.fetch_add(1) >= 2) {
    checking_.fetch_sub(1);
    return Status::Unavailable("the broker is checking other sign-ins; try again in a moment");
  }
  bool ok = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  checking_.fetch_sub(1);
  if (!ok) return false;
  return Active(name);  // the dummy never matches a real name; removed meanwhile: no
}

}  // namespace sb

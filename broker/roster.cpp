#include "broker/roster.h"

#include <sodium.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "transport/sealed.h"

namespace sb {

using nlohmann::json;

namespace {

std::string Hex(const std::string& raw) {
  std::string out(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  out.pop_back();
  return out;
}

Result<std::string> Unhex(const std::string& hex, size_t want) {
  std::string raw(want, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), want, hex.data(), hex.size(),
                     nullptr, &len, nullptr) != 0 ||
      len != want) {
    return Status::Corruption("malformed key in the roster");
  }
  return raw;
}

std::string ReplicaKey(ReplicaId r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "replica/%016llx", static_cast<unsigned long long>(r));
  return buf;
}

json MemberJson(const Member& m) {
  return {{"org", m.identity.org},
          {"role", RoleName(m.role)},
          {"curve", m.identity.curve_public},
          {"box", Hex(m.identity.box_public)},
          {"sign", Hex(m.identity.sign_public)},
          {"enrolled_at", m.enrolled_at_ms},
          {"revoked", m.revoked},
          {"key_epoch", m.key_epoch},
          {"retired_sign",
           [&] {
             json keys = json::array();
             for (const std::string& k : m.retired_sign_keys) keys.push_back(Hex(k));
             return keys;
           }()},
          {"pre_key", m.pre_key.empty() ? json(nullptr)
                                        : json{{"id", m.pre_key.id},
                                               {"key", Hex(m.pre_key.key)},
                                               {"sig", Hex(m.pre_key.signature)}}}};
}

Result<Member> MemberFromJson(std::string_view text) {
  json j = ParseStoredJson(text);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("malformed roster entry");
  try {
    Member m;
    m.identity.org = j.at("org").get<std::string>();
    ASSIGN_OR_RETURN(m.role, ParseRole(j.at("role").get<std::string>()));
    m.identity.curve_public = j.at("curve").get<std::string>();
    ASSIGN_OR_RETURN(m.identity.box_public, Unhex(j.at("box").get<std::string>(), 32));
    ASSIGN_OR_RETURN(m.identity.sign_public, Unhex(j.at("sign").get<std::string>(), 32));
    m.enrolled_at_ms = j.at("enrolled_at").get<uint64_t>();
    m.revoked = j.at("revoked").get<bool>();
    m.key_epoch = j.value("key_epoch", 0u);  // absent before rekeying existed
    if (j.contains("pre_key") && j["pre_key"].is_object()) {
      const json& pk = j["pre_key"];
      m.pre_key.id = pk.at("id").get<uint64_t>();
      ASSIGN_OR_RETURN(m.pre_key.key, Unhex(pk.at("key").get<std::string>(), 32));
      ASSIGN_OR_RETURN(m.pre_key.signature, Unhex(pk.at("sig").get<std::string>(), 64));
    }
    if (j.contains("retired_sign")) {
      for (const json& k : j.at("retired_sign")) {
        ASSIGN_OR_RETURN(std::string raw, Unhex(k.get<std::string>(), 32));
        m.retired_sign_keys.push_back(std::move(raw));
      }
    }
    return m;
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("malformed roster entry: ") + e.what());
  }
}

// New keys for `m`: its epoch bumps, and its signing key is kept among the retired ones.
void ReplaceKeys(Member* m, const PublicIdentity& keys) {
  if (m->identity.sign_public != keys.sign_public) {
    m->retired_sign_keys.insert(m->retired_sign_keys.begin(), m->identity.sign_public);
    if (m->retired_sign_keys.size() > proto::kMaxRetiredSignKeys) {
      m->retired_sign_keys.resize(proto::kMaxRetiredSignKeys);
    }
  }
  m->identity = keys;
  m->pre_key = {};  // signed by the keys replaced: the new agent publishes its own
  ++m->key_epoch;
}

}  // namespace

Status Roster::Load() {
  MutexLock lock(mu_);
  Status bad;
  RETURN_IF_ERROR(store_->Scan(Cf::kRoster, "org/", "",
                               [&](std::string_view, std::string_view v) REQUIRES(mu_) {
                                 Result<Member> m = MemberFromJson(v);
                                 if (!m.ok()) {
                                   bad = m.status();
                                   return false;
                                 }
                                 if (!m->revoked)
                                   by_curve_[m->identity.curve_public] = m->identity.org;
                                 members_[m->identity.org] = std::move(m).value();
                                 return true;
                               }));
  RETURN_IF_ERROR(bad);
  replicas_.clear();
  replicas_of_org_.clear();
  return store_->Scan(Cf::kRoster, "replica/", "",
                      [&](std::string_view k, std::string_view v) REQUIRES(mu_) {
                        ReplicaId r = std::strtoull(std::string(k.substr(8)).c_str(), nullptr, 16);
                        replicas_[r] = std::string(v);
                        ++replicas_of_org_[std::string(v)];
                        return true;
                      });
}

std::string Roster::KeyHolder(const PublicIdentity& id, const std::string& org) const {
  for (const auto& [other, m] : members_) {
    if (other == org) continue;
    if (m.identity.curve_public == id.curve_public || m.identity.sign_public == id.sign_public ||
        m.identity.box_public == id.box_public) {
      return other;
    }
  }
  return "";
}

Status Roster::Save(Member m, uint64_t now_ms, AuditLog* audit, const std::string& actor,
                    const std::string& action) {
  const std::string org = m.identity.org;
  WriteBatch b;
  b.Put(Cf::kRoster, "org/" + org, DumpJson(MemberJson(m)));
  if (audit) audit->Append(&b, now_ms, actor, action, org);
  Status st = store_->Commit(std::move(b));
  if (!st.ok()) {
    if (audit) (void)audit->Load();  // the staged entry was not written: the head goes back
    return st;
  }
  if (auto old = members_.find(org); old != members_.end()) {
    by_curve_.erase(old->second.identity.curve_public);
  }
  if (!m.revoked) by_curve_[m.identity.curve_public] = org;
  members_[org] = std::move(m);
  changed_at_[org] = ++version_;
  return Status::Ok();
}

Status Roster::SetPreKey(const std::string& org, const proto::SignedPreKey& k) {
  MutexLock lock(mu_);
  auto it = members_.find(org);
  if (it == members_.end()) return Status::NotFound("organization " + org + " is not enrolled");
  if (it->second.revoked) return Status::FailedPrecondition("organization " + org + " is revoked");
  if (it->second.pre_key == k) return Status::Ok();
  if (!VerifyPreKey(org, it->second.identity.sign_public, k)) {
    return Status::InvalidArgument("the pre-key is not signed by " + org + "'s signing key");
  }
  if (k.id <= it->second.pre_key.id) {
    return Status::InvalidArgument("pre-key " + std::to_string(k.id) + " is older than " +
                                   std::to_string(it->second.pre_key.id));
  }
  Member m = it->second;
  m.pre_key = k;
  return Save(std::move(m), 0, nullptr, "", "");
}

Status Roster::Enroll(const PublicIdentity& identity, Role role, uint64_t now_ms, AuditLog* audit,
                      const std::string& actor) {
  MutexLock lock(mu_);
  if (auto it = members_.find(identity.org); it != members_.end()) {
    return Status::AlreadyExists(
        "organization " + identity.org +
        (it->second.revoked ? " was revoked; to let it back in use `switchboard enroll reinstate`"
                            : " is already enrolled; to replace its keys use `switchboard "
                              "enroll rekey`, after checking the new fingerprint with it"));
  }
  if (std::string holder = KeyHolder(identity, identity.org); !holder.empty()) {
    return Status::AlreadyExists("those keys are already enrolled for organization " + holder);
  }
  return Save(Member{identity, role, now_ms, false, 0, {}, {}}, now_ms, audit, actor,
              "roster.enroll");
}

Status Roster::Rekey(const PublicIdentity& identity, uint64_t now_ms, Member* before,
                     AuditLog* audit, const std::string& actor) {
  MutexLock lock(mu_);
  auto it = members_.find(identity.org);
  if (it == members_.end()) {
    return Status::NotFound("organization " + identity.org + " is not enrolled");
  }
  if (it->second.revoked) {
    return Status::FailedPrecondition("organization " + identity.org +
                                      " is revoked; reinstate it first (`switchboard enroll "
                                      "reinstate ORG --key NEW.pub`)");
  }
  const PublicIdentity& old = it->second.identity;
  if (old.curve_public == identity.curve_public && old.sign_public == identity.sign_public &&
      old.box_public == identity.box_public) {
    return Status::InvalidArgument("those are the keys organization " + identity.org +
                                   " already has");
  }
  if (std::string holder = KeyHolder(identity, identity.org); !holder.empty()) {
    return Status::AlreadyExists("those keys are already enrolled for organization " + holder);
  }
  if (before) *before = it->second;
  Member m = it->second;
  ReplaceKeys(&m, identity);
  return Save(std::move(m), now_ms, audit, actor, "roster.rekey");
}

Status Roster::SetRole(const std::string& org, Role role, uint64_t now_ms, AuditLog* audit,
                       const std::string& actor) {
  MutexLock lock(mu_);
  auto it = members_.find(org);
  if (it == members_.end()) return Status::NotFound("organization " + org + " is not enrolled");
  if (it->second.revoked) {
    return Status::FailedPrecondition("organization " + org + " is revoked; reinstate it first");
  }
  if (it->second.role == role) {
    return Status::InvalidArgument("organization " + org + " is already a " + RoleName(role));
  }
  Member m = it->second;
  m.role = role;
  return Save(std::move(m), now_ms, audit, actor,
              role == Role::kMaintainer ? "roster.role.maintainer" : "roster.role.partner");
}

Status Roster::Revoke(const std::string& org, uint64_t now_ms, AuditLog* audit,
                      const std::string& actor) {
  MutexLock lock(mu_);
  auto it = members_.find(org);
  if (it == members_.end()) return Status::NotFound("organization " + org + " is not enrolled");
  if (it->second.revoked) {
    return Status::FailedPrecondition("organization " + org + " is already revoked");
  }
  Member m = it->second;
  m.revoked = true;
  return Save(std::move(m), now_ms, audit, actor, "roster.revoke");
}

Status Roster::Reinstate(const std::string& org, uint64_t now_ms, const PublicIdentity* new_keys,
                         AuditLog* audit, const std::string& actor) {
  MutexLock lock(mu_);
  auto it = members_.find(org);
  if (it == members_.end()) return Status::NotFound("organization " + org + " is not enrolled");
  if (!it->second.revoked) {
    return Status::FailedPrecondition("organization " + org + " is not revoked");
  }
  if (new_keys && new_keys->org != org) {
    return Status::InvalidArgument("the new identity names organization " + new_keys->org +
                                   ", not " + org);
  }
  const PublicIdentity& keys = new_keys ? *new_keys : it->second.identity;
  if (std::string holder = KeyHolder(keys, org); !holder.empty()) {
    return Status::AlreadyExists("those keys are enrolled for organization " + holder +
                                 (new_keys ? "" : " since; reinstate it with new keys (--key)"));
  }
  Member m = it->second;
  m.revoked = false;
  if (new_keys) ReplaceKeys(&m, *new_keys);
  return Save(std::move(m), now_ms, audit, actor, "roster.reinstate");
}

std::optional<Member> Roster::Find(const std::string& org) const {
  MutexLock lock(mu_);
  auto it = members_.find(org);
  if (it == members_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Roster::AuthorizeCurve(const std::string& curve_z85) const {
  MutexLock lock(mu_);
  auto it = by_curve_.find(curve_z85);
  if (it == by_curve_.end()) return std::nullopt;
  return it->second;
}

std::vector<Member> Roster::List() const {
  MutexLock lock(mu_);
  std::vector<Member> out;
  for (const auto& [org, m] : members_) out.push_back(m);
  return out;
}

uint64_t Roster::version() const {
  MutexLock lock(mu_);
  return version_;
}

std::vector<Member> Roster::ChangedSince(uint64_t version) const {
  MutexLock lock(mu_);
  std::vector<Member> out;
  for (const auto& [org, at] : changed_at_) {
    if (at > version) out.push_back(members_.at(org));
  }
  return out;
}

Status Roster::BindReplica(ReplicaId replica, const std::string& org, size_t max_per_org) {
  MutexLock lock(mu_);
  if (replica == 0) return Status::InvalidArgument("replica id 0 is not valid");
  auto it = replicas_.find(replica);
  if (it != replicas_.end()) {
    if (it->second == org) return Status::Ok();
    return Status::PermissionDenied("replica id is bound to another organization");
  }
  if (size_t bound = replicas_of_org_[org]; max_per_org != 0 && bound >= max_per_org) {
    return Status::ResourceExhausted(
        "organization " + org + " has " + std::to_string(bound) +
        " replica ids bound already, the most allowed; reuse an existing agent's data "
        "directory, or ask the coordinator");
  }
  WriteBatch b;
  b.Put(Cf::kRoster, ReplicaKey(replica), org);
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  replicas_[replica] = org;
  ++replicas_of_org_[org];
  return Status::Ok();
}

std::string Roster::OrgOfReplica(ReplicaId replica) const {
  MutexLock lock(mu_);
  auto it = replicas_.find(replica);
  return it == replicas_.end() ? "" : it->second;
}

std::map<ReplicaId, std::string> Roster::Replicas() const {
  MutexLock lock(mu_);
  return replicas_;
}

}  // namespace sb

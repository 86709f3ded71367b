#include "broker/roster.h"

#include <sodium.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/json.h"

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
          {"revoked", m.revoked}};
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
    return m;
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("malformed roster entry: ") + e.what());
  }
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
  return store_->Scan(Cf::kRoster, "replica/", "",
                      [&](std::string_view k, std::string_view v) REQUIRES(mu_) {
                        ReplicaId r = std::strtoull(std::string(k.substr(8)).c_str(), nullptr, 16);
                        replicas_[r] = std::string(v);
                        return true;
                      });
}

Status Roster::Enroll(const PublicIdentity& identity, Role role, uint64_t now_ms) {
  MutexLock lock(mu_);
  if (auto it = by_curve_.find(identity.curve_public);
      it != by_curve_.end() && it->second != identity.org) {
    return Status::AlreadyExists("that CURVE key is already enrolled for organization " +
                                 it->second);
  }
  Member m{identity, role, now_ms, false};
  WriteBatch b;
  b.Put(Cf::kRoster, "org/" + identity.org, DumpJson(MemberJson(m)));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  if (auto old = members_.find(identity.org); old != members_.end()) {
    by_curve_.erase(old->second.identity.curve_public);
  }
  by_curve_[identity.curve_public] = identity.org;
  members_[identity.org] = std::move(m);
  changed_at_[identity.org] = ++version_;
  return Status::Ok();
}

Status Roster::Revoke(const std::string& org) {
  MutexLock lock(mu_);
  auto it = members_.find(org);
  if (it == members_.end()) return Status::NotFound("organization " + org + " is not enrolled");
  Member m = it->second;
  m.revoked = true;
  WriteBatch b;
  b.Put(Cf::kRoster, "org/" + org, DumpJson(MemberJson(m)));
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  by_curve_.erase(m.identity.curve_public);
  it->second = std::move(m);
  changed_at_[org] = ++version_;
  return Status::Ok();
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

Status Roster::BindReplica(ReplicaId replica, const std::string& org) {
  MutexLock lock(mu_);
  if (replica == 0) return Status::InvalidArgument("replica id 0 is not valid");
  auto it = replicas_.find(replica);
  if (it != replicas_.end()) {
    if (it->second == org) return Status::Ok();
    return Status::PermissionDenied("replica id is bound to another organization");
  }
  WriteBatch b;
  b.Put(Cf::kRoster, ReplicaKey(replica), org);
  RETURN_IF_ERROR(store_->Commit(std::move(b)));
  replicas_[replica] = org;
  return Status::Ok();
}

std::string Roster::OrgOfReplica(ReplicaId replica) const {
  MutexLock lock(mu_);
  auto it = replicas_.find(replica);
  return it == replicas_.end() ? "" : it->second;
}

}  // namespace sb

#include "conflict/causal_context.h"

namespace sb {

std::string ReplicaHex(ReplicaId r) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(r));
  return buf;
}

std::string Dot::ToString() const {
  return std::to_string(replica) + ":" + std::to_string(counter);
}

bool CausalContext::Contains(const Dot& dot) const {
  auto it = vector_.find(dot.replica);
  if (it != vector_.end() && dot.counter <= it->second) return true;
  return cloud_.count(dot) > 0;
}

void CausalContext::Add(const Dot& dot) {
  if (Contains(dot)) return;
  auto it = vector_.find(dot.replica);
  uint64_t top = it == vector_.end() ? 0 : it->second;
  if (dot.counter != top + 1) {
    cloud_.insert(dot);  // a gap remains: nothing to fold
    return;
  }
  // The dot continues the vector: fold in the cloud dots of this replica that now follow.
  top = dot.counter;
  for (auto c = cloud_.lower_bound(Dot{dot.replica, top + 1});
       c != cloud_.end() && c->replica == dot.replica && c->counter == top + 1;) {
    top = c->counter;
    c = cloud_.erase(c);
  }
  vector_[dot.replica] = top;
}

void CausalContext::Remove(const Dot& dot) {
  if (cloud_.erase(dot) > 0) return;
  auto it = vector_.find(dot.replica);
  if (it == vector_.end() || dot.counter == 0 || dot.counter > it->second) return;
  for (uint64_t c = dot.counter + 1; c <= it->second; ++c) cloud_.insert(Dot{dot.replica, c});
  if (dot.counter == 1) {
    vector_.erase(it);
    // The cloud's dots of this replica now start at 2: nothing folds back.
  } else {
    it->second = dot.counter - 1;
  }
}

Dot CausalContext::Next(ReplicaId replica) const {
  uint64_t top = 0;
  auto it = vector_.find(replica);
  if (it != vector_.end()) top = it->second;
  // Dots of `replica` can sit in the cloud when another replica's delta named them first.
  auto c = cloud_.lower_bound(Dot{replica + 1, 0});
  if (c != cloud_.begin()) {
    --c;
    if (c->replica == replica && c->counter > top) top = c->counter;
  }
  return Dot{replica, top + 1};
}

void CausalContext::Join(const CausalContext& other) {
  for (const auto& [replica, n] : other.vector_) {
    uint64_t& top = vector_[replica];
    if (n > top) top = n;
  }
  cloud_.insert(other.cloud_.begin(), other.cloud_.end());
  Compact();
}

bool CausalContext::Includes(const CausalContext& other) const {
  for (const auto& [replica, n] : other.vector_) {
    auto it = vector_.find(replica);
    uint64_t have = it == vector_.end() ? 0 : it->second;
    for (uint64_t c = have + 1; c <= n; ++c) {
      if (!cloud_.count(Dot{replica, c})) return false;
    }
  }
  for (const Dot& d : other.cloud_) {
    if (!Contains(d)) return false;
  }
  return true;
}

CausalContext CausalContext::FromParts(std::map<ReplicaId, uint64_t> vector,
                                       std::set<Dot> cloud) {
  CausalContext c;
  c.vector_ = std::move(vector);
  c.cloud_ = std::move(cloud);
  c.Compact();
  return c;
}

void CausalContext::Compact() {
  for (auto it = cloud_.begin(); it != cloud_.end();) {
    auto v = vector_.find(it->replica);
    uint64_t top = v == vector_.end() ? 0 : v->second;
    if (it->counter <= top) {
      it = cloud_.erase(it);
    } else if (it->counter == top + 1) {
      vector_[it->replica] = it->counter;
      it = cloud_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = vector_.begin(); it != vector_.end();) {
    it = it->second == 0 ? vector_.erase(it) : std::next(it);
  }
}

std::string CausalContext::ToString() const {
  std::string s = "{";
  for (const auto& [r, n] : vector_) s += std::to_string(r) + ":1.." + std::to_string(n) + " ";
  for (const Dot& d : cloud_) s += d.ToString() + " ";
  if (s.size() > 1) s.pop_back();
  return s + "}";
}

}  // namespace sb

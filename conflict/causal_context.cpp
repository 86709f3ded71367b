#include "conflict/causal_context.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace sb {

namespace {
// Up to this many dots of another context's cloud are added one by one in a join.
constexpr size_t kFewDots = 4;
}  // namespace

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
  return !cloud_.empty() && cloud_.contains(dot);
}

void CausalContext::Add(const Dot& dot) {
  auto it = vector_.find(dot.replica);
  if (it != vector_.end() && dot.counter <= it->second) return;  // contained
  uint64_t top = it == vector_.end() ? 0 : it->second;
  if (dot.counter != top + 1) {
    cloud_.insert(dot);  // a gap remains: nothing to fold (a dot already there stays once)
    return;
  }
  // The dot continues the vector (so it is not in the cloud): fold in the cloud dots of this
  // replica that now follow.
  top = dot.counter;
  if (!cloud_.empty()) {
    auto first = cloud_.lower_bound(Dot{dot.replica, top + 1});
    auto last = first;
    while (last != cloud_.end() && last->replica == dot.replica && last->counter == top + 1) {
      top = last->counter;
      ++last;
    }
    cloud_.erase(first, last);
  }
  if (it != vector_.end()) {
    it->second = top;
  } else {
    vector_.emplace(dot.replica, top);
  }
}

void CausalContext::Remove(const Dot& dot) {
  if (cloud_.erase(dot) > 0) return;
  auto it = vector_.find(dot.replica);
  if (it == vector_.end() || dot.counter == 0 || dot.counter > it->second) return;
  std::vector<Dot> later;
  later.reserve(it->second - dot.counter);
  for (uint64_t c = dot.counter + 1; c <= it->second; ++c) later.push_back(Dot{dot.replica, c});
  cloud_.insert(later.begin(), later.end());
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
  if (&other == this) return;
  size_t fresh = 0;  // replicas only `other` names
  for (const auto& [replica, n] : other.vector_) {
    auto it = vector_.find(replica);
    if (it == vector_.end()) {
      ++fresh;
    } else if (n > it->second) {
      it->second = n;
    }
  }
  if (fresh > 0) {
    // One allocation for them all (none while they fit inline).
    vector_.reserve(vector_.size() + fresh);
    for (const auto& [replica, n] : other.vector_) vector_.try_emplace(replica, n);
  }
  if (other.cloud_.size() <= kFewDots) {
    // A delta's context has a dot or two beyond a gap (the values its write superseded): each
    // is added (folding into the vector where it continues it) without sorting and merging.
    for (const Dot& d : other.cloud_) Add(d);
  } else {
    cloud_.insert(other.cloud_.begin(), other.cloud_.end());
  }
  Compact();
}

void CausalContext::Subtract(const CausalContext& other) {
  if (&other == this) {
    vector_.clear();
    cloud_.clear();
    return;
  }
  if (empty() || other.empty()) return;
  // The vector dots of a replica from its first dot `other` names onwards: that dot and those
  // `other` holds are forgotten, the others move to the cloud (they follow a gap now).
  std::vector<Dot> moved;
  for (auto it = vector_.begin(); it != vector_.end();) {
    const ReplicaId replica = it->first;
    const uint64_t top = it->second;
    auto theirs = other.vector_.find(replica);
    const uint64_t covered = theirs == other.vector_.end() ? 0 : theirs->second;  // 1..covered
    auto cloud = other.cloud_.lower_bound(Dot{replica, covered + 1});
    uint64_t first = covered > 0 ? 1 : 0;  // the first dot of ours `other` names (0: none)
    if (first == 0 && cloud != other.cloud_.end() && cloud->replica == replica &&
        cloud->counter <= top) {
      first = cloud->counter;
    }
    if (first == 0) {
      ++it;
      continue;
    }
    for (uint64_t c = std::max(first, covered) + 1; c <= top; ++c) {
      while (cloud != other.cloud_.end() && cloud->replica == replica && cloud->counter < c) {
        ++cloud;
      }
      if (cloud != other.cloud_.end() && cloud->replica == replica && cloud->counter == c) {
        continue;  // `other` names it too
      }
      moved.push_back(Dot{replica, c});
    }
    if (first == 1) {
      it = vector_.erase(it);
    } else {
      it->second = first - 1;
      ++it;
    }
  }
  // The cloud's dots all follow a gap above their replica's vector entry, and keep doing so.
  if (!cloud_.empty()) erase_if(cloud_, [&other](const Dot& d) { return other.Contains(d); });
  cloud_.insert(moved.begin(), moved.end());
}

bool CausalContext::Includes(const CausalContext& other) const {
  for (const auto& [replica, n] : other.vector_) {
    auto it = vector_.find(replica);
    uint64_t have = it == vector_.end() ? 0 : it->second;
    for (uint64_t c = have + 1; c <= n; ++c) {
      if (!cloud_.contains(Dot{replica, c})) return false;
    }
  }
  for (const Dot& d : other.cloud_) {
    if (!Contains(d)) return false;
  }
  return true;
}

CausalContext CausalContext::FromParts(VersionVector vector, FlatSet<Dot> cloud) {
  CausalContext c;
  c.vector_ = std::move(vector);
  c.cloud_ = std::move(cloud);
  c.Compact();
  return c;
}

void CausalContext::Compact() {
  // In dot order, so a run of cloud dots that continues the vector folds in whole.
  erase_if(cloud_, [this](const Dot& d) {
    auto v = vector_.find(d.replica);
    uint64_t top = v == vector_.end() ? 0 : v->second;
    if (d.counter > top + 1) return false;
    if (d.counter == top + 1) vector_[d.replica] = d.counter;
    return true;
  });
  erase_if(vector_, [](const auto& entry) { return entry.second == 0; });
}

std::string CausalContext::ToString() const {
  std::string s = "{";
  for (const auto& [r, n] : vector_) s += std::to_string(r) + ":1.." + std::to_string(n) + " ";
  for (const Dot& d : cloud_) s += d.ToString() + " ";
  if (s.size() > 1) s.pop_back();
  return s + "}";
}

}  // namespace sb

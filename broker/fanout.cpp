#include "broker/fanout.h"

#include <algorithm>
#include <set>

#include "broker/ingest.h"
#include "conflict/codec.h"
#include "store/store.h"

namespace sb {

std::string View::Key() const {
  switch (kind) {
    case Kind::kFull:
      return "F";
    case Kind::kPartners:
      return "P";
    case Kind::kOwner:
      return "O" + org;
  }
  return "?";
}

std::vector<std::string> OwnersOf(const Delta& delta, const FanoutCache::Lookup& lookup) {
  std::set<std::string> owners;
  for (const Record& r : delta.records) {
    if (std::string o = r.Owner(); !o.empty()) owners.insert(std::move(o));
    if (const Record* cur = lookup(r.id())) {
      if (std::string o = cur->Owner(); !o.empty()) owners.insert(std::move(o));
    }
  }
  return {owners.begin(), owners.end()};
}

FanoutCache::FanoutCache(const Identity& broker, size_t max_bytes)
    : broker_(broker), max_bytes_(max_bytes) {}

std::shared_ptr<ProjectedEntry> FanoutCache::Get(const LoggedEntry& e, const View& view,
                                                 uint64_t epoch, const Lookup& lookup) {
  if (epoch != epoch_) {  // who may read what changed: nothing kept is valid any more
    slots_.clear();
    lru_.clear();
    bytes_ = 0;
    epoch_ = epoch;
  }
  std::string key = EncodeSeq(e.seq) + view.Key();
  if (auto it = slots_.find(key); it != slots_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    ++reused_;
    return it->second.value;
  }
  auto p = std::make_shared<ProjectedEntry>();
  p->entry.seq = e.seq;
  if (view.kind == View::Kind::kFull || !e.delta) {
    // Maintainers read the entry as logged; an entry that does not decode is sent empty.
    p->entry.delta = e.delta ? e.logged : proto::SignedDelta{"", e.logged.author, "", ""};
  } else {
    bool filtered = false;
    const std::string& org = view.kind == View::Kind::kOwner ? view.org : kNoOrganization;
    Delta visible = FilterFor(*e.delta, org, Role::kPartner, lookup, &filtered);
    if (!filtered) {
      p->entry.delta = e.logged;
    } else if (visible.records.empty()) {
      p->entry.delta = proto::SignedDelta{"", e.logged.author, "", ""};
    } else {
      std::string bytes = EncodeDelta(visible);
      std::string sig = Sign(broker_, bytes);
      p->entry.delta =
          proto::SignedDelta{std::move(bytes), e.logged.author, "broker", std::move(sig)};
    }
  }
  p->bytes = p->entry.delta.delta.size();
  ++made_;
  lru_.push_front(key);
  bytes_ += p->bytes * 2 + 128;  // the entry, and its single message once made
  slots_[key] = Slot{p, lru_.begin()};
  Evict();
  return p;
}

SharedBytes FanoutCache::Single(ProjectedEntry& p, uint64_t head) {
  if (!p.single) {
    p.single = std::make_shared<const std::string>(
        proto::EncodeEnvelope(proto::Updates{{p.entry}, std::max(head, p.entry.seq)}));
  }
  return p.single;
}

void FanoutCache::Evict() {
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    auto it = slots_.find(lru_.back());
    if (it != slots_.end()) {
      bytes_ -= std::min(bytes_, it->second.value->bytes * 2 + 128);
      slots_.erase(it);
    }
    lru_.pop_back();
  }
}

}  // namespace sb

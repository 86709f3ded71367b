#include "conflict/directory.h"

namespace sb {

const Record* Directory::Find(const std::string& id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

void Directory::Join(const Record& delta) {
  auto [it, inserted] = records_.try_emplace(delta.id(), delta.id(), delta.kind());
  it->second.Join(delta);
}

void Directory::Join(const Delta& delta) {
  for (const Record& r : delta.records) Join(r);
}

void Directory::Join(const Directory& other) {
  for (const auto& [id, r] : other.records_) Join(r);
}

Delta Directory::AsDelta(ReplicaId author, Hlc stamp) const {
  Delta d{author, stamp, {}};
  d.records.reserve(records_.size());
  for (const auto& [id, r] : records_) d.records.push_back(r);
  return d;
}

}  // namespace sb

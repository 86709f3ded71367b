#include "conflict/directory.h"

namespace sb {

Directory& Directory::operator=(const Directory& other) {
  if (this != &other) {
    records_ = other.records_;
    Reindex();
  }
  return *this;
}

Directory::Directory(Directory&& other) noexcept
    : records_(std::move(other.records_)), index_(std::move(other.index_)) {
  other.records_.clear();
  other.index_.Clear();
}

Directory& Directory::operator=(Directory&& other) noexcept {
  if (this != &other) {
    records_ = std::move(other.records_);
    index_ = std::move(other.index_);
    other.records_.clear();
    other.index_.Clear();
  }
  return *this;
}

void Directory::Reindex() {
  index_.Clear();
  index_.Reserve(records_.size());
  for (auto& [id, r] : records_) index_.Insert(&r);
}

const Record* Directory::Find(const std::string& id) const {
  return index_.Find(id);
}

Record& Directory::Slot(const std::string& id, const std::string& kind) {
  if (Record* r = index_.Find(id)) return *r;
  auto [node, inserted] = records_.try_emplace(id, id, kind);
  index_.Insert(&node->second);
  return node->second;
}

void Directory::Join(const Record& delta) {
  Slot(delta.id(), delta.kind()).Join(delta);
}

void Directory::Join(const Delta& delta) {
  for (const Record& r : delta.records) Join(r);
}

void Directory::Join(const Directory& other) {
  for (const auto& [id, r] : other.records_) Join(r);
}

void Directory::Replace(const Record& record) {
  Slot(record.id(), record.kind()) = record;
}

void Directory::Erase(const std::string& id) {
  index_.Erase(id);  // before the record (whose id the index reads) goes
  records_.erase(id);
}

Delta Directory::AsDelta(ReplicaId author, Hlc stamp) const {
  Delta d{author, stamp, {}};
  d.records.reserve(records_.size());
  for (const auto& [id, r] : records_) d.records.push_back(r);
  return d;
}

}  // namespace sb

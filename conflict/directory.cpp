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
  other.index_.clear();
}

Directory& Directory::operator=(Directory&& other) noexcept {
  if (this != &other) {
    records_ = std::move(other.records_);
    index_ = std::move(other.index_);
    other.records_.clear();
    other.index_.clear();
  }
  return *this;
}

void Directory::Reindex() {
  index_.clear();
  index_.reserve(records_.size());
  for (auto& [id, r] : records_) index_.emplace(id, &r);
}

const Record* Directory::Find(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

Record& Directory::Slot(const std::string& id, const std::string& kind) {
  if (auto it = index_.find(id); it != index_.end()) return *it->second;
  auto [node, inserted] = records_.try_emplace(id, id, kind);
  index_.emplace(node->first, &node->second);
  return node->second;
}

void Directory::Join(const Record& delta) { Slot(delta.id(), delta.kind()).Join(delta); }

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
  index_.erase(id);  // before the node (whose key the index views) goes
  records_.erase(id);
}

Delta Directory::AsDelta(ReplicaId author, Hlc stamp) const {
  Delta d{author, stamp, {}};
  d.records.reserve(records_.size());
  for (const auto& [id, r] : records_) d.records.push_back(r);
  return d;
}

}  // namespace sb

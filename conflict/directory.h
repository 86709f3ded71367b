// A replica's whole directory state: records by id. Joining deltas into it is the only way it
// changes. Pure and single-threaded.
#pragma once

#include <map>
#include <string>

#include "conflict/record.h"

namespace sb {

class Directory {
 public:
  const Record* Find(const std::string& id) const;
  // Joins a record delta (or whole record state) into the record with its id.
  void Join(const Record& delta);
  void Join(const Delta& delta);
  void Join(const Directory& other);
  // Replaces a record's state outright. Not a CRDT operation: only for an agent taking back
  // an edit the broker refused (the replacement still covers the refused write's dots).
  void Replace(const Record& record) { records_[record.id()] = record; }
  // Forgets a record. Also not a CRDT operation: only for an agent taking back the refused
  // creation of a record that nobody else has.
  void Erase(const std::string& id) { records_.erase(id); }

  const std::map<std::string, Record>& records() const { return records_; }
  size_t size() const { return records_.size(); }

  // The whole state as one delta: joining it elsewhere transfers everything (anti-entropy).
  Delta AsDelta(ReplicaId author, Hlc stamp) const;

  friend bool operator==(const Directory&, const Directory&) = default;

 private:
  std::map<std::string, Record> records_;
};

}  // namespace sb

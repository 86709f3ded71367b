// A replica's whole directory state: records by id. Joining deltas into it is the only way it
// changes. Pure and single-threaded.
#pragma once

#include <map>
#include <string>

#include "conflict/record.h"
#include "conflict/record_index.h"

namespace sb {

class Directory {
 public:
  Directory() = default;
  Directory(const Directory& other) : records_(other.records_) { Reindex(); }
  Directory& operator=(const Directory& other);
  Directory(Directory&& other) noexcept;
  Directory& operator=(Directory&& other) noexcept;

  const Record* Find(const std::string& id) const;
  // Joins a record delta (or whole record state) into the record with its id.
  void Join(const Record& delta);
  void Join(const Delta& delta);
  void Join(const Directory& other);
  // Replaces a record's state outright. Not a CRDT operation: only for an agent taking back
  // an edit the broker refused (the replacement still covers the refused write's dots).
  void Replace(const Record& record);
  // Forgets a record. Also not a CRDT operation: only for an agent taking back the refused
  // creation of a record that nobody else has.
  void Erase(const std::string& id);

  const std::map<std::string, Record>& records() const { return records_; }
  size_t size() const { return records_.size(); }

  // The whole state as one delta: joining it elsewhere transfers everything (anti-entropy).
  Delta AsDelta(ReplicaId author, Hlc stamp) const;

  friend bool operator==(const Directory& a, const Directory& b) {
    return a.records_ == b.records_;
  }

 private:
  // The record with this id, created empty (of `kind`) when there is none.
  Record& Slot(const std::string& id, const std::string& kind);
  void Reindex();

  std::map<std::string, Record> records_;  // in id order, for whoever lists them
  // The same records by id, hashed: every join finds its record here, not by walking the
  // tree with a string comparison per level (that walk was a third of a join's time). Map
  // nodes do not move, so the pointers hold until an erase.
  RecordIndex index_;
};

}  // namespace sb

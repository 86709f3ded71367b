// Records by id, hashed: the Directory's way to a record on every join. An open-addressing
// table (linear probing) whose slots are one cache line each and hold the id itself when it is
// short (a UUID is), so a lookup reads one slot and then only the record it found; a
// node-based std::unordered_map also read a list node, the node before it and the id's heap
// buffer, each a cache miss in a directory of thousands of records.
//
// The index does not own the records: each must stay at its address, with its id unchanged,
// until it is erased from the index. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "conflict/record.h"

namespace sb {

class RecordIndex {
 public:
  // The record with this id, or null.
  Record* Find(std::string_view id) const;
  // Adds a record; precondition: none with its id is indexed.
  void Insert(Record* record);
  // Removes the record with this id, if indexed.
  void Erase(std::string_view id);
  void Clear();
  // Makes room for `n` records without growing again.
  void Reserve(size_t n);
  size_t size() const { return size_; }

 private:
  static constexpr size_t kInlineId = 47;
  struct alignas(64) Slot {
    uint64_t hash = 0;
    Record* record = nullptr;  // null: free
    uint8_t id_size = 0;       // the id's length when held in `id`, else kInlineId + 1
    char id[kInlineId] = {};
  };

  static uint64_t Hash(std::string_view id);
  static Slot MakeSlot(uint64_t hash, Record* record);
  static bool Matches(const Slot& slot, uint64_t hash, std::string_view id);
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash) & (slots_.size() - 1); }
  size_t Next(size_t i) const { return (i + 1) & (slots_.size() - 1); }
  void Place(Slot slot);
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;  // a power of two in size (or empty), at most 3/4 full
  size_t size_ = 0;
};

}  // namespace sb

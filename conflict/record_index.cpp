#include "conflict/record_index.h"

#include <cstring>
#include <functional>
#include <utility>

namespace sb {

uint64_t RecordIndex::Hash(std::string_view id) {
  return std::hash<std::string_view>()(id);
}

RecordIndex::Slot RecordIndex::MakeSlot(uint64_t hash, Record* record) {
  Slot s;
  s.hash = hash;
  s.record = record;
  const std::string& id = record->id();
  if (id.size() <= kInlineId) {
    s.id_size = static_cast<uint8_t>(id.size());
    std::memcpy(s.id, id.data(), id.size());
  } else {
    s.id_size = kInlineId + 1;
  }
  return s;
}

bool RecordIndex::Matches(const Slot& slot, uint64_t hash, std::string_view id) {
  if (slot.hash != hash) return false;
  if (slot.id_size <= kInlineId) {
    return slot.id_size == id.size() && std::memcmp(slot.id, id.data(), id.size()) == 0;
  }
  return slot.record->id() == id;
}

Record* RecordIndex::Find(std::string_view id) const {
  if (size_ == 0) return nullptr;
  uint64_t hash = Hash(id);
  for (size_t i = Home(hash); slots_[i].record; i = Next(i)) {
    if (Matches(slots_[i], hash, id)) return slots_[i].record;
  }
  return nullptr;
}

void RecordIndex::Insert(Record* record) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Rehash(slots_.empty() ? 16 : slots_.size() * 2);
  Place(MakeSlot(Hash(record->id()), record));
  ++size_;
}

void RecordIndex::Place(Slot slot) {
  size_t i = Home(slot.hash);
  while (slots_[i].record) i = Next(i);
  slots_[i] = slot;
}

void RecordIndex::Erase(std::string_view id) {
  if (size_ == 0) return;
  uint64_t hash = Hash(id);
  size_t i = Home(hash);
  for (; slots_[i].record; i = Next(i)) {
    if (Matches(slots_[i], hash, id)) break;
  }
  if (!slots_[i].record) return;
  // Backward-shift deletion: move later slots of the run into the hole when their home lies
  // at or before it (cyclically), so every record stays reachable from its home slot.
  for (size_t j = Next(i); slots_[j].record; j = Next(j)) {
    size_t home = Home(slots_[j].hash);
    bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
  --size_;
}

void RecordIndex::Clear() {
  slots_.clear();
  size_ = 0;
}

void RecordIndex::Reserve(size_t n) {
  if (n == 0) return;
  size_t capacity = slots_.empty() ? 16 : slots_.size();
  while (n * 4 > capacity * 3) capacity *= 2;
  if (capacity != slots_.size()) Rehash(capacity);
}

void RecordIndex::Rehash(size_t capacity) {
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  for (const Slot& s : old) {
    if (s.record) Place(s);
  }
}

}  // namespace sb

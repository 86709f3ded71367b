// Sorted-vector map and set for the small containers of CRDT state: a record's fields, a
// register's entries, a context's version vector and dot cloud, a set's elements. They hold a
// handful of items each, where a node-based std::map pays an allocation per item and a pointer
// chase per step; here lookups are a binary search over contiguous memory and a whole
// container is one allocation.
//
// The interface is the subset of std::map / std::set the CRDT code uses, with their meaning
// (iteration in key order, insertion never overwrites, erase(it) returns the next item), and
// two differences a caller must respect: inserting or erasing invalidates every iterator and
// reference into the container, and both cost O(n) moves — fine for tens of items, not for
// thousands. Keys compare with a transparent std::less<>, so a std::string key can be looked
// up by std::string_view or a literal without building a string.
//
// SmallFlatMap<K, V, N> is a FlatMap that holds up to N items inside itself (a SmallVector)
// and allocates only past them, for the containers that nearly always hold one or a few. It
// converts to and from the plain FlatMap of the same K and V, and compares equal to one with
// the same items.
#pragma once

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "conflict/small_vector.h"

namespace sb {

namespace flat_internal {
// std::erase_if with the order of calls stated: once per item, front to back.
template <typename Items, typename Pred>
size_t EraseIf(Items& items, Pred& pred) {
  auto out = items.begin();
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (pred(*it)) continue;
    if (out != it) *out = std::move(*it);
    ++out;
  }
  size_t erased = static_cast<size_t>(items.end() - out);
  items.erase(out, items.end());
  return erased;
}

// Items: in a std::vector, or inline up to N (N > 0) in a SmallVector.
template <typename T, size_t N>
using FlatStorage = std::conditional_t<N == 0, std::vector<T>, SmallVector<T, N>>;
}  // namespace flat_internal

template <typename K, typename V, typename Compare = std::less<>, size_t N = 0>
class FlatMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<K, V>;
  using container_type = flat_internal::FlatStorage<value_type, N>;
  using iterator = typename container_type::iterator;
  using const_iterator = typename container_type::const_iterator;
  using size_type = size_t;

  FlatMap() = default;
  FlatMap(std::initializer_list<value_type> items) : FlatMap(items.begin(), items.end()) {}
  // As std::map's range constructor: of equal keys, the first is kept.
  template <typename It>
  FlatMap(It first, It last) : items_(first, last) {
    std::stable_sort(items_.begin(), items_.end(), KeyLess());
    items_.erase(std::unique(items_.begin(), items_.end(), KeyEqual()), items_.end());
  }
  // From a map of the same items stored otherwise (already sorted and distinct).
  template <size_t M>
  requires(M != N) FlatMap(const FlatMap<K, V, Compare, M>& other)
      : items_(other.begin(), other.end()) {}
  template <size_t M>
  requires(M != N) FlatMap(FlatMap<K, V, Compare, M>&& other)
      : items_(std::make_move_iterator(other.begin()), std::make_move_iterator(other.end())) {}

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  auto rbegin() const { return items_.rbegin(); }
  auto rend() const { return items_.rend(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void clear() { items_.clear(); }
  void reserve(size_t n) { items_.reserve(n); }

  template <typename Key>
  iterator lower_bound(const Key& key) {
    return std::lower_bound(items_.begin(), items_.end(), key, KeyLess());
  }
  template <typename Key>
  const_iterator lower_bound(const Key& key) const {
    return std::lower_bound(items_.begin(), items_.end(), key, KeyLess());
  }
  template <typename Key>
  iterator find(const Key& key) {
    auto it = lower_bound(key);
    return it != items_.end() && !Compare()(key, it->first) ? it : items_.end();
  }
  template <typename Key>
  const_iterator find(const Key& key) const {
    auto it = lower_bound(key);
    return it != items_.end() && !Compare()(key, it->first) ? it : items_.end();
  }
  template <typename Key>
  bool contains(const Key& key) const {
    return find(key) != items_.end();
  }
  template <typename Key>
  size_t count(const Key& key) const {
    return contains(key) ? 1 : 0;
  }

  // Inserts (key, V(args...)) unless the key is present; the iterator names the key's item.
  template <typename Key, typename... Args>
  std::pair<iterator, bool> try_emplace(Key&& key, Args&&... args) {
    auto it = lower_bound(key);
    if (it != items_.end() && !Compare()(key, it->first)) return {it, false};
    it = items_.emplace(it, std::piecewise_construct, std::forward_as_tuple(std::forward<Key>(key)),
                        std::forward_as_tuple(std::forward<Args>(args)...));
    return {it, true};
  }
  template <typename Key, typename Value>
  std::pair<iterator, bool> emplace(Key&& key, Value&& value) {
    return try_emplace(std::forward<Key>(key), std::forward<Value>(value));
  }
  std::pair<iterator, bool> insert(value_type item) {
    return try_emplace(std::move(item.first), std::move(item.second));
  }
  // As emplace; cheap when `hint` is where the key belongs (appending in key order).
  template <typename Key, typename Value>
  iterator emplace_hint(const_iterator hint, Key&& key, Value&& value) {
    if (hint == items_.end() && (items_.empty() || Compare()(items_.back().first, key))) {
      items_.emplace_back(std::forward<Key>(key), std::forward<Value>(value));
      return std::prev(items_.end());
    }
    return try_emplace(std::forward<Key>(key), std::forward<Value>(value)).first;
  }
  // Throws std::out_of_range when the key is absent.
  template <typename Key>
  const V& at(const Key& key) const {
    auto it = find(key);
    if (it == items_.end()) throw std::out_of_range("FlatMap::at: no such key");
    return it->second;
  }
  template <typename Key>
  V& operator[](Key&& key) {
    return try_emplace(std::forward<Key>(key)).first->second;
  }

  iterator erase(const_iterator it) { return items_.erase(it); }
  iterator erase(const_iterator first, const_iterator last) { return items_.erase(first, last); }
  template <typename Key>
  requires(!std::is_convertible_v<const Key&, const_iterator>) size_t erase(const Key& key) {
    auto it = find(key);
    if (it == items_.end()) return 0;
    items_.erase(it);
    return 1;
  }
  // Erases every item for which pred(item) holds, in one pass; returns how many. `pred` sees
  // each item once, in key order; it may change the item's value, not the container.
  template <typename Pred>
  friend size_t erase_if(FlatMap& m, Pred pred) {
    return flat_internal::EraseIf(m.items_, pred);
  }

  // Equal when the items are, however each side stores them.
  template <size_t M>
  bool operator==(const FlatMap<K, V, Compare, M>& other) const {
    return std::equal(begin(), end(), other.begin(), other.end());
  }

 private:
  struct KeyLess {
    template <typename Key>
    bool operator()(const value_type& item, const Key& key) const {
      return Compare()(item.first, key);
    }
    bool operator()(const value_type& a, const value_type& b) const {
      return Compare()(a.first, b.first);
    }
  };
  struct KeyEqual {
    bool operator()(const value_type& a, const value_type& b) const {
      return !Compare()(a.first, b.first) && !Compare()(b.first, a.first);
    }
  };

  container_type items_;  // sorted by key, keys distinct
};

template <typename K, typename V, size_t N>
using SmallFlatMap = FlatMap<K, V, std::less<>, N>;

template <typename K, typename Compare = std::less<>>
class FlatSet {
 public:
  using key_type = K;
  using value_type = K;
  using container_type = std::vector<K>;
  // Items are read-only in place: changing one could break the order.
  using iterator = typename container_type::const_iterator;
  using const_iterator = iterator;
  using size_type = size_t;

  FlatSet() = default;
  FlatSet(std::initializer_list<K> items) : FlatSet(items.begin(), items.end()) {}
  template <typename It>
  FlatSet(It first, It last) : items_(first, last) {
    std::sort(items_.begin(), items_.end(), Compare());
    items_.erase(std::unique(items_.begin(), items_.end(), Equal()), items_.end());
  }

  iterator begin() const { return items_.begin(); }
  iterator end() const { return items_.end(); }
  auto rbegin() const { return items_.rbegin(); }
  auto rend() const { return items_.rend(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void clear() { items_.clear(); }
  void reserve(size_t n) { items_.reserve(n); }

  template <typename Key>
  iterator lower_bound(const Key& key) const {
    return std::lower_bound(items_.begin(), items_.end(), key, Compare());
  }
  template <typename Key>
  iterator find(const Key& key) const {
    auto it = lower_bound(key);
    return it != items_.end() && !Compare()(key, *it) ? it : items_.end();
  }
  template <typename Key>
  bool contains(const Key& key) const {
    return find(key) != items_.end();
  }
  template <typename Key>
  size_t count(const Key& key) const {
    return contains(key) ? 1 : 0;
  }

  std::pair<iterator, bool> insert(const K& key) {
    auto it = lower_bound(key);
    if (it != items_.end() && !Compare()(key, *it)) return {it, false};
    return {items_.insert(it, key), true};
  }
  // As insert; cheap when `hint` is where the key belongs (appending in order).
  iterator insert(iterator hint, const K& key) {
    if (hint == items_.end() && (items_.empty() || Compare()(items_.back(), key))) {
      items_.push_back(key);
      return std::prev(items_.end());
    }
    return insert(key).first;
  }
  // Set union with a sorted or unsorted range.
  template <typename It>
  void insert(It first, It last) {
    size_t old = items_.size();
    items_.insert(items_.end(), first, last);
    std::sort(items_.begin() + old, items_.end(), Compare());
    std::inplace_merge(items_.begin(), items_.begin() + old, items_.end(), Compare());
    items_.erase(std::unique(items_.begin(), items_.end(), Equal()), items_.end());
  }

  iterator erase(iterator it) { return items_.erase(it); }
  iterator erase(iterator first, iterator last) { return items_.erase(first, last); }
  template <typename Key>
  requires(!std::is_convertible_v<const Key&, iterator>) size_t erase(const Key& key) {
    auto it = find(key);
    if (it == items_.end()) return 0;
    items_.erase(it);
    return 1;
  }
  // As erase_if of a FlatMap.
  template <typename Pred>
  friend size_t erase_if(FlatSet& s, Pred pred) {
    return flat_internal::EraseIf(s.items_, pred);
  }

  friend bool operator==(const FlatSet&, const FlatSet&) = default;

 private:
  struct Equal {
    bool operator()(const K& a, const K& b) const { return !Compare()(a, b) && !Compare()(b, a); }
  };

  container_type items_;  // sorted, distinct
};

}  // namespace sb

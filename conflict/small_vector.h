// A vector that holds its first N items inside itself and moves to the heap only past them:
// the storage of the CRDT containers that almost always hold one or a few items (a register's
// entries, a context's version vector), so that a record or a delta needs no allocation of its
// own for them and reading them costs no pointer chase.
//
// The interface is the subset of std::vector that FlatMap uses, with its meaning, and one
// difference a caller must respect: moving a SmallVector whose items are inline moves them one
// by one into the destination (O(N)), so pointers into the source do not follow them there as
// they would with a std::vector. Iterators are plain pointers. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace sb {

template <typename T, size_t N>
class SmallVector {
  static_assert(N > 0, "use std::vector for no inline items");
  static_assert(std::is_nothrow_move_constructible_v<T>, "moves must not throw");

 public:
  using value_type = T;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  SmallVector() noexcept {}  // user-provided: the inline storage stays uninitialized
  template <std::input_iterator It>
  SmallVector(It first, It last) {
    if constexpr (std::forward_iterator<It>)
      reserve(static_cast<size_t>(std::distance(first, last)));
    for (; first != last; ++first) emplace_back(*first);
  }
  SmallVector(const SmallVector& other) : SmallVector(other.begin(), other.end()) {}
  SmallVector(SmallVector&& other) noexcept { TakeFrom(other); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) {
      clear();
      reserve(other.size());
      std::uninitialized_copy(other.begin(), other.end(), data_);
      size_ = other.size_;
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      clear();
      Release();
      TakeFrom(other);
    }
    return *this;
  }
  ~SmallVector() {
    clear();
    Release();
  }

  iterator begin() { return data_; }
  iterator end() { return data_ + size_; }
  const_iterator begin() const { return data_; }
  const_iterator end() const { return data_ + size_; }
  const_iterator cbegin() const { return data_; }
  const_iterator cend() const { return data_ + size_; }
  reverse_iterator rbegin() { return reverse_iterator(end()); }
  reverse_iterator rend() { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const { return const_reverse_iterator(begin()); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  // True while the items are held inside the object (no heap allocation).
  bool is_inline() const { return data_ == Inline(); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  void reserve(size_t n) {
    if (n > capacity_) Reallocate(n);
  }
  void clear() {
    std::destroy(data_, data_ + size_);
    size_ = 0;
  }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) {
      // Built first: `args` may refer to an item that growing moves.
      T item(std::forward<Args>(args)...);
      Reallocate(Grown());
      return *std::construct_at(data_ + size_++, std::move(item));
    }
    return *std::construct_at(data_ + size_++, std::forward<Args>(args)...);
  }
  void push_back(const T& item) { emplace_back(item); }
  void push_back(T&& item) { emplace_back(std::move(item)); }

  template <typename... Args>
  iterator emplace(const_iterator pos, Args&&... args) {
    size_t i = static_cast<size_t>(pos - data_);
    if (i == size_) {
      emplace_back(std::forward<Args>(args)...);
      return data_ + i;
    }
    T item(std::forward<Args>(args)...);
    if (size_ == capacity_) Reallocate(Grown());
    std::construct_at(data_ + size_, std::move(data_[size_ - 1]));
    std::move_backward(data_ + i, data_ + size_ - 1, data_ + size_);
    data_[i] = std::move(item);
    ++size_;
    return data_ + i;
  }
  iterator insert(const_iterator pos, const T& item) { return emplace(pos, item); }
  iterator insert(const_iterator pos, T&& item) { return emplace(pos, std::move(item)); }

  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }
  iterator erase(const_iterator first, const_iterator last) {
    T* f = data_ + (first - data_);
    T* l = data_ + (last - data_);
    if (f == l) return f;
    T* new_end = std::move(l, data_ + size_, f);
    std::destroy(new_end, data_ + size_);
    size_ = static_cast<uint32_t>(new_end - data_);
    return f;
  }

  friend bool operator==(const SmallVector& a, const SmallVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  T* Inline() { return reinterpret_cast<T*>(inline_); }
  const T* Inline() const { return reinterpret_cast<const T*>(inline_); }
  size_t Grown() const { return std::max<size_t>(2 * capacity_, N + 1); }

  // Moves the items to a heap block of `n` (>= size) items.
  void Reallocate(size_t n) {
    T* block = std::allocator<T>().allocate(n);
    std::uninitialized_move(data_, data_ + size_, block);
    std::destroy(data_, data_ + size_);
    Release();
    data_ = block;
    capacity_ = static_cast<uint32_t>(n);
  }
  // Frees the heap block, if any (its items already destroyed); back to the inline storage.
  void Release() {
    if (!is_inline()) std::allocator<T>().deallocate(data_, capacity_);
    data_ = Inline();
    capacity_ = N;
  }
  // Precondition: this is empty and inline. Leaves `other` empty and inline.
  void TakeFrom(SmallVector& other) {
    if (other.is_inline()) {
      std::uninitialized_move(other.data_, other.data_ + other.size_, data_);
      size_ = other.size_;
      other.clear();
      return;
    }
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.data_ = other.Inline();
    other.size_ = 0;
    other.capacity_ = N;
  }

  T* data_ = Inline();
  uint32_t size_ = 0;
  uint32_t capacity_ = N;
  alignas(T) std::byte inline_[N * sizeof(T)];
};

}  // namespace sb

#pragma once
// Where the directory of fields (KvHashes: each hash's and set's FieldTable, each sorted set's
// ZIndex) keeps its memory: pools of blocks by size, one for the process, that a freed block goes
// back to. A member added after one was removed (SADD and SREM, ZADD and ZPOPMIN, a set made and
// emptied) reuses a block instead of calling the allocator: the data path allocates nothing per
// request once warm (tests/integration/alloc_test.cc). The loops share the directory (under its
// lock) and a loop's own copies of an order (KvProtocol's zcopy_) use the same pools, so they are
// the thread-safe kind. A block freed stays in its pool for the next member of its size: the
// memory of a large set deleted serves later members, it does not go back to the allocator.

#include <cstddef>
#include <functional>
#include <map>
#include <memory_resource>
#include <string>
#include <utility>

namespace pastel::kv {

// The pools (never destroyed: the directory lives as long as the process).
inline std::pmr::memory_resource* DirMemory() {
  static auto* const pools = new std::pmr::synchronized_pool_resource();
  return pools;
}

// An allocator of DirMemory without state (the maps' nodes; ZOrder's come from DirMemory itself).
template <typename T>
struct DirAllocator {
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using pointer = T*;
  using const_pointer = const T*;
  using reference = T&;
  using const_reference = const T&;
  template <typename U>
  struct rebind {
    using other = DirAllocator<U>;
  };

  DirAllocator() = default;
  template <typename U>
  DirAllocator(const DirAllocator<U>& /*other*/) {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) {
    return static_cast<T*>(DirMemory()->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) { DirMemory()->deallocate(p, n * sizeof(T), alignof(T)); }

  template <typename U>
  bool operator==(const DirAllocator<U>& /*other*/) const {
    return true;
  }
};

using DirString = std::basic_string<char, std::char_traits<char>, DirAllocator<char>>;
// A map by name (looked up by std::string_view).
template <typename T>
using DirMap = std::map<DirString, T, std::less<>, DirAllocator<std::pair<const DirString, T>>>;

}  // namespace pastel::kv

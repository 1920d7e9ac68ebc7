// ZOrder, the sorted sets' order-statistics B+tree (kv_zorder.h).

#include "kv_zorder.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "kv_dir_memory.h"

namespace pastel::kv {

namespace {

// A node's entries, counts and child pointers are moved as bytes (a score and a view, a count, a
// pointer: trivially copyable; T is the element, a pointer among them).
template <typename T>
void MoveItems(T* to, const T* from, size_t n) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (n > 0) {
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    std::memmove(static_cast<void*>(to), from, n * sizeof(T));
  }
}

}  // namespace

void ZOrder::MoveChildren(Inner* to, size_t to_at, const Inner* from, size_t from_at, size_t n) {
  MoveItems(to->count + to_at, from->count + from_at, n);
  MoveItems(to->child + to_at, from->child + from_at, n);
  MoveItems(to->key + to_at, from->key + from_at, n);
}

ZOrder::Leaf* ZOrder::NewLeaf(uint32_t cap) {
  void* p = DirMemory()->allocate(sizeof(Leaf) + cap * sizeof(ZKey), alignof(Leaf));
  Leaf* leaf = new (p) Leaf();
  leaf->cap = cap;
  std::uninitialized_default_construct_n(leaf->e(), cap);
  return leaf;
}

ZOrder::Inner* ZOrder::NewInner() {
  Inner* in = new (DirMemory()->allocate(sizeof(Inner), alignof(Inner))) Inner();
  in->leaf = false;
  return in;
}

void ZOrder::Free(Node* node) {
  if (node->leaf) {
    DirMemory()->deallocate(node, sizeof(Leaf) + node->cap * sizeof(ZKey), alignof(Leaf));
  } else {
    DirMemory()->deallocate(node, sizeof(Inner), alignof(Inner));
  }
}

void ZOrder::FreeTree(Node* node) {
  if (!node->leaf) {
    const auto* in = static_cast<const Inner*>(node);
    for (uint32_t i = 0; i < in->n; ++i) {
      FreeTree(in->child[i]);
    }
  }
  Free(node);
}

void ZOrder::clear() {
  if (root_ != nullptr) {
    FreeTree(root_);
  }
  root_ = nullptr;
  first_ = nullptr;
  last_ = nullptr;
  size_ = 0;
}

void ZOrder::swap(ZOrder& other) noexcept {
  std::swap(root_, other.root_);
  std::swap(first_, other.first_);
  std::swap(last_, other.last_);
  std::swap(size_, other.size_);
}

const ZKey& ZOrder::Min(const Node* node) {
  return node->leaf ? static_cast<const Leaf*>(node)->e()[0]
                    : static_cast<const Inner*>(node)->key[0];
}

size_t ZOrder::Count(const Node* node) {
  if (node->leaf) {
    return node->n;
  }
  const auto* in = static_cast<const Inner*>(node);
  size_t total = 0;
  for (uint32_t i = 0; i < in->n; ++i) {
    total += in->count[i];
  }
  return total;
}

uint32_t ZOrder::Route(const Inner* in, const ZKey& k) {
  // The last child whose smallest entry is not above `k` (the first when every one is).
  const ZKey* at = std::upper_bound(in->key + 1, in->key + in->n, k, ZItemLess());
  return static_cast<uint32_t>(at - in->key) - 1;
}

// --- Insert.

bool ZOrder::insert(const ZKey& k) {
  if (root_ == nullptr) {
    Leaf* leaf = NewLeaf(kLeafFirst);
    root_ = first_ = last_ = leaf;
  } else if (root_->leaf && root_->n == root_->cap && root_->cap < kLeafMax) {
    // The lone leaf doubles (it has no parent and no siblings to tell).
    auto* old = static_cast<Leaf*>(root_);
    Leaf* grown = NewLeaf(std::min(old->cap * 2, kLeafMax));
    MoveItems(grown->e(), old->e(), old->n);
    grown->n = old->n;
    Free(old);
    root_ = first_ = last_ = grown;
  }
  bool added = false;
  Node* split = Insert(root_, k, &added);
  if (split != nullptr) {
    Inner* top = NewInner();
    top->n = 2;
    top->child[0] = root_;
    top->child[1] = split;
    top->count[0] = Count(root_);
    top->count[1] = Count(split);
    top->key[0] = Min(root_);
    top->key[1] = Min(split);
    root_ = top;
  }
  size_ += added ? 1 : 0;
  return added;
}

ZOrder::Leaf* ZOrder::SplitLeaf(Leaf* left) {
  Leaf* right = NewLeaf(kLeafMax);
  const uint32_t keep = left->n / 2;
  MoveItems(right->e(), left->e() + keep, left->n - keep);
  right->n = left->n - keep;
  left->n = keep;
  right->prev = left;
  right->next = left->next;
  if (left->next != nullptr) {
    left->next->prev = right;
  } else {
    last_ = right;
  }
  left->next = right;
  return right;
}

ZOrder::Node* ZOrder::Insert(Node* node, const ZKey& k, bool* added) {
  const ZItemLess less;
  if (node->leaf) {
    auto* leaf = static_cast<Leaf*>(node);
    uint32_t at = static_cast<uint32_t>(std::lower_bound(leaf->e(), leaf->e() + leaf->n, k, less) -
                                        leaf->e());
    if (at < leaf->n && !less(k, leaf->e()[at])) {
      return nullptr;  // (there already)
    }
    *added = true;
    Leaf* right = nullptr;
    Leaf* into = leaf;
    if (leaf->n == leaf->cap) {  // (a full leaf is a full-sized one: the lone leaf grew first)
      right = SplitLeaf(leaf);
      if (at > leaf->n) {
        at -= leaf->n;
        into = right;
      }
    }
    MoveItems(into->e() + at + 1, into->e() + at, into->n - at);
    into->e()[at] = k;
    ++into->n;
    return right;
  }
  auto* in = static_cast<Inner*>(node);
  const uint32_t c = Route(in, k);
  Node* split = Insert(in->child[c], k, added);
  if (!*added) {
    return nullptr;
  }
  in->key[c] = Min(in->child[c]);
  if (split == nullptr) {
    ++in->count[c];
    return nullptr;
  }
  in->count[c] = Count(in->child[c]);
  // The new child goes in at c + 1; a full node splits first, in halves.
  Inner* right = nullptr;
  Inner* into = in;
  uint32_t at = c + 1;
  if (in->n == kInnerMax) {
    right = NewInner();
    const uint32_t keep = in->n / 2;
    right->n = in->n - keep;
    MoveChildren(right, 0, in, keep, right->n);
    in->n = keep;
    if (at > keep) {
      at -= keep;
      into = right;
    }
  }
  const uint32_t tail = into->n - at;
  MoveChildren(into, at + 1, into, at, tail);
  into->child[at] = split;
  into->count[at] = Count(split);
  into->key[at] = Min(split);
  ++into->n;
  return right;
}

// --- Erase.

bool ZOrder::erase(const ZKey& k) {
  if (root_ == nullptr || !Erase(root_, k)) {
    return false;
  }
  --size_;
  if (!root_->leaf && root_->n == 1) {
    Node* only = static_cast<Inner*>(root_)->child[0];
    Free(root_);
    root_ = only;
  } else if (root_->leaf && root_->n == 0) {
    Free(root_);
    root_ = first_ = last_ = nullptr;
  }
  return true;
}

bool ZOrder::Erase(Node* node, const ZKey& k) {
  const ZItemLess less;
  if (node->leaf) {
    auto* leaf = static_cast<Leaf*>(node);
    const auto at = static_cast<uint32_t>(
        std::lower_bound(leaf->e(), leaf->e() + leaf->n, k, less) - leaf->e());
    if (at == leaf->n || less(k, leaf->e()[at])) {
      return false;
    }
    MoveItems(leaf->e() + at, leaf->e() + at + 1, leaf->n - at - 1);
    --leaf->n;
    return true;
  }
  auto* in = static_cast<Inner*>(node);
  const uint32_t c = Route(in, k);
  Node* child = in->child[c];
  if (!Erase(child, k)) {
    return false;
  }
  --in->count[c];
  if (child->n > 0) {
    in->key[c] = Min(child);
  }
  const uint32_t least = (child->leaf ? kLeafMax : kInnerMax) / 4;
  if (child->n < least && in->n > 1) {
    Rebalance(in, c);
  }
  return true;
}

void ZOrder::Rebalance(Inner* in, uint32_t c) {
  const uint32_t l = c > 0 ? c - 1 : 0;  // the pair: children l and l + 1
  Node* left = in->child[l];
  Node* right = in->child[l + 1];
  const uint32_t cap = left->leaf ? kLeafMax : kInnerMax;
  if (left->n + right->n <= cap) {
    // Merged into the left one; the right one leaves `in`.
    if (left->leaf) {
      auto* a = static_cast<Leaf*>(left);
      auto* b = static_cast<Leaf*>(right);
      MoveItems(a->e() + a->n, b->e(), b->n);
      a->next = b->next;
      if (b->next != nullptr) {
        b->next->prev = a;
      } else {
        last_ = a;
      }
    } else {
      auto* a = static_cast<Inner*>(left);
      auto* b = static_cast<Inner*>(right);
      MoveChildren(a, a->n, b, 0, b->n);
    }
    left->n += right->n;
    in->count[l] += in->count[l + 1];
    Free(right);
    const uint32_t tail = in->n - (l + 2);
    MoveChildren(in, l + 1, in, l + 2, tail);
    --in->n;
    in->key[l] = Min(left);
    return;
  }
  // Entries move from the fuller one, so that the two hold about half each.
  const uint32_t total = left->n + right->n;
  const uint32_t want_left = total / 2;
  if (left->leaf) {
    auto* a = static_cast<Leaf*>(left);
    auto* b = static_cast<Leaf*>(right);
    if (a->n < want_left) {
      const uint32_t m = want_left - a->n;
      MoveItems(a->e() + a->n, b->e(), m);
      MoveItems(b->e(), b->e() + m, b->n - m);
      a->n += m;
      b->n -= m;
    } else {
      const uint32_t m = a->n - want_left;
      MoveItems(b->e() + m, b->e(), b->n);
      MoveItems(b->e(), a->e() + want_left, m);
      a->n -= m;
      b->n += m;
    }
  } else {
    auto* a = static_cast<Inner*>(left);
    auto* b = static_cast<Inner*>(right);
    if (a->n < want_left) {
      const uint32_t m = want_left - a->n;
      MoveChildren(a, a->n, b, 0, m);
      MoveChildren(b, 0, b, m, b->n - m);
      a->n += m;
      b->n -= m;
    } else {
      const uint32_t m = a->n - want_left;
      MoveChildren(b, m, b, 0, b->n);
      MoveChildren(b, 0, a, want_left, m);
      a->n -= m;
      b->n += m;
    }
  }
  in->count[l] = Count(left);
  in->count[l + 1] = Count(right);
  in->key[l] = Min(left);
  in->key[l + 1] = Min(right);
}

// --- Ranks.

size_t ZOrder::order_of_key(const ZKey& k) const {
  if (root_ == nullptr) {
    return 0;
  }
  size_t below = 0;
  const Node* node = root_;
  while (!node->leaf) {
    const auto* in = static_cast<const Inner*>(node);
    const uint32_t c = Route(in, k);
    for (uint32_t i = 0; i < c; ++i) {
      below += in->count[i];
    }
    node = in->child[c];
  }
  const auto* leaf = static_cast<const Leaf*>(node);
  return below + static_cast<size_t>(
                     std::lower_bound(leaf->e(), leaf->e() + leaf->n, k, ZItemLess()) - leaf->e());
}

ZOrder::const_iterator ZOrder::find_by_order(size_t r) const {
  if (r >= size_) {
    return end();
  }
  const Node* node = root_;
  while (!node->leaf) {
    const auto* in = static_cast<const Inner*>(node);
    uint32_t c = 0;
    while (r >= in->count[c]) {
      r -= in->count[c];
      ++c;
    }
    node = in->child[c];
  }
  return {this, static_cast<const Leaf*>(node), static_cast<uint32_t>(r)};
}

// --- ZMembers.

namespace {

constexpr uint64_t kMembersFirst = 8;  // slots of a new table

char* NewBytes(std::string_view m) {
  auto* bytes = static_cast<char*>(DirMemory()->allocate(std::max<size_t>(m.size(), 1), 1));
  if (!m.empty()) {
    std::memcpy(bytes, m.data(), m.size());
  }
  return bytes;
}

void FreeBytes(char* bytes, size_t len) {
  DirMemory()->deallocate(bytes, std::max<size_t>(len, 1), 1);
}

}  // namespace

uint64_t ZMembers::Hash(std::string_view m) {
  return std::hash<std::string_view>{}(m);
}

ZMembers& ZMembers::operator=(const ZMembers& other) {
  if (this == &other) {
    return *this;
  }
  clear();
  if (other.cap_ > 0) {
    Resize(other.cap_);
    for (uint64_t i = 0; i < cap_; ++i) {  // (the same slots: the same hashes and capacity)
      const Slot& s = other.slots_[i];
      if (s.bytes != nullptr) {
        slots_[i] = Slot{s.hash, s.score, NewBytes({s.bytes, s.len}), s.len};
      }
    }
    size_ = other.size_;
  }
  return *this;
}

void ZMembers::clear() {
  for (uint64_t i = 0; i < cap_; ++i) {
    if (slots_[i].bytes != nullptr) {
      FreeBytes(slots_[i].bytes, slots_[i].len);
    }
  }
  if (slots_ != nullptr) {
    DirMemory()->deallocate(slots_, cap_ * sizeof(Slot), alignof(Slot));
  }
  slots_ = nullptr;
  cap_ = 0;
  size_ = 0;
}

void ZMembers::swap(ZMembers& other) noexcept {
  std::swap(slots_, other.slots_);
  std::swap(cap_, other.cap_);
  std::swap(size_, other.size_);
}

uint64_t ZMembers::SlotOf(std::string_view m, uint64_t hash) const {
  if (cap_ == 0) {
    return cap_;
  }
  const uint64_t mask = cap_ - 1;
  for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.bytes == nullptr) {
      return cap_;
    }
    if (s.hash == hash && s.len == m.size() &&
        (m.empty() || std::memcmp(s.bytes, m.data(), m.size()) == 0)) {
      return i;
    }
  }
}

ZMembers::Found ZMembers::Lookup(std::string_view member) const {
  const uint64_t i = SlotOf(member, Hash(member));
  if (i == cap_) {
    return {};
  }
  Slot& s = slots_[i];
  return {&s.score, {s.bytes, s.len}};
}

std::string_view ZMembers::Insert(std::string_view member, double score) {
  if ((size_ + 1) * 4 > cap_ * 3) {
    Resize(cap_ == 0 ? kMembersFirst : cap_ * 2);
  }
  const uint64_t hash = Hash(member);
  const uint64_t mask = cap_ - 1;
  uint64_t i = hash & mask;
  while (slots_[i].bytes != nullptr) {
    i = (i + 1) & mask;
  }
  slots_[i] = Slot{hash, score, NewBytes(member), member.size()};
  ++size_;
  return {slots_[i].bytes, member.size()};
}

bool ZMembers::Erase(std::string_view member) {
  uint64_t hole = SlotOf(member, Hash(member));
  if (hole == cap_) {
    return false;
  }
  FreeBytes(slots_[hole].bytes, slots_[hole].len);
  // The slots after it in its run move back into the hole when their home slot allows (a slot
  // found by probing from its home must not have a free slot between its home and it).
  const uint64_t mask = cap_ - 1;
  for (uint64_t j = (hole + 1) & mask; slots_[j].bytes != nullptr; j = (j + 1) & mask) {
    const uint64_t home = slots_[j].hash & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --size_;
  if (cap_ > kMembersFirst && size_ * 8 < cap_) {
    Resize(cap_ / 2);
  }
  return true;
}

void ZMembers::Resize(uint64_t cap) {
  Slot* old = slots_;
  const uint64_t old_cap = cap_;
  slots_ = static_cast<Slot*>(DirMemory()->allocate(cap * sizeof(Slot), alignof(Slot)));
  std::uninitialized_value_construct_n(slots_, cap);
  cap_ = cap;
  const uint64_t mask = cap - 1;
  for (uint64_t i = 0; i < old_cap; ++i) {
    if (old[i].bytes != nullptr) {
      uint64_t at = old[i].hash & mask;
      while (slots_[at].bytes != nullptr) {
        at = (at + 1) & mask;
      }
      slots_[at] = old[i];
    }
  }
  if (old != nullptr) {
    DirMemory()->deallocate(old, old_cap * sizeof(Slot), alignof(Slot));
  }
}

}  // namespace pastel::kv

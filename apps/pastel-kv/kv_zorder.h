#pragma once
// ZOrder: a sorted set's (score, member) entries in order, with ranks: an order-statistics B+tree
// in memory (private to the app; ZIndex in kv_zsets.h keeps one per sorted set).
//
// Why not a binary tree: a ZADD of a member already there moves it (an erase and an insert), each a
// walk from the root. A red-black tree of 100,000 members is about 17 levels of nodes scattered in
// memory, a cache miss at most of them; that walk was a third of a durable ZADD's server time
// (bench/RESULTS.md, "ZADD and ZPOPMIN: the order as a B+tree"). Here a node holds up to 64
// entries (a leaf) or 64 children (an inner node, with each child's count and smallest entry), so
// the same set is 3 levels, and the members' bytes are compared only between equal scores.
//
// An entry views its member's bytes, which its owner keeps (ZIndex's ZMembers, below) for as long
// as the entry is in the order. An inner node's key for a child is that child's smallest entry,
// kept current as entries come and go (never a removed member's view). Nodes come from the
// directory's pools (kv_dir_memory.h): a split or a merge reuses a freed node's block, nothing is
// allocated per request once warm. A lone leaf starts small and doubles up to its full size, so a
// set of a few members costs a few entries, not a full node.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace pastel::kv {

// An order's entry: its member's bytes are kept by the order's owner.
struct ZKey {
  double score = 0;
  std::string_view member;
};
// redis-server's order: by score, then by the member's bytes (memcmp). -0 and 0 are one score.
struct ZItemLess {
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    if (a.score != b.score) {
      return a.score < b.score;
    }
    // (char_traits<char>: unsigned bytes, as memcmp)
    return std::string_view(a.member) < std::string_view(b.member);
  }
};

class ZOrder {
 public:
  static constexpr uint32_t kLeafMax = 64;   // entries of a full leaf
  static constexpr uint32_t kInnerMax = 64;  // children of a full inner node
  static constexpr uint32_t kLeafFirst = 4;  // entries of a new lone leaf

 private:
  struct Node {
    uint32_t n = 0;    // entries (a leaf) or children (an inner node)
    uint32_t cap = 0;  // a leaf's room for entries
    bool leaf = true;
  };
  struct Leaf : Node {
    Leaf* prev = nullptr;
    Leaf* next = nullptr;
    ZKey* e() { return reinterpret_cast<ZKey*>(this + 1); }  // (cap entries after the head)
    const ZKey* e() const { return reinterpret_cast<const ZKey*>(this + 1); }
  };
  struct Inner : Node {
    size_t count[kInnerMax] = {};  // entries under each child
    Node* child[kInnerMax] = {};
    ZKey key[kInnerMax];  // each child's smallest entry
  };

 public:
  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = ZKey;
    using difference_type = std::ptrdiff_t;
    using pointer = const ZKey*;
    using reference = const ZKey&;

    const_iterator() = default;
    reference operator*() const { return leaf_->e()[i_]; }
    pointer operator->() const { return &leaf_->e()[i_]; }
    const_iterator& operator++() {
      if (++i_ == leaf_->n) {
        leaf_ = leaf_->next;
        i_ = 0;
      }
      return *this;
    }
    const_iterator& operator--() {
      if (leaf_ == nullptr) {
        leaf_ = order_->last_;
        i_ = leaf_->n - 1;
      } else if (i_ > 0) {
        --i_;
      } else {
        leaf_ = leaf_->prev;
        i_ = leaf_->n - 1;
      }
      return *this;
    }
    bool operator==(const const_iterator& o) const { return leaf_ == o.leaf_ && i_ == o.i_; }

   private:
    friend class ZOrder;
    const_iterator(const ZOrder* order, const Leaf* leaf, uint32_t i)
        : order_(order), leaf_(leaf), i_(i) {}
    const ZOrder* order_ = nullptr;
    const Leaf* leaf_ = nullptr;  // null: the end
    uint32_t i_ = 0;
  };

  ZOrder() = default;
  ZOrder(const ZOrder&) = delete;
  ZOrder& operator=(const ZOrder&) = delete;
  ZOrder(ZOrder&& other) noexcept { swap(other); }
  ZOrder& operator=(ZOrder&& other) noexcept {
    swap(other);
    return *this;
  }
  ~ZOrder() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();
  void swap(ZOrder& other) noexcept;
  // Adds `k` (false, and nothing changed, when it is there).
  bool insert(const ZKey& k);
  // Removes `k` (false when it is not there).
  bool erase(const ZKey& k);
  // How many entries order before `k`.
  size_t order_of_key(const ZKey& k) const;
  // The entry at rank `r`, or end() when r >= size().
  const_iterator find_by_order(size_t r) const;
  const_iterator begin() const { return {this, first_, 0}; }
  const_iterator end() const { return {this, nullptr, 0}; }

 private:
  static Leaf* NewLeaf(uint32_t cap);
  static Inner* NewInner();
  static void Free(Node* node);
  static void FreeTree(Node* node);
  static const ZKey& Min(const Node* node);
  // n children of `from` from from_at on (their counts, pointers and smallest entries) to `to` at
  // to_at (the two may overlap: memmove).
  static void MoveChildren(Inner* to, size_t to_at, const Inner* from, size_t from_at, size_t n);
  static size_t Count(const Node* node);
  // The child of `in` whose entries `k` would be among.
  static uint32_t Route(const Inner* in, const ZKey& k);
  // Inserts under `node`: a new right sibling when `node` split, else null.
  Node* Insert(Node* node, const ZKey& k, bool* added);
  Leaf* SplitLeaf(Leaf* left);
  bool Erase(Node* node, const ZKey& k);
  // After an erase under child `c` of `in` left it under a quarter full: merged with a sibling,
  // or entries moved from one.
  void Rebalance(Inner* in, uint32_t c);

  Node* root_ = nullptr;
  Leaf* first_ = nullptr;
  Leaf* last_ = nullptr;
  size_t size_ = 0;
};

// A sorted set's members and their scores: open-addressed slots (the member's hash, its score and
// where its bytes are), found with one slot read and one look at the bytes. Each member's bytes
// are a block of the directory's pools that stays where it is while the member is in the set
// (ZOrder's entries view them); the slots move when the table grows or shrinks, the bytes do
// not. Linear probing; an erase shifts the slots after it back (no tombstones).
class ZMembers {
 public:
  ZMembers() = default;
  ZMembers(const ZMembers& other) { *this = other; }
  ZMembers& operator=(const ZMembers& other);  // (the members' bytes copied)
  ZMembers(ZMembers&& other) noexcept { swap(other); }
  ZMembers& operator=(ZMembers&& other) noexcept {
    swap(other);
    return *this;
  }
  ~ZMembers() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();
  void swap(ZMembers& other) noexcept;
  // A member found: its score (valid until the next insert or erase; null when the member is not
  // there) and the view of its bytes that stays valid until it is erased.
  struct Found {
    double* score = nullptr;
    std::string_view member;
  };
  Found Lookup(std::string_view member) const;
  // Adds the member at `score` (it must not be there): the view of its bytes that stays valid
  // until it is erased.
  std::string_view Insert(std::string_view member, double score);
  // Removes the member (the bytes that viewed it are freed): false when it is not there.
  bool Erase(std::string_view member);
  // Visits every member and its score, in no particular order, until `fn` returns false.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (uint64_t i = 0; i < cap_; ++i) {
      if (slots_[i].bytes != nullptr &&
          !fn(std::string_view(slots_[i].bytes, slots_[i].len), slots_[i].score)) {
        return;
      }
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    double score = 0;
    char* bytes = nullptr;  // null: free
    uint64_t len = 0;
  };
  static uint64_t Hash(std::string_view m);
  uint64_t SlotOf(std::string_view m, uint64_t hash) const;  // its slot, or cap_ when absent
  void Resize(uint64_t cap);  // into `cap` slots (a power of two), every member placed again

  Slot* slots_ = nullptr;  // cap_ slots (a power of two, at most 3/4 used), or null
  uint64_t cap_ = 0;
  size_t size_ = 0;
};

}  // namespace pastel::kv

#pragma once
// index: a persistent, crash-consistent B+tree (pastel-kv's and pastel-httpd's checkpointed key
// index), in its own file next to the pool (POOL.index).
//
// Keys are byte strings of 1..kBTreeMaxKey bytes, ordered by memcmp; values are byte strings of up
// to kBTreeMaxValue bytes (the store keeps there a value's extents in pool buffers, never the value
// itself). A value is kept in its leaf entry when BTreeInlineValue says so (at most kBTreeMaxInline
// bytes, and with its key at most kBTreeMaxInlineEntry); a longer one lives in a chain of overflow
// pages.
//
// Crash consistency by copy-on-write (shadow paging): the file is an array of 4 KiB pages; page 0
// holds two superblock slots, each naming a root page and the commit epoch that wrote it. Between
// two commits, Put and Erase never write a page reachable from the committed root: the first
// change of such a page in an epoch copies it to a free page (and its parent, up to the root), and
// later changes of the copy are made in place. Commit flushes every page written in the epoch,
// fences, then writes the superblock slot of the next epoch and fences again. A crash at any point
// leaves the tree of the last completed Commit; pages written since are unreachable and free at
// the next Open. A page a commit superseded is reused only after that commit completed.
// See docs/formats/index.md and docs/invariants.md.
//
// Free space is not stored: Open walks the committed tree (verifying every reachable page's
// checksum and structure), and every page it does not reach is free. There is no minimum fill:
// an emptied leaf leaves its parent, and a root with one child gives way to it.
//
// Errors: Open reports a damaged file as kCorruption and never trusts an unverified byte (it is a
// fuzz target). Put returns kNoSpace when the file has no free page left (the tree is unchanged),
// kInvalidArgument for an empty or too long key or value; Puts leave room for an Erase, so that a
// full tree can always shrink. A failed flush or fence makes the tree
// read-only for good (kReadOnly from then on).
//
// Threads: none inside. A BTree is used by one thread at a time, or under the caller's lock
// (readers of Get and Scan may share it; Put, Erase and Commit need it alone).

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/pm.h"
#include "pastel/status.h"

namespace pastel {

inline constexpr size_t kBTreePageSize = 4096;
// The longest key. It must hold every key the store's log can hold (the store asserts it): a key
// the log took and the tree refused would stop every checkpoint, and with it log truncation.
inline constexpr size_t kBTreeMaxKey = 1024;
inline constexpr size_t kBTreeMaxInline = 512;        // longer values go to overflow pages
inline constexpr size_t kBTreeMaxInlineEntry = 1280;  // key + inline value bytes at most
// Whether a value of `value_len` bytes under a key of `key_len` bytes is kept in its leaf entry
// (else in overflow pages). For keys of up to 512 bytes this is value_len <= kBTreeMaxInline, as in
// files written before keys could be longer.
constexpr bool BTreeInlineValue(size_t key_len, size_t value_len) {
  return value_len <= kBTreeMaxInline && key_len + value_len <= kBTreeMaxInlineEntry;
}
inline constexpr size_t kBTreeMaxValue = 1 << 20;
inline constexpr size_t kBTreeUserWords = 4;

struct BTreeStats {
  uint64_t epoch = 0;         // last completed commit (0: formatted, never committed)
  uint64_t entries = 0;       // keys in the tree as it is now (committed or not)
  uint32_t height = 0;        // 0: empty, 1: the root is a leaf
  uint64_t pages = 0;         // pages of the file, superblock page included
  uint64_t pages_in_use = 0;  // reachable from the current root, or awaiting reuse after a commit
  uint64_t dirty_pages = 0;   // written since the last commit
};

class BTree {
 public:
  using User = std::array<uint64_t, kBTreeUserWords>;
  using Owner = std::array<uint8_t, 16>;

  // The file that goes with a pool file.
  static std::string PathForPool(const std::string& pool_path) { return pool_path + ".index"; }

  // Writes the superblocks of an empty tree of epoch 0 into `region` (a multiple of the page
  // size, at least two pages), naming `owner` (the pool's uuid).
  // PERSIST: before, nothing of the region is a tree; after it returns OK, an empty tree is
  // durable.
  static Status Format(uint8_t* region, uint64_t len, const Owner& owner, PersistOps& ops);
  // When the committed tree is verified (every page reached from the root: checksum, header,
  // key order and ranges, entry count): at Attach (kNow), or later by FinishVerify (kLater: a
  // start that serves before it has read the whole file). Until then every read checks each page
  // it reaches (checksum, header) before using it, and a page that fails stops the process with
  // its page number; nothing may be written (AllocPage refuses).
  enum class Check : uint8_t { kNow, kLater };
  // Reads the superblocks of `region` (kCorruption names the first problem) and takes the
  // committed tree over, verified as `check` says; the region and `ops` must outlive the tree.
  static Result<std::unique_ptr<BTree>> Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                               Check check = Check::kNow);
  // Creates `path` (0600, must not exist) of `size` bytes (rounded up to pages) with an empty tree.
  static Result<std::unique_ptr<BTree>> Create(const std::string& path, uint64_t size,
                                               const Owner& owner, const PmOpenOptions& o = {});
  static Result<std::unique_ptr<BTree>> Open(const std::string& path, const PmOpenOptions& o = {},
                                             Check check = Check::kNow);
  // Verifies a tree attached with Check::kLater (kCorruption names the first problem; the tree
  // then stays unverified). May run on another thread than the readers, while nothing writes the
  // tree. OK at once when already verified.
  Status FinishVerify();
  bool verified() const { return !unverified_.load(std::memory_order_acquire); }

  ~BTree();
  BTree(const BTree&) = delete;
  BTree& operator=(const BTree&) = delete;

  // Inserts or replaces. Durable only after the next Commit.
  Status Put(std::string_view key, std::string_view value);
  struct KeyValue {
    std::string_view key;
    std::string_view value;
  };
  // As Put for each entry, in order; the keys must increase strictly. The entries that land in
  // one leaf are put with one copy, decode and encode of it (a leaf that would overflow, and a
  // value kept in overflow pages, go through Put). Stops at the first failure, with *done set to
  // the entries put (all of them when it returns OK). Durable only after the next Commit.
  Status PutSorted(std::span<const KeyValue> entries, size_t* done);
  // Removes `key`; *erased (when given) says whether it was there. Durable after the next Commit.
  Status Erase(std::string_view key, bool* erased = nullptr);
  // The value of `key` as the tree is now (committed or not), copied into *value.
  bool Get(std::string_view key, std::string* value) const;
  // Visits the entries with key >= `start` in key order until `fn` returns false.
  void Scan(std::string_view start,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // Makes the tree as it is now, and `user` (the caller's words: the store keeps its checkpoint
  // there), the committed state.
  // PERSIST: before, a crash leaves the previous commit; after it returns OK, this one. Between
  // the two fences a crash leaves either, never a mix.
  Status Commit(const User& user);

  const User& user() const { return user_; }  // as of the last commit
  uint64_t epoch() const { return epoch_; }   // of the last commit (0: never committed)
  uint64_t entries() const { return entries_; }
  uint32_t height() const { return height_; }
  const Owner& owner() const { return owner_; }
  BTreeStats Stats() const;
  bool read_only() const { return !failed_.ok(); }
  // The backing file, when the tree was created or opened from one.
  const PmFile* file() const { return file_ ? &*file_ : nullptr; }

 private:
  BTree() = default;
  struct Item;  // a decoded entry (btree.cc)
  struct PathStep {
    uint32_t page;
    uint32_t slot;
  };
  enum class PageState : uint8_t { kFree, kLive, kDirty, kRetired };

  uint8_t* Page(uint32_t n) const { return region_ + static_cast<uint64_t>(n) * kBTreePageSize; }
  Status Verify();  // the committed tree as epoch_, root_, height_, entries_ name it
  // Page n for a read: while unverified, checks it first (once per page; CheckRead).
  const uint8_t* Read(uint32_t n) const {
    if (unverified_.load(std::memory_order_acquire)) {
      CheckRead(n);
    }
    return Page(n);
  }
  void CheckRead(uint32_t n) const;
  Result<uint32_t> AllocPage();
  void FreePage(uint32_t n);
  uint32_t FreeCount() const { return static_cast<uint32_t>(free_.size()); }
  // Copies page n to a fresh page when it belongs to the committed tree; returns the page to write.
  Result<uint32_t> Writable(uint32_t n);
  // Descends to the leaf of `key`, making every page of the path writable (copies of committed
  // pages, their parents pointed at the copies); path_ gets the inner pages and slots, root first.
  // Returns the leaf.
  Result<uint32_t> WritablePath(std::string_view key);
  // The leaf whose key range holds `key`, read only (the tree must not be empty).
  uint32_t LeafOf(std::string_view key) const;
  void Decode(uint32_t page, std::vector<Item>* items) const;
  // Writes `items` [begin, end) as a node of `kind`/`level` into page n.
  void Encode(uint32_t n, uint8_t kind, uint8_t level, const std::vector<Item>& items, size_t begin,
              size_t end);
  static size_t ItemsBytes(const std::vector<Item>& items, size_t begin, size_t end, bool leaf);
  // Where to split items that do not fit one node.
  static size_t SplitPoint(const std::vector<Item>& items, bool leaf);
  // The bytes a leaf entry under `key` stores for `value`: the value itself, or (not
  // BTreeInlineValue) a reference, written to `ref`, to the overflow pages it was copied to.
  Result<std::string_view> StoreValue(std::string_view key, std::string_view value, char* ref);
  void FreeValue(const Item& it);
  // Gathers the overflow chain of a leaf entry's reference into *out.
  std::string_view ReadOverflow(const uint8_t* ref, std::string* out) const;
  Status Fail(Status st);

  std::optional<PmFile> file_;
  uint8_t* region_ = nullptr;
  uint64_t pages_ = 0;
  PersistOps* ops_ = nullptr;
  uint64_t epoch_ = 0;
  uint32_t root_ = 0;
  uint32_t height_ = 0;
  uint64_t entries_ = 0;
  User user_{};
  Owner owner_{};
  std::vector<PageState> state_;
  // Check::kLater until FinishVerify: set, and checked_[n] says page n passed CheckRead.
  std::atomic<bool> unverified_{false};
  std::unique_ptr<std::atomic<uint8_t>[]> checked_;
  std::vector<uint32_t> free_;     // free pages, lowest last
  std::vector<uint32_t> dirty_;    // pages allocated since the last commit (some freed again)
  std::vector<uint32_t> retired_;  // committed pages superseded since the last commit
  std::vector<Item> items_;        // scratch of Put and Erase
  std::vector<PathStep> path_;
  char sep_scratch_[2][kBTreeMaxKey];  // separators moving up a split
  Status failed_;
};

}  // namespace pastel

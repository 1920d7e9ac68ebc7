#pragma once
// The byte layout of an index file (docs/formats/index.md). Little-endian, as the CPU stores it.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "pastel/index.h"

namespace pastel {

inline constexpr char kBTreeMagic[8] = {'P', 'A', 'S', 'T', 'E', 'L', 'I', 'X'};
inline constexpr uint32_t kBTreeVersion = 1;
inline constexpr uint64_t kBTreeSuperSlotOffset[2] = {0, 256};  // both in page 0
inline constexpr uint32_t kBTreeNodeMagic = 0x4E585050;         // "PPXN"
inline constexpr uint8_t kBTreeLeaf = 1;
inline constexpr uint8_t kBTreeInner = 2;
inline constexpr uint8_t kBTreeOverflow = 3;
inline constexpr uint32_t kBTreeMaxHeight = 32;
inline constexpr uint16_t kBTreeValOverflow = 0x8000;  // in a leaf entry's val_len
inline constexpr size_t kBTreeOverflowRef = 8;         // first page u32, total length u32

// The highest epoch a commit may write. A slot of a higher epoch is invalid: otherwise a commit
// after an epoch of 2^64-1 would wrap to 0, land in the other slot with the lower epoch, and be
// lost at the next open (found by btree_open_fuzz). 2^63 commits are never reached by a writer;
// only a damaged or hostile file holds such an epoch, and a tree at it refuses to commit.
inline constexpr uint64_t kBTreeMaxEpoch = uint64_t{1} << 63;

// One superblock slot; the valid slot of the higher epoch is in force. Epoch e is written to
// slot e % 2.
struct BTreeSuper {
  char magic[8];                   // 0: kBTreeMagic
  uint32_t version;                // 8: kBTreeVersion
  uint32_t page_size;              // 12: kBTreePageSize
  uint64_t page_count;             // 16: pages in the file (the file is exactly this long)
  uint64_t epoch;                  // 24: the commit that wrote this slot (0: formatted)
  uint32_t root;                   // 32: root page, 0 when the tree is empty
  uint32_t height;                 // 36: levels; 0 iff root == 0
  uint64_t entries;                // 40: keys in the tree
  uint8_t owner[16];               // 48: uuid of the pool the index belongs to
  uint64_t user[kBTreeUserWords];  // 64: the caller's words
  uint8_t reserved[28];            // 96: must be 0
  uint32_t checksum;               // 124: crc32c of bytes [0, 124)
};
static_assert(sizeof(BTreeSuper) == 128);
static_assert(offsetof(BTreeSuper, epoch) == 24);
static_assert(offsetof(BTreeSuper, root) == 32);
static_assert(offsetof(BTreeSuper, owner) == 48);
static_assert(offsetof(BTreeSuper, user) == 64);
static_assert(offsetof(BTreeSuper, checksum) == 124);
inline constexpr size_t kBTreeSuperChecksummed = offsetof(BTreeSuper, checksum);

// The header of every page after page 0.
struct BTreeNode {
  uint32_t magic;     // 0: kBTreeNodeMagic
  uint8_t kind;       // 4: kBTreeLeaf, kBTreeInner or kBTreeOverflow
  uint8_t level;      // 5: 0 for leaves and overflow pages, a child's level + 1 for inner nodes
  uint16_t count;     // 6: entries (overflow: payload bytes)
  uint64_t epoch;     // 8: the commit that wrote the page (1..the superblock's epoch)
  uint32_t self;      // 16: this page's number
  uint32_t next;      // 20: overflow: the next page of the chain, 0 at its end; else 0
  uint32_t reserved;  // 24: must be 0
  uint32_t checksum;  // 28: crc32c of the page with this field read as 0
};
static_assert(sizeof(BTreeNode) == 32);
static_assert(offsetof(BTreeNode, epoch) == 8);
static_assert(offsetof(BTreeNode, checksum) == 28);
inline constexpr size_t kBTreeNodeHeader = sizeof(BTreeNode);
inline constexpr size_t kBTreeOverflowPayload = kBTreePageSize - kBTreeNodeHeader;

// After the header of a leaf or inner node: `count` uint16 slot offsets (in key order), then free
// space, then the entries, packed towards the end of the page. An entry at offset o:
//   uint16 key_len, uint16 val_len, key bytes, then
//   leaf:  val_len bytes of value; with kBTreeValOverflow set, 8 bytes instead (first overflow
//          page, total length) and the low 15 bits are 0;
//   inner: uint32 child page. Entry 0 of an inner node has key_len 0 (below every key); entry i
//          > 0 holds the smallest key of child i's subtree or less, and more than every key of
//          child i - 1's subtree.
inline constexpr size_t kBTreeEntryHeader = 4;
inline constexpr size_t kBTreeSlot = 2;
inline constexpr size_t kBTreeNodeSpace = kBTreePageSize - kBTreeNodeHeader;
// The largest entry (with its slot): an inline value with its key, a longest key with an overflow
// reference, or a longest separator with its child. A node of three always fits, so a split of an
// overfull node at its byte midpoint leaves two nodes that fit.
inline constexpr size_t kBTreeMaxEntry =
    kBTreeSlot + kBTreeEntryHeader +
    std::max(kBTreeMaxInlineEntry, kBTreeMaxKey + std::max<size_t>(kBTreeOverflowRef, 4));
static_assert(3 * kBTreeMaxEntry <= kBTreeNodeSpace);
static_assert(kBTreeMaxKey <= kBTreeMaxInlineEntry);
static_assert(kBTreeMaxKey < 0x10000 && kBTreeMaxInline < kBTreeValOverflow);

}  // namespace pastel

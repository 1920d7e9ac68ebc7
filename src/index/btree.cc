#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "index/btree_format.h"
#include "pastel/crc32c.h"
#include "pastel/index.h"

namespace pastel {

// A decoded entry of a node; views point into pages or into the caller's bytes.
struct BTree::Item {
  std::string_view key;
  std::string_view val;  // leaf: the stored bytes (the value, or the overflow reference)
  uint32_t child = 0;    // inner
  bool overflow = false;
};

namespace {

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void Store16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, sizeof v);
}
void Store32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}

BTreeNode Header(const uint8_t* page) {
  BTreeNode h;
  std::memcpy(&h, page, sizeof h);
  return h;
}

uint32_t NodeChecksum(const uint8_t* page) {
  static constexpr uint8_t kZero[4] = {};
  uint32_t crc = Crc32cExtend(0, page, offsetof(BTreeNode, checksum));
  crc = Crc32cExtend(crc, kZero, sizeof kZero);
  return Crc32cExtend(crc, page + kBTreeNodeHeader, kBTreePageSize - kBTreeNodeHeader);
}

// Entry i of a verified node.
struct Entry {
  std::string_view key;
  uint16_t val_len;
  const uint8_t* body;  // after the key
};
Entry EntryAt(const uint8_t* page, uint32_t i) {
  const uint16_t off = Load16(page + kBTreeNodeHeader + i * kBTreeSlot);
  const uint8_t* e = page + off;
  Entry out;
  out.key = {reinterpret_cast<const char*>(e + kBTreeEntryHeader), Load16(e)};
  out.val_len = Load16(e + 2);
  out.body = e + kBTreeEntryHeader + out.key.size();
  return out;
}
uint16_t Count(const uint8_t* page) {
  return Load16(page + offsetof(BTreeNode, count));
}

// The child slot of an inner node whose subtree holds `key`: the last entry with key <= `key`
// (entry 0 stands below every key).
uint32_t ChildSlot(const uint8_t* page, std::string_view key) {
  uint32_t lo = 1;
  uint32_t hi = Count(page);
  while (lo < hi) {  // first entry > key in [1, count)
    const uint32_t mid = lo + (hi - lo) / 2;
    if (EntryAt(page, mid).key <= key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo - 1;
}
// The first slot of a leaf whose key is >= `key`; *found when equal.
uint32_t LeafSlot(const uint8_t* page, std::string_view key, bool* found) {
  uint32_t lo = 0;
  uint32_t hi = Count(page);
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (EntryAt(page, mid).key < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = lo < Count(page) && EntryAt(page, lo).key == key;
  return lo;
}

size_t EntryBytes(const std::string_view key, size_t body) {
  return kBTreeSlot + kBTreeEntryHeader + key.size() + body;
}

BTreeSuper MakeSuper(uint64_t pages, uint64_t epoch, uint32_t root, uint32_t height,
                     uint64_t entries, const BTree::Owner& owner, const BTree::User& user) {
  BTreeSuper sb;
  std::memset(&sb, 0, sizeof sb);
  std::memcpy(sb.magic, kBTreeMagic, sizeof sb.magic);
  sb.version = kBTreeVersion;
  sb.page_size = kBTreePageSize;
  sb.page_count = pages;
  sb.epoch = epoch;
  sb.root = root;
  sb.height = height;
  sb.entries = entries;
  std::memcpy(sb.owner, owner.data(), sizeof sb.owner);
  std::memcpy(sb.user, user.data(), sizeof sb.user);
  sb.checksum = Crc32c(&sb, kBTreeSuperChecksummed);
  return sb;
}

// Why slot bytes are not a superblock of a file of `pages` pages ("" when they are).
std::string SuperProblem(const BTreeSuper& sb, uint64_t pages) {
  if (std::memcmp(sb.magic, kBTreeMagic, sizeof sb.magic) != 0) {
    return "bad magic";
  }
  if (sb.checksum != Crc32c(&sb, kBTreeSuperChecksummed)) {
    return "checksum mismatch";
  }
  if (sb.version != kBTreeVersion) {
    return "version " + std::to_string(sb.version) + " (this build reads " +
           std::to_string(kBTreeVersion) + ")";
  }
  if (sb.page_size != kBTreePageSize) {
    return "page size " + std::to_string(sb.page_size);
  }
  if (sb.epoch > kBTreeMaxEpoch) {
    return "epoch " + std::to_string(sb.epoch) + " above 2^63";
  }
  if (sb.page_count != pages) {
    return "page count " + std::to_string(sb.page_count) + " but the file has " +
           std::to_string(pages);
  }
  if ((sb.root == 0) != (sb.height == 0) || sb.root >= pages || sb.height > kBTreeMaxHeight) {
    return "root " + std::to_string(sb.root) + " height " + std::to_string(sb.height);
  }
  for (uint8_t b : sb.reserved) {
    if (b != 0) {
      return "reserved bytes are not 0";
    }
  }
  return "";
}

}  // namespace

BTree::~BTree() = default;

Status BTree::Fail(Status st) {
  if (failed_.ok()) {
    failed_ = Status::ReadOnly("index: " + st.ToString());
  }
  return failed_;
}

Status BTree::Format(uint8_t* region, uint64_t len, const Owner& owner, PersistOps& ops) {
  if (len % kBTreePageSize != 0 || len < 2 * kBTreePageSize || len / kBTreePageSize > UINT32_MAX) {
    return Status::InvalidArgument("index size must be a multiple of 4096 of at least 8192 bytes");
  }
  const BTreeSuper sb = MakeSuper(len / kBTreePageSize, 0, 0, 0, 0, owner, User{});
  std::memset(region, 0, kBTreePageSize);
  std::memcpy(region + kBTreeSuperSlotOffset[0], &sb, sizeof sb);
  // PERSIST: before, page 0 holds no valid superblock; after, the empty tree of epoch 0 is
  // durable.
  return ops.Persist(region, kBTreePageSize);
}

Result<std::unique_ptr<BTree>> BTree::Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                             Check check) {
  if (len % kBTreePageSize != 0 || len < 2 * kBTreePageSize || len / kBTreePageSize > UINT32_MAX) {
    return Status::Corruption("index: file size " + std::to_string(len) +
                              " is not a whole number of pages (at least two)");
  }
  const uint64_t pages = len / kBTreePageSize;
  BTreeSuper slots[2];
  std::string problems[2];
  int best = -1;
  for (int s = 0; s < 2; ++s) {
    std::memcpy(&slots[s], region + kBTreeSuperSlotOffset[s], sizeof slots[s]);
    problems[s] = SuperProblem(slots[s], pages);
    if (problems[s].empty() && (best < 0 || slots[s].epoch > slots[best].epoch)) {
      best = s;
    }
  }
  if (best < 0) {
    return Status::Corruption("index: no valid superblock (slot 0: " + problems[0] +
                              "; slot 1: " + problems[1] + ")");
  }
  if (slots[best].epoch % 2 != static_cast<uint64_t>(best)) {
    return Status::Corruption("index: superblock of epoch " + std::to_string(slots[best].epoch) +
                              " in slot " + std::to_string(best));
  }
  std::unique_ptr<BTree> t(new BTree());
  t->region_ = region;
  t->pages_ = pages;
  t->ops_ = &ops;
  const BTreeSuper& sb = slots[best];
  t->epoch_ = sb.epoch;
  t->root_ = sb.root;
  t->height_ = sb.height;
  t->entries_ = sb.entries;
  std::memcpy(t->owner_.data(), sb.owner, t->owner_.size());
  std::memcpy(t->user_.data(), sb.user, sizeof sb.user);
  if (check == Check::kLater) {
    // Reads check each page they reach until FinishVerify has walked the whole tree.
    t->checked_ = std::make_unique<std::atomic<uint8_t>[]>(pages);
    t->unverified_.store(true, std::memory_order_release);
    return t;
  }
  PASTEL_RETURN_IF_ERROR(t->Verify());
  return t;
}

Status BTree::FinishVerify() {
  if (!unverified_.load(std::memory_order_acquire)) {
    return Status::Ok();
  }
  PASTEL_RETURN_IF_ERROR(Verify());
  unverified_.store(false, std::memory_order_release);
  return Status::Ok();
}

Status BTree::Verify() {
  state_.assign(pages_, PageState::kFree);
  state_[0] = PageState::kLive;

  auto bad = [](uint32_t page, const std::string& what) {
    return Status::Corruption("index: page " + std::to_string(page) + ": " + what);
  };
  // Claims page n for the committed tree after checking its header and checksum.
  auto claim = [&](uint32_t n, uint8_t kind, uint8_t level) -> Status {
    if (n == 0 || n >= pages_) {
      return Status::Corruption("index: a reference to page " + std::to_string(n) + " of " +
                                std::to_string(pages_));
    }
    if (state_[n] != PageState::kFree) {
      return bad(n, "reached twice");
    }
    state_[n] = PageState::kLive;
    const uint8_t* p = Page(n);
    const BTreeNode h = Header(p);
    if (h.magic != kBTreeNodeMagic) {
      return bad(n, "bad magic");
    }
    if (h.checksum != NodeChecksum(p)) {
      return bad(n, "checksum mismatch");
    }
    if (h.self != n || h.kind != kind || h.level != level || h.reserved != 0 || h.epoch == 0 ||
        h.epoch > epoch_ || (kind != kBTreeOverflow && h.next != 0)) {
      return bad(n, "header does not fit its place (kind " + std::to_string(h.kind) + ", level " +
                        std::to_string(h.level) + ", self " + std::to_string(h.self) + ", epoch " +
                        std::to_string(h.epoch) + ")");
    }
    return Status::Ok();
  };

  if (root_ == 0) {
    if (entries_ != 0) {
      return Status::Corruption("index: empty tree with " + std::to_string(entries_) + " entries");
    }
  } else {
    struct Frame {
      uint32_t page;
      uint8_t level;
      bool has_lo, has_hi;
      std::string_view lo, hi;
    };
    std::vector<Frame> stack;
    stack.push_back({root_, static_cast<uint8_t>(height_ - 1), false, false, {}, {}});
    uint64_t entries = 0;
    while (!stack.empty()) {
      const Frame f = stack.back();
      stack.pop_back();
      const bool leaf = f.level == 0;
      PASTEL_RETURN_IF_ERROR(claim(f.page, leaf ? kBTreeLeaf : kBTreeInner, f.level));
      const uint8_t* p = Page(f.page);
      const uint32_t count = Count(p);
      if (count == 0 || kBTreeNodeHeader + count * kBTreeSlot > kBTreePageSize) {
        return bad(f.page, "entry count " + std::to_string(count));
      }
      const size_t entries_begin = kBTreeNodeHeader + count * kBTreeSlot;
      size_t node_bytes = 0;  // what the entries take when written out again (Encode)
      std::string_view prev;
      for (uint32_t i = 0; i < count; ++i) {
        const uint16_t off = Load16(p + kBTreeNodeHeader + i * kBTreeSlot);
        if (off < entries_begin || off + kBTreeEntryHeader > kBTreePageSize) {
          return bad(f.page, "entry " + std::to_string(i) + " at offset " + std::to_string(off));
        }
        const uint16_t key_len = Load16(p + off);
        const uint16_t val_len = Load16(p + off + 2);
        size_t body = 0;
        if (leaf) {
          const bool ovf = (val_len & kBTreeValOverflow) != 0;
          if (ovf && val_len != kBTreeValOverflow) {
            return bad(f.page,
                       "entry " + std::to_string(i) + " value length " + std::to_string(val_len));
          }
          body = ovf ? kBTreeOverflowRef : val_len;
          if (key_len == 0 || key_len > kBTreeMaxKey ||
              (!ovf && !BTreeInlineValue(key_len, val_len))) {
            return bad(f.page, "entry " + std::to_string(i) + " key length " +
                                   std::to_string(key_len) + " value length " +
                                   std::to_string(val_len));
          }
        } else {
          body = 4;
          if ((key_len == 0) != (i == 0) || key_len > kBTreeMaxKey || val_len != 0) {
            return bad(f.page, "inner entry " + std::to_string(i) + " key length " +
                                   std::to_string(key_len));
          }
        }
        if (off + kBTreeEntryHeader + key_len + body > kBTreePageSize) {
          return bad(f.page, "entry " + std::to_string(i) + " runs past the page");
        }
        // Entries may not overlap: together they must fit a node, as Put and Erase rewrite it.
        node_bytes += kBTreeSlot + kBTreeEntryHeader + key_len + body;
        if (node_bytes > kBTreeNodeSpace) {
          return bad(f.page, "entries take more than a page (they overlap)");
        }
        const Entry e = EntryAt(p, i);
        if (i > 0 && e.key <= prev) {
          return bad(f.page, "keys out of order at entry " + std::to_string(i));
        }
        if ((leaf || i > 0) && ((f.has_lo && e.key < f.lo) || (f.has_hi && e.key >= f.hi))) {
          return bad(f.page, "entry " + std::to_string(i) + " outside its parent's key range");
        }
        prev = e.key;
        if (!leaf) {
          Frame c;
          c.page = Load32(e.body);
          c.level = static_cast<uint8_t>(f.level - 1);
          c.has_lo = i > 0 || f.has_lo;
          c.lo = i > 0 ? e.key : f.lo;
          if (i + 1 < count) {
            c.has_hi = true;
            c.hi = EntryAt(p, i + 1).key;
          } else {
            c.has_hi = f.has_hi;
            c.hi = f.hi;
          }
          stack.push_back(c);
          continue;
        }
        if (val_len != kBTreeValOverflow) {
          continue;
        }
        const uint32_t total = Load32(e.body + 4);
        if (BTreeInlineValue(key_len, total) || total > kBTreeMaxValue) {
          return bad(f.page,
                     "entry " + std::to_string(i) + " overflow length " + std::to_string(total));
        }
        uint64_t seen = 0;
        for (uint32_t o = Load32(e.body); o != 0;) {
          PASTEL_RETURN_IF_ERROR(claim(o, kBTreeOverflow, 0));
          const BTreeNode h = Header(Page(o));
          if (h.count == 0 || h.count > kBTreeOverflowPayload) {
            return bad(o, "overflow payload " + std::to_string(h.count));
          }
          seen += h.count;
          o = h.next;
        }
        if (seen != total) {
          return bad(f.page, "entry " + std::to_string(i) + " overflow chain holds " +
                                 std::to_string(seen) + " of " + std::to_string(total) + " bytes");
        }
      }
      if (leaf) {
        entries += count;
      }
    }
    if (entries != entries_) {
      return Status::Corruption("index: the tree holds " + std::to_string(entries) +
                                " entries, its superblock says " + std::to_string(entries_));
    }
  }
  free_.clear();
  for (uint64_t n = pages_ - 1; n >= 1; --n) {
    if (state_[n] == PageState::kFree) {
      free_.push_back(static_cast<uint32_t>(n));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<BTree>> BTree::Create(const std::string& path, uint64_t size,
                                             const Owner& owner, const PmOpenOptions& o) {
  size = (size + kBTreePageSize - 1) / kBTreePageSize * kBTreePageSize;
  Result<PmFile> f = PmFile::Create(path, size, o);
  if (!f.ok()) {
    return f.status();
  }
  Status st = Format(f->data(), f->size(), owner, f->ops());
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  PmFile& file = f.value();
  Result<std::unique_ptr<BTree>> t = Attach(file.data(), file.size(), file.ops());
  if (!t.ok()) {
    ::unlink(path.c_str());
    return t;
  }
  (*t)->file_.emplace(std::move(file));
  return t;
}

Result<std::unique_ptr<BTree>> BTree::Open(const std::string& path, const PmOpenOptions& o,
                                           Check check) {
  Result<PmFile> f = PmFile::Open(path, o);
  if (!f.ok()) {
    return f.status();
  }
  PmFile& file = f.value();
  Result<std::unique_ptr<BTree>> t = Attach(file.data(), file.size(), file.ops(), check);
  if (!t.ok()) {
    return Status(t.status().code(), path + ": " + t.status().message());
  }
  (*t)->file_.emplace(std::move(file));
  return t;
}

Result<uint32_t> BTree::AllocPage() {
  if (unverified_.load(std::memory_order_acquire)) {
    return Status::FailedPrecondition("index file not verified yet (FinishVerify)");
  }
  if (free_.empty()) {
    return Status::NoSpace("index file is full");
  }
  const uint32_t n = free_.back();
  free_.pop_back();
  state_[n] = PageState::kDirty;
  dirty_.push_back(n);
  return n;
}

void BTree::FreePage(uint32_t n) {
  if (state_[n] == PageState::kDirty) {
    // Never committed: reusable at once (it stays on dirty_, which Commit skips).
    state_[n] = PageState::kFree;
    free_.push_back(n);
  } else if (state_[n] == PageState::kLive) {
    // The committed tree still reaches it: reusable once the next commit completed.
    state_[n] = PageState::kRetired;
    retired_.push_back(n);
  }
}

Result<uint32_t> BTree::Writable(uint32_t n) {
  if (state_[n] == PageState::kDirty) {
    return n;
  }
  Result<uint32_t> m = AllocPage();
  if (!m.ok()) {
    return m;
  }
  std::memcpy(Page(*m), Page(n), kBTreePageSize);
  Store32(Page(*m) + offsetof(BTreeNode, self), *m);
  FreePage(n);
  return m;
}

void BTree::Decode(uint32_t page, std::vector<Item>* items) const {
  const uint8_t* p = Page(page);
  const bool leaf = p[offsetof(BTreeNode, kind)] == kBTreeLeaf;
  const uint32_t count = Count(p);
  items->clear();
  for (uint32_t i = 0; i < count; ++i) {
    const Entry e = EntryAt(p, i);
    Item it;
    it.key = e.key;
    if (leaf) {
      it.overflow = e.val_len == kBTreeValOverflow;
      it.val = {reinterpret_cast<const char*>(e.body), it.overflow ? kBTreeOverflowRef : e.val_len};
    } else {
      it.child = Load32(e.body);
    }
    items->push_back(it);
  }
}

void BTree::Encode(uint32_t n, uint8_t kind, uint8_t level, const std::vector<Item>& items,
                   size_t begin, size_t end) {
  alignas(64) uint8_t buf[kBTreePageSize];
  BTreeNode h;
  std::memset(&h, 0, sizeof h);
  h.magic = kBTreeNodeMagic;
  h.kind = kind;
  h.level = level;
  h.count = static_cast<uint16_t>(end - begin);
  h.self = n;
  std::memcpy(buf, &h, sizeof h);
  size_t pos = kBTreePageSize;
  const bool leaf = kind == kBTreeLeaf;
  for (size_t i = begin; i < end; ++i) {
    const Item& it = items[i];
    const size_t body = leaf ? it.val.size() : 4;
    pos -= kBTreeEntryHeader + it.key.size() + body;
    uint8_t* e = buf + pos;
    Store16(e, static_cast<uint16_t>(it.key.size()));
    Store16(e + 2, leaf ? static_cast<uint16_t>(it.overflow ? kBTreeValOverflow : it.val.size())
                        : uint16_t{0});
    if (!it.key.empty()) {
      std::memcpy(e + kBTreeEntryHeader, it.key.data(), it.key.size());
    }
    if (leaf) {
      if (!it.val.empty()) {
        std::memcpy(e + kBTreeEntryHeader + it.key.size(), it.val.data(), it.val.size());
      }
    } else {
      Store32(e + kBTreeEntryHeader + it.key.size(), it.child);
    }
    Store16(buf + kBTreeNodeHeader + (i - begin) * kBTreeSlot, static_cast<uint16_t>(pos));
  }
  const size_t slots_end = kBTreeNodeHeader + (end - begin) * kBTreeSlot;
  // Invariant: the caller split the items so that they fit.
  assert(slots_end <= pos);
  std::memset(buf + slots_end, 0, pos - slots_end);
  std::memcpy(Page(n), buf, kBTreePageSize);
}

size_t BTree::ItemsBytes(const std::vector<Item>& items, size_t begin, size_t end, bool leaf) {
  size_t n = 0;
  for (size_t i = begin; i < end; ++i) {
    n += EntryBytes(items[i].key, leaf ? items[i].val.size() : 4);
  }
  return n;
}

// The index that makes the larger half smallest (both halves non-empty).
size_t BTree::SplitPoint(const std::vector<Item>& items, bool leaf) {
  const size_t total = ItemsBytes(items, 0, items.size(), leaf);
  size_t left = 0;
  size_t best = 1;
  size_t best_max = SIZE_MAX;
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    left += EntryBytes(items[i].key, leaf ? items[i].val.size() : 4);
    const size_t worst = std::max(left, total - left);
    if (worst < best_max) {
      best_max = worst;
      best = i + 1;
    }
  }
  return best;
}

Result<std::string_view> BTree::StoreValue(std::string_view key, std::string_view value,
                                           char* ref) {
  if (BTreeInlineValue(key.size(), value.size())) {
    return value;
  }
  // Written back to front so that each page knows its successor.
  const size_t n_pages = (value.size() + kBTreeOverflowPayload - 1) / kBTreeOverflowPayload;
  uint32_t next = 0;
  for (size_t k = n_pages; k-- > 0;) {
    Result<uint32_t> pg = AllocPage();
    if (!pg.ok()) {
      return pg.status();  // the caller checked the free count first
    }
    const size_t off = k * kBTreeOverflowPayload;
    const size_t len = std::min(kBTreeOverflowPayload, value.size() - off);
    uint8_t* p = Page(*pg);
    BTreeNode h;
    std::memset(&h, 0, sizeof h);
    h.magic = kBTreeNodeMagic;
    h.kind = kBTreeOverflow;
    h.count = static_cast<uint16_t>(len);
    h.self = *pg;
    h.next = next;
    std::memcpy(p, &h, sizeof h);
    std::memcpy(p + kBTreeNodeHeader, value.data() + off, len);
    std::memset(p + kBTreeNodeHeader + len, 0, kBTreeOverflowPayload - len);
    next = *pg;
  }
  Store32(reinterpret_cast<uint8_t*>(ref), next);
  Store32(reinterpret_cast<uint8_t*>(ref) + 4, static_cast<uint32_t>(value.size()));
  return std::string_view(ref, kBTreeOverflowRef);
}

void BTree::FreeValue(const Item& it) {
  if (!it.overflow) {
    return;
  }
  for (uint32_t o = Load32(reinterpret_cast<const uint8_t*>(it.val.data())); o != 0;) {
    const uint32_t next = Header(Page(o)).next;
    FreePage(o);
    o = next;
  }
}

std::string_view BTree::ReadOverflow(const uint8_t* ref, std::string* out) const {
  out->clear();
  for (uint32_t o = Load32(ref); o != 0;) {
    const uint8_t* p = Read(o);
    const BTreeNode h = Header(p);
    out->append(reinterpret_cast<const char*>(p + kBTreeNodeHeader), h.count);
    o = h.next;
  }
  return *out;
}

uint32_t BTree::LeafOf(std::string_view key) const {
  uint32_t n = root_;
  for (uint32_t level = height_ - 1; level > 0; --level) {
    const uint8_t* p = Read(n);
    n = Load32(EntryAt(p, ChildSlot(p, key)).body);
  }
  return n;
}

void BTree::CheckRead(uint32_t n) const {
  const char* what = nullptr;
  if (n == 0 || n >= pages_) {
    what = "a reference to a page outside the file";
  } else if (checked_[n].load(std::memory_order_relaxed) != 0) {
    return;
  } else {
    const uint8_t* p = Page(n);
    const BTreeNode h = Header(p);
    if (h.magic != kBTreeNodeMagic) {
      what = "bad magic";
    } else if (h.checksum != NodeChecksum(p)) {
      what = "checksum mismatch";
    } else if (h.self != n || h.epoch == 0 || h.epoch > epoch_) {
      what = "header does not fit its place";
    }
  }
  if (what == nullptr) {
    checked_[n].store(1, std::memory_order_relaxed);
    return;
  }
  // A read cannot go on from a page it cannot trust, and the index file it lies in is damaged:
  // the server stops as a start that verified the file first would have refused to start.
  std::fprintf(stderr,
               "pastel: index: page %u: %s (found by a read before the index file's background "
               "verification reached it); stopping\n",
               n, what);
  std::fflush(stderr);
  std::_Exit(EXIT_FAILURE);
}

Result<uint32_t> BTree::WritablePath(std::string_view key) {
  path_.clear();
  Result<uint32_t> w = Writable(root_);
  if (!w.ok()) {
    return w;
  }
  root_ = *w;
  uint32_t n = root_;
  for (uint32_t level = height_ - 1; level > 0; --level) {
    const uint32_t slot = ChildSlot(Page(n), key);
    const Entry e = EntryAt(Page(n), slot);
    const uint32_t child = Load32(e.body);
    Result<uint32_t> c = Writable(child);
    if (!c.ok()) {
      return c;
    }
    if (*c != child) {
      Store32(const_cast<uint8_t*>(e.body), *c);
    }
    path_.push_back({n, slot});
    n = *c;
  }
  return n;
}

Status BTree::Put(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > kBTreeMaxKey) {
    return Status::InvalidArgument("index key of " + std::to_string(key.size()) + " bytes (1.." +
                                   std::to_string(kBTreeMaxKey) + ")");
  }
  if (value.size() > kBTreeMaxValue) {
    return Status::InvalidArgument("index value of " + std::to_string(value.size()) +
                                   " bytes (at most " + std::to_string(kBTreeMaxValue) + ")");
  }
  if (!failed_.ok()) {
    return failed_;
  }
  const size_t overflow_pages =
      BTreeInlineValue(key.size(), value.size())
          ? 0
          : (value.size() + kBTreeOverflowPayload - 1) / kBTreeOverflowPayload;
  // Path copies, one split per level and a new root, and the value's pages: checked first, so a
  // Put either completes or changes nothing. Puts also leave the copies of one more path free, so
  // that a full tree still takes an Erase (and a commit after it frees what it superseded).
  if (FreeCount() < overflow_pages + 3 * height_ + 3) {
    return Status::NoSpace("index file is full (" + std::to_string(pages_) + " pages)");
  }
  char ref[kBTreeOverflowRef];
  Result<std::string_view> stored = StoreValue(key, value, ref);
  if (!stored.ok()) {
    return stored.status();
  }
  Item item;
  item.key = key;
  item.val = *stored;
  item.overflow = !BTreeInlineValue(key.size(), value.size());

  if (root_ == 0) {
    Result<uint32_t> leaf = AllocPage();
    if (!leaf.ok()) {
      return leaf.status();
    }
    items_.clear();
    items_.push_back(item);
    Encode(*leaf, kBTreeLeaf, 0, items_, 0, 1);
    root_ = *leaf;
    height_ = 1;
    entries_ = 1;
    return Status::Ok();
  }

  Result<uint32_t> leaf = WritablePath(key);
  if (!leaf.ok()) {
    return leaf.status();
  }
  const uint32_t n = *leaf;

  bool found = false;
  const uint32_t slot = LeafSlot(Page(n), key, &found);
  if (found && !item.overflow) {
    const Entry e = EntryAt(Page(n), slot);
    if ((e.val_len & kBTreeValOverflow) == 0 && e.val_len == value.size()) {
      // An overwrite of the same size (the store's entries, for one extent count): the leaf's
      // layout stays and only the value's bytes change, without decoding and encoding the page.
      // PERSIST: none. The leaf is this epoch's copy (WritablePath), which the committed root
      // does not reach; Commit checksums and flushes it.
      if (!value.empty()) {
        std::memcpy(const_cast<uint8_t*>(e.body), value.data(), value.size());
      }
      return Status::Ok();
    }
  }
  Decode(n, &items_);
  if (found) {
    FreeValue(items_[slot]);
    items_[slot] = item;
  } else {
    items_.insert(items_.begin() + slot, item);
    ++entries_;
  }
  if (ItemsBytes(items_, 0, items_.size(), true) <= kBTreeNodeSpace) {
    Encode(n, kBTreeLeaf, 0, items_, 0, items_.size());
    return Status::Ok();
  }

  // Split upwards. `right` is the new page holding the upper half; `sep` its smallest key.
  uint8_t level = 0;
  uint32_t left = n;
  size_t s = SplitPoint(items_, true);
  Result<uint32_t> r = AllocPage();
  if (!r.ok()) {
    return r.status();
  }
  uint32_t right = *r;
  Encode(right, kBTreeLeaf, 0, items_, s, items_.size());
  Encode(left, kBTreeLeaf, 0, items_, 0, s);
  std::string_view sep = EntryAt(Page(right), 0).key;
  while (true) {
    ++level;
    if (path_.empty()) {
      Result<uint32_t> nr = AllocPage();
      if (!nr.ok()) {
        return nr.status();
      }
      items_.clear();
      Item a;
      a.child = left;
      Item b;
      b.key = sep;
      b.child = right;
      items_.push_back(a);
      items_.push_back(b);
      Encode(*nr, kBTreeInner, level, items_, 0, 2);
      root_ = *nr;
      ++height_;
      return Status::Ok();
    }
    const PathStep step = path_.back();
    path_.pop_back();
    Decode(step.page, &items_);
    Item b;
    b.key = sep;
    b.child = right;
    items_.insert(items_.begin() + step.slot + 1, b);
    if (ItemsBytes(items_, 0, items_.size(), false) <= kBTreeNodeSpace) {
      Encode(step.page, kBTreeInner, level, items_, 0, items_.size());
      return Status::Ok();
    }
    s = SplitPoint(items_, false);
    r = AllocPage();
    if (!r.ok()) {
      return r.status();
    }
    // The right node's first key moves up; its entry stands below every key of the new node.
    const std::string_view up = items_[s].key;
    items_[s].key = {};
    Encode(*r, kBTreeInner, level, items_, s, items_.size());
    // `up` points into step.page, about to be rewritten: copied first.
    std::memcpy(sep_scratch_[level % 2], up.data(), up.size());
    sep = {sep_scratch_[level % 2], up.size()};
    Encode(step.page, kBTreeInner, level, items_, 0, s);
    left = step.page;
    right = *r;
  }
}

Status BTree::PutSorted(std::span<const KeyValue> entries, size_t* done) {
  *done = 0;
  size_t i = 0;
  while (i < entries.size()) {
    const KeyValue& first = entries[i];
    if (root_ == 0 || first.key.empty() || first.key.size() > kBTreeMaxKey ||
        !BTreeInlineValue(first.key.size(), first.value.size())) {
      // The first leaf, a key Put refuses, a value in overflow pages: Put's own way.
      PASTEL_RETURN_IF_ERROR(Put(first.key, first.value));
      *done = ++i;
      continue;
    }
    if (!failed_.ok()) {
      return failed_;
    }
    if (FreeCount() < 3 * height_ + 3) {  // as Put: path copies, splits, a new root
      return Status::NoSpace("index file is full (" + std::to_string(pages_) + " pages)");
    }
    Result<uint32_t> leaf = WritablePath(first.key);
    if (!leaf.ok()) {
      return leaf.status();
    }
    const uint32_t n = *leaf;
    // The leaf holds the keys below the separator that follows its path (none: up to the end).
    std::string_view bound;
    bool bounded = false;
    for (size_t k = path_.size(); k-- > 0 && !bounded;) {
      const uint8_t* inner = Page(path_[k].page);
      if (path_[k].slot + 1 < Count(inner)) {
        bound = EntryAt(inner, path_[k].slot + 1).key;
        bounded = true;
      }
    }
    const auto in_leaf = [&](const KeyValue& e) {
      return !(bounded && e.key >= bound) && e.key >= first.key;
    };
    if (i + 1 == entries.size() || !in_leaf(entries[i + 1])) {
      PASTEL_RETURN_IF_ERROR(Put(first.key, first.value));  // alone in its leaf: Put's fast paths
      *done = ++i;
      continue;
    }
    Decode(n, &items_);
    size_t bytes = ItemsBytes(items_, 0, items_.size(), true);
    size_t j = i;
    for (; j < entries.size(); ++j) {
      const KeyValue& e = entries[j];
      // Past the leaf, below it (the entries out of order: Put finds its leaf), or Put's case.
      if ((j > i && !in_leaf(e)) || e.key.empty() || e.key.size() > kBTreeMaxKey ||
          !BTreeInlineValue(e.key.size(), e.value.size())) {
        break;
      }
      const auto at =
          std::lower_bound(items_.begin(), items_.end(), e.key,
                           [](const Item& it, std::string_view k) { return it.key < k; });
      const bool found = at != items_.end() && at->key == e.key;
      const size_t add = found ? e.value.size() : EntryBytes(e.key, e.value.size());
      const size_t drop = found ? at->val.size() : 0;
      if (bytes + add - drop > kBTreeNodeSpace) {
        break;  // Put splits the leaf
      }
      bytes = bytes + add - drop;
      Item item;
      item.key = e.key;
      item.val = e.value;
      if (found) {
        FreeValue(*at);
        *at = item;
      } else {
        items_.insert(at, item);
        ++entries_;
      }
    }
    if (j > i) {
      // PERSIST: none. The leaf is this epoch's copy (WritablePath), which the committed root does
      // not reach; Commit checksums and flushes it.
      Encode(n, kBTreeLeaf, 0, items_, 0, items_.size());
      *done = i = j;
      continue;
    }
    PASTEL_RETURN_IF_ERROR(Put(first.key, first.value));  // the leaf splits
    *done = ++i;
  }
  return Status::Ok();
}

Status BTree::Erase(std::string_view key, bool* erased) {
  if (erased != nullptr) {
    *erased = false;
  }
  if (!failed_.ok()) {
    return failed_;
  }
  if (root_ == 0 || key.empty() || key.size() > kBTreeMaxKey) {
    return Status::Ok();
  }
  // Look first: a miss copies nothing.
  {
    bool found = false;
    LeafSlot(Page(LeafOf(key)), key, &found);
    if (!found) {
      return Status::Ok();
    }
  }
  if (FreeCount() < height_) {
    return Status::NoSpace("index file is full (" + std::to_string(pages_) + " pages)");
  }
  Result<uint32_t> leaf = WritablePath(key);
  if (!leaf.ok()) {
    return leaf.status();
  }
  const uint32_t n = *leaf;
  bool found = false;
  const uint32_t slot = LeafSlot(Page(n), key, &found);
  Decode(n, &items_);
  FreeValue(items_[slot]);
  items_.erase(items_.begin() + slot);
  --entries_;
  if (erased != nullptr) {
    *erased = true;
  }
  if (!items_.empty()) {
    Encode(n, kBTreeLeaf, 0, items_, 0, items_.size());
    return Status::Ok();
  }
  // An emptied node leaves its parent, up to the first that keeps other children.
  FreePage(n);
  uint8_t level = 0;
  while (true) {
    ++level;
    if (path_.empty()) {
      root_ = 0;
      height_ = 0;
      return Status::Ok();
    }
    const PathStep step = path_.back();
    path_.pop_back();
    Decode(step.page, &items_);
    items_.erase(items_.begin() + step.slot);
    if (items_.empty()) {
      FreePage(step.page);
      continue;
    }
    items_[0].key = {};
    Encode(step.page, kBTreeInner, level, items_, 0, items_.size());
    break;
  }
  // A root with one child gives way to it.
  while (height_ > 1 && Count(Page(root_)) == 1) {
    const uint32_t old = root_;
    root_ = Load32(EntryAt(Page(old), 0).body);
    FreePage(old);
    --height_;
  }
  return Status::Ok();
}

bool BTree::Get(std::string_view key, std::string* value) const {
  if (root_ == 0 || key.empty() || key.size() > kBTreeMaxKey) {
    return false;
  }
  const uint8_t* leaf = Read(LeafOf(key));
  bool found = false;
  const uint32_t slot = LeafSlot(leaf, key, &found);
  if (!found) {
    return false;
  }
  const Entry e = EntryAt(leaf, slot);
  if (e.val_len == kBTreeValOverflow) {
    ReadOverflow(e.body, value);
  } else {
    value->assign(reinterpret_cast<const char*>(e.body), e.val_len);
  }
  return true;
}

void BTree::Scan(
    std::string_view start,
    const std::function<bool(std::string_view key, std::string_view value)>& fn) const {
  if (root_ == 0) {
    return;
  }
  // The path to the current leaf: page and slot per level, root first.
  PathStep stack[kBTreeMaxHeight];
  uint32_t depth = 0;
  uint32_t n = root_;
  for (uint32_t level = height_ - 1; level > 0; --level) {
    const uint32_t slot = ChildSlot(Read(n), start);
    stack[depth++] = {n, slot};
    n = Load32(EntryAt(Page(n), slot).body);
  }
  bool found = false;
  uint32_t slot = LeafSlot(Read(n), start, &found);
  std::string big;
  while (true) {
    for (; slot < Count(Page(n)); ++slot) {
      const Entry e = EntryAt(Page(n), slot);
      std::string_view v = e.val_len == kBTreeValOverflow
                               ? ReadOverflow(e.body, &big)
                               : std::string_view(reinterpret_cast<const char*>(e.body), e.val_len);
      if (!fn(e.key, v)) {
        return;
      }
    }
    // Up to the first ancestor with a next child, then down its leftmost path.
    while (depth > 0 && stack[depth - 1].slot + 1 >= Count(Page(stack[depth - 1].page))) {
      --depth;
    }
    if (depth == 0) {
      return;
    }
    ++stack[depth - 1].slot;
    n = Load32(EntryAt(Page(stack[depth - 1].page), stack[depth - 1].slot).body);
    for (uint32_t level = height_ - 1 - depth; level > 0; --level) {
      stack[depth++] = {n, 0};
      n = Load32(EntryAt(Read(n), 0).body);
    }
    (void)Read(n);
    slot = 0;
  }
}

Status BTree::Commit(const User& user) {
  if (!failed_.ok()) {
    return failed_;
  }
  if (epoch_ >= kBTreeMaxEpoch) {
    // Open accepts no higher epoch: a commit above it would be lost at the next open. Nothing is
    // written; the committed tree stays as it is.
    return Status::ReadOnly("index: epochs are exhausted (the file is at epoch " +
                            std::to_string(epoch_) + "): no more commits");
  }
  const uint64_t epoch = epoch_ + 1;
  for (uint32_t p : dirty_) {
    if (state_[p] != PageState::kDirty) {
      continue;
    }
    uint8_t* page = Page(p);
    std::memcpy(page + offsetof(BTreeNode, epoch), &epoch, sizeof epoch);
    const uint32_t crc = NodeChecksum(page);
    Store32(page + offsetof(BTreeNode, checksum), crc);
    // PERSIST: the epoch's pages, unreachable from the committed root: a crash leaves them free.
    Status st = ops_->Flush(page, kBTreePageSize);
    if (!st.ok()) {
      return Fail(st);
    }
  }
  Status st = ops_->Drain();
  if (!st.ok()) {
    return Fail(st);
  }
  // PERSIST: before, the pages of the new tree are durable but the superblock of the previous
  // epoch is in force; after the fence, the new superblock is (a torn slot fails its checksum
  // and the other slot, the previous epoch, stays in force).
  const BTreeSuper sb = MakeSuper(pages_, epoch, root_, height_, entries_, owner_, user);
  uint8_t* slot = region_ + kBTreeSuperSlotOffset[epoch % 2];
  std::memcpy(slot, &sb, sizeof sb);
  st = ops_->Persist(slot, sizeof sb);
  if (!st.ok()) {
    return Fail(st);
  }
  epoch_ = epoch;
  user_ = user;
  for (uint32_t p : dirty_) {
    if (state_[p] == PageState::kDirty) {
      state_[p] = PageState::kLive;
    }
  }
  dirty_.clear();
  for (uint32_t p : retired_) {
    state_[p] = PageState::kFree;
    free_.push_back(p);
  }
  retired_.clear();
  return Status::Ok();
}

BTreeStats BTree::Stats() const {
  BTreeStats s;
  s.epoch = epoch_;
  s.entries = entries_;
  s.height = height_;
  s.pages = pages_;
  s.pages_in_use = pages_ - 1 - free_.size();
  for (uint32_t p : dirty_) {
    s.dirty_pages += state_[p] == PageState::kDirty ? 1 : 0;
  }
  return s;
}

}  // namespace pastel

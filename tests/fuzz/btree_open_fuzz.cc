// libFuzzer target: BTree::Attach (the open of an index file) on arbitrary bytes, and the tree it
// gives. The input is laid over a valid 32-page tree image built once, deterministically (height
// 2, a value in a chain of two overflow pages, committed twice so that both superblock slots are
// written). Input: one mode byte, then:
//   mode bits 0..1, where the bytes go:
//     0 raw:     over the image from offset 0 (page 0, the superblocks, then pages 1, 2, ...);
//     1 offset:  a u32 offset (taken modulo the image size), then bytes laid from there;
//     2 patches: records {u32 offset (modulo the image size), u8 length, bytes}: small edits
//                anywhere in the image;
//     3 short:   a u16 length in 512-byte units (at most the image), then raw bytes: the region
//                Attach is given is cut to that length (sizes that are not whole pages, too few
//                pages, pages the superblock names past the end);
//   mode bit 2: reseal: recompute both superblock slot checksums and every page's node checksum
//               after the bytes are laid, so that the fuzzer gets past them to the structural
//               checks (a checksum detects damage, not a bad writer);
//   mode bit 3: renumber: set both slots' page_count to the region's page count (before reseal);
//   mode bit 4: the Put after a clean open stores a value of overflow pages (else 20 bytes).
// Checks: Attach either fails with kCorruption or gives a tree on which a full Scan visits keys in
// strictly increasing order, as many as entries(), a Scan from the middle key gives the same
// suffix, and every Get returns the scanned value. Then a Put (or kNoSpace), an Erase of the first
// key (or kNoSpace) and a Commit must succeed (at the last epoch, 2^63, it is refused and the
// restart must find the tree as opened), the tree must hold what was scanned with those two
// changes, and a second Attach of the same region (a restart) must succeed and give the same.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_poison.h"
#include "index/btree_format.h"
#include "pastel/crc32c.h"
#include "pastel/index.h"
#include "pastel/pm.h"

namespace {

using namespace pastel;  // NOLINT: a test's local scope
// In key order (a std::map per check cost more than the tree under test).
using Contents = std::vector<std::pair<std::string, std::string>>;

constexpr uint8_t kLayoutMask = 3;
constexpr uint8_t kRaw = 0;
constexpr uint8_t kAtOffset = 1;
constexpr uint8_t kPatches = 2;
constexpr uint8_t kShort = 3;
constexpr uint8_t kReseal = 4;
constexpr uint8_t kRenumber = 8;
constexpr uint8_t kBigPut = 16;
constexpr size_t kPages = 32;
constexpr size_t kImageSize = kPages * kBTreePageSize;
constexpr BTree::Owner kOwner = {'p', 'a', 's', 't', 'e', 'l', '-', 'f',
                                 'u', 'z', 'z', '-', 'i', 'd', 'x', 0};
constexpr BTree::User kUser = {7, 8, 9, 10};
constexpr std::string_view kPutKey = "fuzz/put";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "btree_open_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

struct Region {
  explicit Region(size_t n)
      : size(n), data(static_cast<uint8_t*>(std::aligned_alloc(4096, kImageSize))) {
    std::memset(data, 0, kImageSize);
  }
  ~Region() { std::free(data); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  size_t size;  // what Attach is given, at most kImageSize
  uint8_t* data;
};

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string KeyOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key%04d", i);
  return std::string(buf) +
         std::string(static_cast<size_t>(i % 7) * 9, static_cast<char>('a' + i % 26));
}

// The valid tree the input is laid over: built once, the same in every run.
const std::vector<uint8_t>& BaseImage() {
  static const std::vector<uint8_t> image = [] {
    Region r(kImageSize);
    std::unique_ptr<PersistOps> ops = MakeFenceOnlyOps();
    Check(BTree::Format(r.data, r.size, kOwner, *ops).ok(), "format the base image");
    Result<std::unique_ptr<BTree>> t = BTree::Attach(r.data, r.size, *ops);
    Check(t.ok(), "attach the base image");
    for (int i = 0; i < 60; ++i) {
      Check((*t)->Put(KeyOf(i), std::string(100 + i, static_cast<char>('0' + i % 10))).ok(),
            "put into the base image");
    }
    Check((*t)->Put("key0030-big", std::string(5000, 'B')).ok(), "put the overflow value");
    Check((*t)->Commit({1, 0, 0, 0}).ok(), "first commit of the base image");
    Check((*t)->Put("key0061", "after the first commit").ok(), "put after the first commit");
    bool erased = false;
    Check((*t)->Erase(KeyOf(5), &erased).ok() && erased, "erase from the base image");
    Check((*t)->Commit(kUser).ok(), "second commit of the base image");
    Check((*t)->height() == 2, "the base image has two levels");
    return std::vector<uint8_t>(r.data, r.data + r.size);
  }();
  return image;
}

void Lay(uint8_t* image, size_t image_size, size_t at, const uint8_t* data, size_t size) {
  at %= image_size;
  std::memcpy(image + at, data, std::min(size, image_size - at));
}

void Reseal(uint8_t* region, size_t size) {
  for (uint64_t off : kBTreeSuperSlotOffset) {
    if (off + sizeof(BTreeSuper) <= size) {
      const uint32_t crc = Crc32c(region + off, kBTreeSuperChecksummed);
      std::memcpy(region + off + offsetof(BTreeSuper, checksum), &crc, sizeof crc);
    }
  }
  for (size_t n = 1; (n + 1) * kBTreePageSize <= size; ++n) {
    uint8_t* page = region + n * kBTreePageSize;
    std::memset(page + offsetof(BTreeNode, checksum), 0, sizeof(uint32_t));
    const uint32_t crc = Crc32c(page, kBTreePageSize);
    std::memcpy(page + offsetof(BTreeNode, checksum), &crc, sizeof crc);
  }
}

void Renumber(uint8_t* region, size_t size) {
  const uint64_t pages = size / kBTreePageSize;
  for (uint64_t off : kBTreeSuperSlotOffset) {
    if (off + sizeof(BTreeSuper) <= size) {
      std::memcpy(region + off + offsetof(BTreeSuper, page_count), &pages, sizeof pages);
    }
  }
}

// Everything a full Scan visits, checking the order; also checks Get and a Scan from the middle.
Contents ScanAll(const BTree& t) {
  Contents seen;
  t.Scan({}, [&](std::string_view k, std::string_view v) {
    Check(!k.empty() && k.size() <= kBTreeMaxKey, "scanned key length");
    Check(v.size() <= kBTreeMaxValue, "scanned value length");
    Check(seen.empty() || seen.back().first < k, "scan out of order");
    seen.emplace_back(std::string(k), std::string(v));
    return true;
  });
  Check(seen.size() == t.entries(), "scan visited a number of keys other than entries()");
  std::string v;
  for (const auto& [key, value] : seen) {
    Check(t.Get(key, &v), "a scanned key is not found by Get");
    Check(v == value, "Get returns a value other than the scanned one");
  }
  if (!seen.empty()) {
    const size_t mid = seen.size() / 2;
    size_t i = mid;
    t.Scan(seen[mid].first, [&](std::string_view k, std::string_view val) {
      Check(i < seen.size() && seen[i].first == k && seen[i].second == val,
            "a scan from the middle differs from the full scan's suffix");
      ++i;
      return true;
    });
    Check(i == seen.size(), "a scan from the middle stopped early");
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t mode = data[0];
  ++data;
  --size;
  const std::vector<uint8_t>& base = BaseImage();
  // Kept between inputs (a fresh 128 KiB allocation per input, mapped and zeroed, was most of
  // this target's time); the bytes past what Attach is given are poisoned below.
  static Region region(kImageSize);
  region.size = kImageSize;
  pastel::fuzz::ExposeOnly(region.data, kImageSize, kImageSize);
  std::memcpy(region.data, base.data(), kImageSize);

  switch (mode & kLayoutMask) {
    case kRaw: Lay(region.data, kImageSize, 0, data, size); break;
    case kAtOffset:
      if (size >= 4) {
        Lay(region.data, kImageSize, LoadU32(data), data + 4, size - 4);
      }
      break;
    case kPatches:
      while (size >= 5) {
        const size_t at = LoadU32(data) % kImageSize;
        const size_t len = std::min<size_t>(data[4], size - 5);
        Lay(region.data, kImageSize, at, data + 5, len);
        data += 5 + len;
        size -= 5 + len;
      }
      break;
    case kShort:
      if (size >= 2) {
        const size_t units = static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8;
        region.size = std::min(kImageSize, units * 512);
        Lay(region.data, kImageSize, 0, data + 2, size - 2);
      }
      break;
  }
  // A region cut short ends where Attach is told it ends: ASan reports any access past it.
  pastel::fuzz::ExposeOnly(region.data, kImageSize, region.size);
  if ((mode & kRenumber) != 0) {
    Renumber(region.data, region.size);
  }
  if ((mode & kReseal) != 0) {
    Reseal(region.data, region.size);
  }

  std::unique_ptr<PersistOps> ops = MakeFenceOnlyOps();
  Contents want;
  BTree::User user{};
  BTree::Owner owner{};
  {
    Result<std::unique_ptr<BTree>> t = BTree::Attach(region.data, region.size, *ops);
    if (!t.ok()) {
      Check(t.status().code() == StatusCode::kCorruption, "Attach failed other than kCorruption");
      Check(!t.status().message().empty(), "an error without a message");
      return 0;
    }
    BTree& tree = **t;
    const BTreeStats stats = tree.Stats();
    Check(stats.pages == region.size / kBTreePageSize, "page count");
    Check(stats.height <= kBTreeMaxHeight && (stats.height == 0) == (stats.entries == 0), "height");
    Check(stats.pages_in_use < stats.pages && stats.dirty_pages == 0, "page accounting");
    owner = tree.owner();
    want = ScanAll(tree);
    Contents opened = want;

    // One change of each kind, committed.
    const std::string value = (mode & kBigPut) != 0 ? std::string(kBTreeMaxInline + 4100, 'P')
                                                    : std::string("fuzz put value");
    const Status put = tree.Put(kPutKey, value);
    Check(put.ok() || put.code() == StatusCode::kNoSpace, "Put failed other than kNoSpace");
    if (put.ok()) {
      auto at = std::lower_bound(want.begin(), want.end(), kPutKey,
                                 [](const auto& e, std::string_view k) { return e.first < k; });
      if (at != want.end() && at->first == kPutKey) {
        at->second = value;
      } else {
        want.emplace(at, std::string(kPutKey), value);
      }
    }
    if (!want.empty()) {
      const std::string first = want.begin()->first;
      bool erased = false;
      const Status erase = tree.Erase(first, &erased);
      Check(erase.ok() || erase.code() == StatusCode::kNoSpace, "Erase failed other than kNoSpace");
      Check(erased == erase.ok(), "Erase of a present key did not erase it");
      if (erased) {
        want.erase(want.begin());
      }
    }
    const BTree::User committed_user = tree.user();
    user = {stats.epoch, want.size(), 0xF0, 0x0F};
    const Status commit = tree.Commit(user);
    if (stats.epoch >= kBTreeMaxEpoch) {
      // The last epoch: the commit is refused and writes nothing; the restart below must find
      // the tree as it was opened.
      Check(commit.code() == StatusCode::kReadOnly, "a commit past the last epoch");
      want = std::move(opened);
      user = committed_user;
    } else {
      Check(commit.ok(), "Commit failed");
      Check(tree.Stats().epoch == stats.epoch + 1, "Commit did not advance the epoch");
      Check(ScanAll(tree) == want, "the tree does not hold what was put and erased");
    }
  }

  // Restart over the same bytes.
  Result<std::unique_ptr<BTree>> again = BTree::Attach(region.data, region.size, *ops);
  Check(again.ok(), "Attach after a clean open and one commit failed");
  Check((*again)->user() == user, "user words lost at the restart");
  Check((*again)->owner() == owner, "owner changed at the restart");
  Check(ScanAll(**again) == want, "the restart lost or changed an entry");
  return 0;
}

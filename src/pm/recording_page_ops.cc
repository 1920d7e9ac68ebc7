#include "pm/recording_page_ops.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <string>

namespace pastel {
namespace {

static_assert(kModelPageBytes % kSectorBytes == 0);

// The recorder reads the whole region, free pool buffers included, which are poisoned under ASan;
// these accesses are deliberately not instrumented. Every range they see starts at a multiple of
// 512 bytes of an aligned region or of a vector, so it is 8-byte aligned.
using Word = uint64_t __attribute__((may_alias));

__attribute__((no_sanitize("address"))) void RawCopy(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t i = 0;
  for (; i + sizeof(Word) <= n; i += sizeof(Word)) {
    *reinterpret_cast<Word*>(dst + i) = *reinterpret_cast<const Word*>(src + i);
  }
  for (; i < n; ++i) {
    dst[i] = src[i];
  }
}

__attribute__((no_sanitize("address"))) bool RawEqual(const uint8_t* a, const uint8_t* b,
                                                      size_t n) {
  size_t i = 0;
  for (; i + sizeof(Word) <= n; i += sizeof(Word)) {
    if (*reinterpret_cast<const Word*>(a + i) != *reinterpret_cast<const Word*>(b + i)) {
      return false;
    }
  }
  for (; i < n; ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

RecordingPageOps::RecordingPageOps(uint8_t* base, size_t len)
    : base_(base),
      len_(len),
      pages_((len + kModelPageBytes - 1) / kModelPageBytes),
      media_(len),
      noted_mark_(pages_, 0),
      synced_by_(pages_, 0),
      sync_rng_(0x5EC7025EC7025EC7ull) {
  assert(reinterpret_cast<uintptr_t>(base) % kModelPageBytes == 0);
  RawCopy(media_.data(), base, len);
}

size_t RecordingPageOps::PageLen(size_t page) const {
  return std::min(kModelPageBytes, len_ - page * kModelPageBytes);
}

bool RecordingPageOps::PageClean(size_t page) const {
  const size_t off = page * kModelPageBytes;
  return RawEqual(&media_[off], base_ + off, PageLen(page));
}

void RecordingPageOps::SetWriteback(uint64_t seed, double probability) {
  writeback_rng_.seed(seed);
  writeback_probability_ = probability;
}

void RecordingPageOps::MaybeWriteback() {
  if (writeback_probability_ <= 0) {
    return;
  }
  std::bernoulli_distribution pass(writeback_probability_);
  if (!pass(writeback_rng_)) {
    return;
  }
  std::bernoulli_distribution write(0.5);
  for (size_t page = 0; page < pages_; ++page) {
    if (!PageClean(page) && write(writeback_rng_)) {
      const size_t off = page * kModelPageBytes;
      RawCopy(&media_[off], base_ + off, PageLen(page));
      ++writeback_pages_;
    }
  }
}

Status RecordingPageOps::Flush(const void* addr, size_t len) {
  MaybeWriteback();
  if (hook_) {
    hook_(Event::kFlush, events_);
  }
  ++events_;
  ++flushes_;
  if (!failed_.ok()) {
    return failed_;
  }
  const auto* p = static_cast<const uint8_t*>(addr);
  if (p < base_ || p + len > base_ + len_) {
    return Status::InvalidArgument("flush outside the recorded region");
  }
  if (len == 0) {
    return Status::Ok();
  }
  const size_t first = static_cast<size_t>(p - base_) / kModelPageBytes;
  const size_t last = (static_cast<size_t>(p - base_) + len - 1) / kModelPageBytes;
  for (size_t page = first; page <= last; ++page) {
    if (noted_mark_[page] == 0) {
      noted_mark_[page] = 1;
      noted_.push_back(static_cast<uint32_t>(page));
    }
  }
  return Status::Ok();
}

uint64_t RecordingPageOps::BeginSync() {
  const uint64_t id = Begin(noted_);
  for (uint32_t page : noted_) {
    noted_mark_[page] = 0;
  }
  noted_.clear();
  return id;
}

uint64_t RecordingPageOps::BeginRangeSync(uint64_t offset, uint64_t length) {
  range_.clear();
  const uint64_t end = std::min<uint64_t>(offset + length, len_);
  for (uint64_t page = offset / kModelPageBytes; page * kModelPageBytes < end; ++page) {
    range_.push_back(static_cast<uint32_t>(page));
  }
  return Begin(range_);
}

Status RecordingPageOps::SyncRange(uint64_t offset, uint64_t length) {
  return EndSync(BeginRangeSync(offset, length));
}

uint64_t RecordingPageOps::Begin(const std::vector<uint32_t>& pages) {
  MaybeWriteback();
  if (hook_) {
    hook_(Event::kDrainBegin, events_);
  }
  ++events_;
  const uint64_t n = drains_++;
  Sync s;
  s.id = next_sync_++;
  s.fails = !failed_.ok() || n >= fail_from_;
  if (!s.fails) {
    s.pages = pages;
    s.begun.resize(s.pages.size() * kModelPageBytes);
    for (size_t i = 0; i < s.pages.size(); ++i) {
      const size_t off = size_t{s.pages[i]} * kModelPageBytes;
      RawCopy(&s.begun[i * kModelPageBytes], base_ + off, PageLen(s.pages[i]));
    }
  }
  in_flight_.push_back(std::move(s));
  return in_flight_.back().id;
}

Status RecordingPageOps::EndSync(uint64_t id) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                         [id](const Sync& s) { return s.id == id; });
  if (it == in_flight_.end()) {
    return Status::InvalidArgument("no sync " + std::to_string(id) + " in flight");
  }
  Sync s = std::move(*it);
  in_flight_.erase(it);
  if (s.fails && failed_.ok()) {
    failed_ = Status::FromErrno("injected sync failure", EIO);
  }
  if (!failed_.ok()) {
    return failed_;
  }
  MaybeWriteback();
  // The sync completed: each covered page is on the device as it is now; a sector changed since the
  // sync began may have been written as it was then instead (it stays dirty).
  // A page that a sync begun after this one already synced is left alone: that sync waited for
  // this one's write of the page (fdatasync waits on pages under writeback), so what this one
  // wrote is older than what the device holds.
  std::bernoulli_distribution as_begun(0.5);
  for (size_t i = 0; i < s.pages.size(); ++i) {
    if (synced_by_[s.pages[i]] > s.id) {
      continue;
    }
    synced_by_[s.pages[i]] = s.id;
    const size_t off = size_t{s.pages[i]} * kModelPageBytes;
    const size_t n = PageLen(s.pages[i]);
    for (size_t sec = 0; sec < n; sec += kSectorBytes) {
      const size_t m = std::min(kSectorBytes, n - sec);
      uint8_t* dev = &media_[off + sec];
      const uint8_t* now = base_ + off + sec;
      const uint8_t* begun = &s.begun[i * kModelPageBytes + sec];
      if (RawEqual(dev, now, m)) {
        continue;
      }
      const bool changed_in_flight = !RawEqual(begun, now, m);
      RawCopy(dev, changed_in_flight && as_begun(sync_rng_) ? begun : now, m);
    }
  }
  if (hook_) {
    hook_(Event::kDrainEnd, events_);
  }
  ++events_;
  return Status::Ok();
}

Status RecordingPageOps::Drain() {
  return EndSync(BeginSync());
}

std::vector<uint8_t> RecordingPageOps::CrashImage(std::mt19937_64* rng, CutOdds odds,
                                                  CutStats* stats) const {
  std::vector<uint8_t> image(len_);
  CrashImageTo(image.data(), rng, odds, stats);
  return image;
}

void RecordingPageOps::CrashImageTo(uint8_t* image, std::mt19937_64* rng, CutOdds odds,
                                    CutStats* stats) const {
  std::memcpy(image, media_.data(), len_);
  if (rng == nullptr) {
    return;
  }
  std::uniform_real_distribution<double> fate(0.0, 1.0);
  std::bernoulli_distribution sector_written(0.5);
  CutStats local;
  for (size_t page = 0; page < pages_; ++page) {
    if (PageClean(page)) {
      continue;
    }
    ++local.dirty_pages;
    const size_t off = page * kModelPageBytes;
    const size_t n = PageLen(page);
    const double f = fate(*rng);
    if (f < odds.written) {
      RawCopy(&image[off], base_ + off, n);
      ++local.written_pages;
      continue;
    }
    if (f >= odds.written + odds.torn) {
      continue;  // left as the device has it
    }
    bool some_old = false;
    bool some_new = false;
    for (size_t sec = 0; sec < n; sec += kSectorBytes) {
      const size_t m = std::min(kSectorBytes, n - sec);
      if (RawEqual(&image[off + sec], base_ + off + sec, m)) {
        continue;
      }
      if (sector_written(*rng)) {
        RawCopy(&image[off + sec], base_ + off + sec, m);
        some_new = true;
      } else {
        some_old = true;
      }
    }
    local.torn_pages += some_old && some_new ? 1 : 0;
  }
  if (stats != nullptr) {
    stats->dirty_pages += local.dirty_pages;
    stats->written_pages += local.written_pages;
    stats->torn_pages += local.torn_pages;
  }
}

}  // namespace pastel

#pragma once
// RecordingPageOps: a PersistOps for tests at PAGE granularity (a regular file on ext4 or xfs over
// a disk or an SSD, where PageOps msyncs or fdatasyncs), which knows at every instant what a power
// cut would leave of its region.
//
// Model (the Linux page cache over a block device):
//   - The region is a file of 4 KiB pages (kModelPageBytes), each of eight 512-byte sectors
//     (kSectorBytes). `media_` is what the device holds. A sector write is atomic; a page write is
//     not: it is eight sector writes in no particular order.
//   - Flush() only notes the pages of its range, as PageOps does. Nothing reaches the device by it.
//   - Drain() is the sync (msync of the noted pages, or fdatasync): when it returns OK, every
//     noted page is on the device with the content it has at that moment, bytes never flushed
//     included (the page is the unit). A sync is begun, then completes (BeginSync, EndSync: an
//     asynchronous sync, such as an io_uring fsync, in flight while the caller goes on); a sector
//     of a covered page changed between the two may be written as it was when the sync began or
//     as it is when it completes. A sync covers the pages noted since the last one (Drain, as
//     PageOps), or every page of a range (BeginRangeSync: an fdatasync of a range, as the
//     pipelined group commit submits to io_uring). A sync that completes after a later sync of
//     the same page completed leaves that page alone (the later sync waited for its write).
//   - Writeback: the kernel may write any dirty page at any time, flushed or not, and a sync says
//     nothing about pages it does not cover. With SetWriteback, at each event (every Flush, every
//     sync's begin and end) a writeback pass runs with the given probability and writes each page
//     whose content differs from the device, whole, with probability 1/2. So the device can hold a
//     version of a page that is neither the last synced one nor the current one.
//   - A power cut (CrashImage with an rng): any page whose content differs from the device may
//     have been in flight: it is left as the device has it, written whole, or TORN: each of its
//     sectors old or new, independently. A sector whose content did not change is never touched.
//     (A page of a sync in flight is drawn the same way, between the device and its content now;
//     its content when the sync began is not drawn separately.)
//
// Unlike the cache-line model (RecordingPersistOps), bytes never flushed can reach the device
// (writeback), a sync covers the whole page as it is at the sync (not as it was at the flush), and
// what survives is cut at sector boundaries, not at cache lines.
//
// Hooks (the same events as RecordingPersistOps) let a crash test act at every persistence point:
// before each Flush, when a sync begins (nothing of it on the device yet) and when it completed.
//
// Single-threaded, like the PersistOps it stands in for; one object per file.

#include <cstdint>
#include <random>
#include <vector>

#include "pastel/pm.h"
#include "pm/recording_persist_ops.h"

namespace pastel {

inline constexpr size_t kModelPageBytes = 4096;
inline constexpr size_t kSectorBytes = 512;

// How a power cut treats a page whose content differs from the device.
struct PageCutOdds {
  double written = 1.0 / 3;  // written whole
  double torn = 1.0 / 3;     // torn: each changed sector written with probability 1/2
};                           // otherwise: left as the device has it

// What the power cuts of CrashImage drew.
struct PageCutStats {
  uint64_t dirty_pages = 0;    // pages that differed from the device
  uint64_t written_pages = 0;  // ... written whole
  uint64_t torn_pages = 0;     // ... torn (some changed sectors written, some not)
};

class RecordingPageOps final : public PersistOps {
 public:
  using Event = PersistEvent;
  using Hook = PersistHook;

  // Tracks [base, base + len); base must be page aligned (4096). Whatever the region holds now is
  // on the device (a freshly created, zeroed file, or the image a power cut left).
  RecordingPageOps(uint8_t* base, size_t len);

  Status Flush(const void* addr, size_t len) override;
  // BeginSync + EndSync.
  Status Drain() override;
  Granularity granularity() const override { return Granularity::kPage; }
  std::string_view name() const override { return "recording-page"; }

  // The two halves of a sync, for an asynchronous one: BeginSync takes the pages noted since the
  // last sync began (the hook sees kDrainBegin first) and returns the sync's id; EndSync(id) is its
  // completion (durable as Drain says, then the hook sees kDrainEnd). Syncs may be in flight
  // together and complete in any order. A failing sync (FailDrainsFrom) fails at EndSync, and
  // every sync and flush after it fails too.
  uint64_t BeginSync();
  [[nodiscard]] Status EndSync(uint64_t id);
  // A sync of a range (an fdatasync of [offset, offset + length) of the file: io_uring's fsync
  // with a range, which Backend::SubmitSync submits): it covers every page of the range, flushed
  // or not, and leaves the pages noted for the next BeginSync as they are. EndSync completes it.
  uint64_t BeginRangeSync(uint64_t offset, uint64_t length);
  // BeginRangeSync + EndSync.
  Status SyncRange(uint64_t offset, uint64_t length) override;
  // The file descriptor this file's syncs are known by (sync_fd(); -1, the default: none, so a
  // store over it commits synchronously). A test's Backend maps it back to this object: it need
  // not be an open descriptor, nothing passes it to the kernel.
  void SetSyncFd(int fd) { sync_fd_ = fd; }
  int sync_fd() const override { return sync_fd_; }

  using CutOdds = PageCutOdds;
  using CutStats = PageCutStats;
  // The region as a power cut now would leave it. Without `rng`: exactly what the device holds
  // (every completed sync and writeback, nothing in flight). With it: each page that differs from
  // the device drawn as `odds` say. `stats`, when given, adds what was drawn.
  std::vector<uint8_t> CrashImage(std::mt19937_64* rng = nullptr, CutOdds odds = {},
                                  CutStats* stats = nullptr) const;
  // The same, written to `out` (the region's length): a store of several files builds one image.
  void CrashImageTo(uint8_t* out, std::mt19937_64* rng = nullptr, CutOdds odds = {},
                    CutStats* stats = nullptr) const;

  void SetHook(Hook hook) { hook_ = std::move(hook); }
  // Sync number `n` (counting from 0) and every later one fail with EIO, as a failed msync or
  // fdatasync would; nothing they cover becomes durable by them.
  void FailDrainsFrom(uint64_t n) { fail_from_ = n; }
  // Background writeback, drawn from `seed`: at each event, a pass with `probability` (0: never,
  // the default).
  void SetWriteback(uint64_t seed, double probability);

  uint64_t flush_count() const { return flushes_; }
  uint64_t drain_count() const { return drains_; }
  uint64_t events() const { return events_; }
  // Pages noted since the last sync began.
  size_t pending_pages() const { return noted_.size(); }
  // Pages background writeback wrote so far.
  uint64_t writeback_pages() const { return writeback_pages_; }
  size_t page_count() const { return pages_; }

 private:
  struct Sync {
    uint64_t id;
    bool fails;
    std::vector<uint32_t> pages;
    std::vector<uint8_t> begun;  // the pages' content when the sync began, in `pages` order
  };
  size_t PageLen(size_t page) const;
  // A sync of `pages` begins (BeginSync, BeginRangeSync).
  uint64_t Begin(const std::vector<uint32_t>& pages);
  bool PageClean(size_t page) const;
  // At each event: maybe a writeback pass.
  void MaybeWriteback();

  uint8_t* base_;
  size_t len_;
  size_t pages_;
  std::vector<uint8_t> media_;       // what the device holds
  std::vector<uint32_t> noted_;      // pages flushed since the last sync began
  std::vector<uint8_t> noted_mark_;  // page -> 1 when in noted_
  std::vector<uint64_t> synced_by_;  // page -> the id of the last sync that completed over it
  std::vector<Sync> in_flight_;
  std::mt19937_64 writeback_rng_;
  std::mt19937_64 sync_rng_;  // which version of a sector changed during a sync is written
  double writeback_probability_ = 0;
  Hook hook_;
  uint64_t next_sync_ = 1;
  uint64_t flushes_ = 0;
  uint64_t drains_ = 0;
  uint64_t events_ = 0;
  uint64_t writeback_pages_ = 0;
  uint64_t fail_from_ = UINT64_MAX;
  int sync_fd_ = -1;
  std::vector<uint32_t> range_;  // scratch: a range sync's pages
  Status failed_;
};

}  // namespace pastel

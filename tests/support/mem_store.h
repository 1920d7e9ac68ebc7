#pragma once
// A pool and a log side by side in one heap arena, persisted through recording PersistOps, so that
// a test can cut power at any instant (CrashImage) and recover from what survived. The write
// protocol is the servers': value bytes go into freshly allocated buffers, a record names them,
// Commit makes the batch durable, and only then are the buffers retained (and the old value's
// buffers of an overwritten or deleted key unretained).
//
// Two models of the medium (StoreShape::model):
//   kCacheLine  persistent memory: one RecordingPersistOps over the whole arena (pool, log and the
//               extra region), a store durable once its line was flushed and fenced.
//   kPage       regular files on a block device: one RecordingPageOps per file (pool, log, extra
//               region), as the servers have one PmFile each; a file's sync covers its own pages
//               only, the kernel writes dirty pages back at random, and a cut tears pages at
//               512-byte sectors.

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pastel/log.h"
#include "pastel/pool.h"
#include "pm/recording_page_ops.h"
#include "pm/recording_persist_ops.h"
#include "tests/support/aligned_buffer.h"

namespace pastel::testing {

enum class PersistModel : uint8_t { kCacheLine, kPage };

// The files of a MemStore, as a hook sees them (kShared: the one PersistOps of the cache-line
// model, which all three use).
enum class StoreFile : uint8_t { kShared, kPool, kLog, kExtra };

struct StoreShape {
  uint32_t buffer_size = 512;
  uint32_t buffer_count = 256;
  uint32_t partitions = 1;
  uint32_t streams = 1;
  uint64_t stream_size = 64 * 1024;
  uint64_t extra_bytes = 0;  // after the log, a region for the test (an index file), 4 KiB pages
  PersistModel model = PersistModel::kCacheLine;
  // kPage: the seed of background writeback, and the chance of a writeback pass at each event.
  uint64_t writeback_seed = 1;
  double writeback_probability = 0.02;

  uint64_t pool_bytes() const { return Pool::RegionSize(buffer_size, buffer_count); }
  uint64_t log_bytes() const { return Log::RegionSize({streams, stream_size}); }
  uint64_t total() const { return pool_bytes() + log_bytes() + extra_bytes; }
};

class MemStore {
 public:
  // A freshly formatted, empty store.
  static std::unique_ptr<MemStore> Fresh(const StoreShape& shape) {
    std::unique_ptr<MemStore> s(new MemStore(shape));
    PoolParams pp;
    pp.buffer_size = shape.buffer_size;
    pp.buffer_count = shape.buffer_count;
    pp.partitions = shape.partitions;
    EXPECT_TRUE(Pool::Format(s->pool_region(), shape.pool_bytes(), pp, 1, s->pool_ops()).ok());
    EXPECT_TRUE(s->AttachPool().ok());
    EXPECT_TRUE(Log::Format(s->log_region(), shape.log_bytes(), {shape.streams, shape.stream_size},
                            *s->pool_, s->log_ops())
                    .ok());
    Result<Recovered> r = s->AttachLogAndRecover({});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return s;
  }

  // A store over `image` (what a power cut left), recovered. On failure, returns the status.
  static Result<std::unique_ptr<MemStore>> Recover(const StoreShape& shape,
                                                   const std::vector<uint8_t>& image,
                                                   const RecoveryOptions& o, Recovered* out) {
    std::unique_ptr<MemStore> s(new MemStore(shape, image));
    PASTEL_RETURN_IF_ERROR(s->AttachPool());
    Result<Recovered> r = s->AttachLogAndRecover(o);
    if (!r.ok()) {
      return r.status();
    }
    *out = std::move(r).value();
    return s;
  }

  // A store over `image` with its pool and log attached, the log not yet recovered (the test
  // recovers it, e.g. over an index in the extra region).
  static Result<std::unique_ptr<MemStore>> AttachImage(const StoreShape& shape,
                                                       const std::vector<uint8_t>& image) {
    std::unique_ptr<MemStore> s(new MemStore(shape, image));
    PASTEL_RETURN_IF_ERROR(s->AttachPool());
    Result<std::unique_ptr<Log>> l =
        Log::Attach(s->log_region(), shape.log_bytes(), s->log_ops(), *s->pool_);
    if (!l.ok()) {
      return l.status();
    }
    s->log_ = std::move(l).value();
    return s;
  }

  // The cache-line model's one PersistOps (kCacheLine only).
  RecordingPersistOps& ops() {
    EXPECT_EQ(shape_.model, PersistModel::kCacheLine) << "ops() of a page-model store";
    return *ops_;
  }
  // Each file's PersistOps (all the same one in the cache-line model).
  PersistOps& pool_ops() { return FileOps(0); }
  PersistOps& log_ops() { return FileOps(1); }
  PersistOps& extra_ops() { return FileOps(2); }
  // kPage: the model of each file (nullptr for an empty extra region, or in the cache-line model).
  RecordingPageOps* page_ops(StoreFile f) {
    const size_t i = static_cast<size_t>(f) - 1;
    return f == StoreFile::kShared ? nullptr : pages_[i].get();
  }

  using Hook = std::function<void(StoreFile, PersistEvent)>;
  // Sees every persistence point of every file.
  void SetHook(Hook hook) {
    if (ops_) {
      ops_->SetHook(
          hook ? PersistHook([hook](PersistEvent e, uint64_t) { hook(StoreFile::kShared, e); })
               : PersistHook());
      return;
    }
    for (size_t i = 0; i < pages_.size(); ++i) {
      if (pages_[i]) {
        const StoreFile f = static_cast<StoreFile>(i + 1);
        pages_[i]->SetHook(hook ? PersistHook([hook, f](PersistEvent e, uint64_t) { hook(f, e); })
                                : PersistHook());
      }
    }
  }

  // The arena as a power cut now would leave it: only what is durable (fenced lines; what the
  // device holds), or with `rng` also what a cut may add (lines the cache evicted; pages in flight,
  // written whole or torn at sectors). `stats` (kPage) adds what the cut drew.
  std::vector<uint8_t> CrashImage(std::mt19937_64* rng = nullptr,
                                  RecordingPageOps::CutStats* stats = nullptr) const {
    if (ops_) {
      return rng != nullptr ? ops_->CrashImage(rng, 0.5) : ops_->CrashImage();
    }
    std::vector<uint8_t> image(arena_.size());
    const uint64_t sizes[3] = {shape_.pool_bytes(), shape_.log_bytes(), shape_.extra_bytes};
    uint64_t off = 0;
    for (size_t i = 0; i < 3; ++i) {
      if (pages_[i]) {
        pages_[i]->CrashImageTo(image.data() + off, rng, {}, stats);
      }
      off += sizes[i];
    }
    return image;
  }

  // Every sync or fence from now on fails with EIO, in every file.
  void FailDrainsFromNow() {
    if (ops_) {
      ops_->FailDrainsFrom(ops_->drain_count());
      return;
    }
    for (const auto& p : pages_) {
      if (p) {
        p->FailDrainsFrom(p->drain_count());
      }
    }
  }

  // Pages background writeback wrote so far (kPage).
  uint64_t writeback_pages() const {
    uint64_t n = 0;
    for (const auto& p : pages_) {
      n += p ? p->writeback_pages() : 0;
    }
    return n;
  }

  uint8_t* extra_region() { return arena_.data() + shape_.pool_bytes() + shape_.log_bytes(); }
  Pool& pool() { return *pool_; }
  Log& log() { return *log_; }
  uint8_t* pool_region() { return arena_.data(); }
  uint8_t* log_region() { return arena_.data() + shape_.pool_bytes(); }
  const StoreShape& shape() const { return shape_; }

  // Copies `value` into fresh buffers of `partition` (kApp), one extent per buffer.
  Result<std::vector<Extent>> WriteValue(std::string_view value, uint32_t partition = 0) {
    std::vector<Extent> ext;
    size_t off = 0;
    while (off < value.size()) {
      Result<uint32_t> b = pool_->Allocate(partition);
      if (!b.ok()) {
        for (const Extent& e : ext) {
          EXPECT_TRUE(pool_->Release(e.buffer).ok());
        }
        return b.status();
      }
      const uint32_t n =
          static_cast<uint32_t>(std::min<size_t>(value.size() - off, pool_->buffer_size()));
      std::memcpy(pool_->BufferData(*b), value.data() + off, n);
      ext.push_back({*b, 0, n});
      off += n;
    }
    return ext;
  }

  std::string ReadValue(const std::vector<Extent>& extents) const {
    std::string v;
    for (const Extent& e : extents) {
      v.append(reinterpret_cast<const char*>(pool_->BufferData(e.buffer) + e.offset), e.length);
    }
    return v;
  }

  // The in-memory index of the test (what a server keeps): key -> extents of the durable value.
  std::map<std::string, std::vector<Extent>>& index() { return index_; }

  // Applies a committed put/delete to the index and to buffer ownership, as a server does after
  // the fence: retain the new value's buffers, unretain the old value's.
  void ApplyDurable(const std::string& key, const std::vector<Extent>* value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      for (const Extent& e : it->second) {
        EXPECT_TRUE(pool_->Unretain(e.buffer).ok());
      }
      index_.erase(it);
    }
    if (value != nullptr) {
      for (const Extent& e : *value) {
        EXPECT_TRUE(pool_->Retain(e.buffer).ok());
      }
      index_[key] = *value;
    }
  }

  // Builds the test index from a recovery's live map (buffers are already retained by Recover).
  void AdoptLive(const LiveMap& live) {
    index_.clear();
    for (const auto& [k, v] : live) {
      index_[k] = v.extents;
    }
  }

 private:
  explicit MemStore(const StoreShape& shape) : shape_(shape), arena_(shape.total()) { MakeOps(); }
  MemStore(const StoreShape& shape, const std::vector<uint8_t>& image)
      : shape_(shape), arena_(ArenaFrom(shape, image)) {
    MakeOps();
  }

  // An arena holding `image` (zeros after it, when it is shorter).
  static AlignedBuffer ArenaFrom(const StoreShape& shape, const std::vector<uint8_t>& image) {
    if (image.size() == shape.total()) {
      return AlignedBuffer(image.data(), image.size());
    }
    AlignedBuffer b(shape.total());
    std::memcpy(b.data(), image.data(), std::min<size_t>(image.size(), b.size()));
    return b;
  }

  // Recording ops over the arena as it is now (all of it durable).
  void MakeOps() {
    if (shape_.model == PersistModel::kCacheLine) {
      ops_ = std::make_unique<RecordingPersistOps>(arena_.data(), arena_.size());
      return;
    }
    const uint64_t sizes[3] = {shape_.pool_bytes(), shape_.log_bytes(), shape_.extra_bytes};
    uint64_t off = 0;
    for (size_t i = 0; i < 3; ++i) {
      if (sizes[i] != 0) {
        pages_[i] = std::make_unique<RecordingPageOps>(arena_.data() + off, sizes[i]);
        pages_[i]->SetWriteback(shape_.writeback_seed * 3 + i, shape_.writeback_probability);
      }
      off += sizes[i];
    }
  }

  PersistOps& FileOps(size_t i) {
    if (ops_) {
      return *ops_;
    }
    EXPECT_TRUE(pages_[i] != nullptr) << "no file " << i << " in this store";
    return *pages_[i];
  }

  Status AttachPool() {
    Result<std::unique_ptr<Pool>> p =
        Pool::Attach(pool_region(), shape_.pool_bytes(), pool_ops(), shape_.partitions);
    if (!p.ok()) {
      return p.status();
    }
    pool_ = std::move(p).value();
    return Status::Ok();
  }

  Result<Recovered> AttachLogAndRecover(const RecoveryOptions& o) {
    Result<std::unique_ptr<Log>> l =
        Log::Attach(log_region(), shape_.log_bytes(), log_ops(), *pool_);
    if (!l.ok()) {
      return l.status();
    }
    log_ = std::move(l).value();
    return log_->Recover(o);
  }

  StoreShape shape_;
  AlignedBuffer arena_;
  std::unique_ptr<RecordingPersistOps> ops_;                // kCacheLine
  std::array<std::unique_ptr<RecordingPageOps>, 3> pages_;  // kPage: pool, log, extra
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Log> log_;
  std::map<std::string, std::vector<Extent>> index_;
};

}  // namespace pastel::testing

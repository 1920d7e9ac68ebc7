#pragma once
// A pool and a log side by side in one heap arena, persisted through one RecordingPersistOps, so
// that a test can cut power at any instant (CrashImage) and recover from what survived. The write
// protocol is the servers': value bytes go into freshly allocated buffers, a record names them,
// Commit makes the batch durable, and only then are the buffers retained (and the old value's
// buffers of an overwritten or deleted key unretained).

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pastel/log.h"
#include "pastel/pool.h"
#include "pm/recording_persist_ops.h"
#include "tests/support/aligned_buffer.h"

namespace pastel::testing {

struct StoreShape {
  uint32_t buffer_size = 512;
  uint32_t buffer_count = 256;
  uint32_t partitions = 1;
  uint32_t streams = 1;
  uint64_t stream_size = 64 * 1024;
  uint64_t extra_bytes = 0;  // after the log, a region for the test (an index file), 4 KiB pages

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
    EXPECT_TRUE(Pool::Format(s->pool_region(), shape.pool_bytes(), pp, 1, *s->ops_).ok());
    EXPECT_TRUE(s->AttachPool().ok());
    EXPECT_TRUE(Log::Format(s->log_region(), shape.log_bytes(), {shape.streams, shape.stream_size},
                            *s->pool_, *s->ops_)
                    .ok());
    Result<Recovered> r = s->AttachLogAndRecover({});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return s;
  }

  // A store over `image` (what a power cut left), recovered. On failure, returns the status.
  static Result<std::unique_ptr<MemStore>> Recover(const StoreShape& shape,
                                                   const std::vector<uint8_t>& image,
                                                   const RecoveryOptions& o, Recovered* out) {
    std::unique_ptr<MemStore> s(new MemStore(shape));
    std::memcpy(s->arena_.data(), image.data(), image.size());
    s->ops_ = std::make_unique<RecordingPersistOps>(s->arena_.data(), s->arena_.size());
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
    std::unique_ptr<MemStore> s(new MemStore(shape));
    std::memcpy(s->arena_.data(), image.data(), image.size());
    s->ops_ = std::make_unique<RecordingPersistOps>(s->arena_.data(), s->arena_.size());
    PASTEL_RETURN_IF_ERROR(s->AttachPool());
    Result<std::unique_ptr<Log>> l =
        Log::Attach(s->log_region(), shape.log_bytes(), *s->ops_, *s->pool_);
    if (!l.ok()) {
      return l.status();
    }
    s->log_ = std::move(l).value();
    return s;
  }

  RecordingPersistOps& ops() { return *ops_; }
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
  explicit MemStore(const StoreShape& shape)
      : shape_(shape),
        arena_(shape.total()),
        ops_(std::make_unique<RecordingPersistOps>(arena_.data(), arena_.size())) {}

  Status AttachPool() {
    Result<std::unique_ptr<Pool>> p =
        Pool::Attach(pool_region(), shape_.pool_bytes(), *ops_, shape_.partitions);
    if (!p.ok()) {
      return p.status();
    }
    pool_ = std::move(p).value();
    return Status::Ok();
  }

  Result<Recovered> AttachLogAndRecover(const RecoveryOptions& o) {
    Result<std::unique_ptr<Log>> l = Log::Attach(log_region(), shape_.log_bytes(), *ops_, *pool_);
    if (!l.ok()) {
      return l.status();
    }
    log_ = std::move(l).value();
    return log_->Recover(o);
  }

  StoreShape shape_;
  AlignedBuffer arena_;
  std::unique_ptr<RecordingPersistOps> ops_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Log> log_;
  std::map<std::string, std::vector<Extent>> index_;
};

}  // namespace pastel::testing

#include "store.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace pastel::baseline {
namespace {

// An ownership transition that fails only when the ownership protocol is broken (a bug): stop
// rather than serve from buffers whose owner is unknown.
void MustOk(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "pastel-baseline: invariant broken (%s): %s\n", what,
                 st.ToString().c_str());
    std::abort();
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ValueRef

ValueRef::ValueRef(ValueRef&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      extents_(std::move(other.extents_)),
      length_(std::exchange(other.length_, 0)) {}

ValueRef& ValueRef::operator=(ValueRef&& other) noexcept {
  if (this != &other) {
    Drop();
    pool_ = std::exchange(other.pool_, nullptr);
    extents_ = std::move(other.extents_);
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

ValueRef::~ValueRef() {
  Drop();
}

void ValueRef::Drop() {
  if (pool_ != nullptr) {
    for (const Extent& e : extents_) {
      MustOk(pool_->Unretain(e.buffer), "unpin a read value");
    }
  }
  pool_ = nullptr;
  extents_.clear();
}

// ---------------------------------------------------------------------------------------------
// Store

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& o) {
  if (o.threads == 0) {
    return Status::InvalidArgument("threads must be at least 1");
  }
  PmOpenOptions pm;
  if (o.sync == SyncMode::kFdatasync) {
    pm.page_sync = PageSync::kFdatasync;
    pm.force_granularity = true;
    pm.granularity = Granularity::kPage;
  }
  const std::string log_path = Log::PathForPool(o.pool_path);
  std::unique_ptr<Store> store(new Store());

  Result<std::unique_ptr<Pool>> opened = Pool::Open(o.pool_path, pm);
  if (opened.ok()) {
    store->pool_ = std::move(opened).value();
    const uint32_t parts = store->pool_->partitions();
    if (parts < o.threads) {
      return Status::InvalidArgument(o.pool_path + " has " + std::to_string(parts) +
                                     " partition(s), fewer than the " + std::to_string(o.threads) +
                                     " threads asked for: start with --threads " +
                                     std::to_string(parts) + " or less, or use a new pool");
    }
    if (parts > o.threads) {
      // Spread every buffer over the threads that run (partitions are an in-memory split).
      store->pool_.reset();
      Result<std::unique_ptr<Pool>> again = Pool::Open(o.pool_path, pm, o.threads);
      if (!again.ok()) {
        return again.status();
      }
      store->pool_ = std::move(again).value();
    }
    Result<std::unique_ptr<Log>> log = Log::Open(log_path, *store->pool_, pm);
    if (!log.ok()) {
      return log.status();
    }
    store->log_ = std::move(log).value();
    if (store->log_->stream_count() < o.threads) {
      return Status::InvalidArgument(
          log_path + " has " + std::to_string(store->log_->stream_count()) +
          " stream(s), fewer than the " + std::to_string(o.threads) +
          " threads asked for: start with --threads " +
          std::to_string(store->log_->stream_count()) + " or less, or use a new pool");
    }
    // Recovery keeps whole batches only, checks every live value's checksum, retains the live
    // buffers and frees every other one.
    Result<Recovered> rec = store->log_->Recover();
    if (!rec.ok()) {
      return Status(rec.status().code(), "recover " + o.pool_path + ": " + rec.status().message());
    }
    PASTEL_RETURN_IF_ERROR(store->LoadIndex(*rec));
  } else if (opened.status().code() == StatusCode::kNotFound) {
    PoolParams pp;
    pp.buffer_size = o.buffer_size;
    pp.partitions = o.threads;
    Result<std::unique_ptr<Pool>> created = Pool::Create(o.pool_path, o.pool_size, pp, pm);
    if (!created.ok()) {
      return Status(created.status().code(),
                    "create pool " + o.pool_path + ": " + created.status().message());
    }
    store->pool_ = std::move(created).value();
    LogParams lp;
    lp.streams = o.threads;
    lp.stream_size = o.log_size;
    Result<std::unique_ptr<Log>> log = Log::Create(log_path, lp, *store->pool_, pm);
    if (!log.ok()) {
      store->pool_.reset();
      ::unlink(o.pool_path.c_str());
      return Status(log.status().code(), "create log " + log_path + ": " + log.status().message());
    }
    store->log_ = std::move(log).value();
  } else {
    return opened.status();
  }
  // As pastel's servers do (docs/formats/pool.md, "On block storage"): once recovered, a write's
  // sync writes 4 KiB pages, not the kernel's large folios, so the figure compares commit
  // protocols, not page-cache folio sizes.
  for (const PmFile* f : {store->pool_->file(), store->log_->file()}) {
    if (f != nullptr) {
      f->PreferSmallFolios();
    }
  }
  return store;
}

Store::~Store() = default;

Status Store::LoadIndex(const Recovered& recovered) {
  std::unique_lock lock(index_mu_);
  index_.reserve(recovered.live.size());
  for (const auto& [key, lv] : recovered.live) {
    index_.emplace(key, Value{lv.extents, lv.value_len});
    value_bytes_ += lv.value_len;
  }
  recovered_records_ = recovered.records;
  recovered_keys_ = recovered.live.size();
  return Status::Ok();
}

Status Store::CheckWritable() const {
  if (pool_->read_only()) {
    return Status::ReadOnly("store is read-only: " + pool_->read_only_reason().ToString());
  }
  return Status::Ok();
}

void Store::ReportFailure(const Status& why) {
  if (!failure_reported_.exchange(true)) {
    std::fprintf(stderr, "pastel-baseline: a commit failed, writes are refused from now on: %s\n",
                 why.ToString().c_str());
  }
}

Status Store::CommitStream(uint32_t thread) {
  // PERSIST: before, the record and the value it names may be partly on the media (a crash
  // drops the record at recovery); after OK, both are durable and the write may be answered.
  Result<CommitInfo> c = log_->stream(thread).Commit();
  if (!c.ok()) {
    ReportFailure(c.status());
    return Status::ReadOnly("commit failed: " + c.status().ToString());
  }
  fences_.fetch_add(1, std::memory_order_relaxed);
  committed_writes_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void Store::ReleaseAll(std::span<const Extent> extents) {
  for (const Extent& e : extents) {
    MustOk(pool_->Release(e.buffer), "release an unused buffer");
  }
}

void Store::UnretainAll(std::span<const Extent> extents) {
  for (const Extent& e : extents) {
    MustOk(pool_->Unretain(e.buffer), "unretain a replaced value");
  }
}

Status Store::Put(uint32_t thread, std::string_view key, std::string_view value) {
  PASTEL_RETURN_IF_ERROR(CheckWritable());
  // Copy the body out of the connection's buffer into fresh buffers of this thread's partition.
  std::vector<Extent> extents;
  const uint32_t bs = pool_->buffer_size();
  extents.reserve((value.size() + bs - 1) / bs);
  for (size_t off = 0; off < value.size(); off += bs) {
    Result<uint32_t> b = pool_->Allocate(thread);
    if (!b.ok()) {
      ReleaseAll(extents);
      if (b.status().code() == StatusCode::kNoSpace) {
        rejected_full_.fetch_add(1, std::memory_order_relaxed);
      }
      return b.status();
    }
    const auto len = static_cast<uint32_t>(std::min<size_t>(bs, value.size() - off));
    std::memcpy(pool_->BufferData(*b), value.data() + off, len);
    extents.push_back({*b, 0, len});
  }

  std::lock_guard key_lock(KeyLock(key));
  Result<uint64_t> seq = log_->stream(thread).AppendPut(key, extents);
  if (!seq.ok()) {
    ReleaseAll(extents);
    if (seq.status().code() == StatusCode::kNoSpace) {
      rejected_full_.fetch_add(1, std::memory_order_relaxed);
    }
    return seq.status();
  }
  Status st = CommitStream(thread);
  if (!st.ok()) {
    // Read-only from now on: nothing will be allocated again, and whether the record made it is
    // for recovery to decide.
    ReleaseAll(extents);
    return st;
  }
  // Durable: the record's references (App -> Retained(1)), then the swap, then the old value's
  // buffers go back. Invariant: the key lock is held, so no other write of this key is between
  // our append and this swap, and `old` is dropped exactly once.
  for (const Extent& e : extents) {
    MustOk(pool_->Retain(e.buffer), "retain a committed value");
  }
  std::vector<Extent> old;
  {
    std::unique_lock lock(index_mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      index_.emplace(std::string(key), Value{std::move(extents), value.size()});
    } else {
      old = std::move(it->second.extents);
      value_bytes_ -= it->second.length;
      it->second = Value{std::move(extents), value.size()};
    }
    value_bytes_ += value.size();
  }
  UnretainAll(old);
  return Status::Ok();
}

Status Store::Delete(uint32_t thread, std::string_view key) {
  PASTEL_RETURN_IF_ERROR(CheckWritable());
  std::lock_guard key_lock(KeyLock(key));
  {
    std::shared_lock lock(index_mu_);
    if (index_.find(key) == index_.end()) {
      return Status::NotFound("no such key");
    }
  }
  Result<uint64_t> seq = log_->stream(thread).AppendDelete(key);
  if (!seq.ok()) {
    if (seq.status().code() == StatusCode::kNoSpace) {
      rejected_full_.fetch_add(1, std::memory_order_relaxed);
    }
    return seq.status();
  }
  PASTEL_RETURN_IF_ERROR(CommitStream(thread));
  std::vector<Extent> old;
  {
    std::unique_lock lock(index_mu_);
    auto it = index_.find(key);
    // Invariant: the key lock was held since the lookup above, so the key is still there.
    assert(it != index_.end());
    if (it != index_.end()) {
      old = std::move(it->second.extents);
      value_bytes_ -= it->second.length;
      index_.erase(it);
    }
  }
  UnretainAll(old);
  return Status::Ok();
}

Result<ValueRef> Store::Get(std::string_view key) const {
  std::shared_lock lock(index_mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    return Status::NotFound("no such key");
  }
  const Value& v = it->second;
  // Pin while the entry cannot change: a concurrent overwrite unretains the old buffers only
  // after its swap (exclusive lock), so they stay retained until this ref drops them.
  for (size_t i = 0; i < v.extents.size(); ++i) {
    Status st = pool_->Retain(v.extents[i].buffer);
    if (!st.ok()) {
      // Only when a buffer has the maximum number of references: too many readers at once.
      for (size_t j = 0; j < i; ++j) {
        MustOk(pool_->Unretain(v.extents[j].buffer), "unpin after a failed pin");
      }
      return Status::Busy("value pinned too often: " + st.ToString());
    }
  }
  return ValueRef(pool_.get(), v.extents, v.length);
}

StoreStats Store::Stats() const {
  StoreStats s;
  {
    std::shared_lock lock(index_mu_);
    s.keys = index_.size();
    s.value_bytes = value_bytes_;
  }
  s.fences = fences_.load(std::memory_order_relaxed);
  s.committed_writes = committed_writes_.load(std::memory_order_relaxed);
  s.rejected_full = rejected_full_.load(std::memory_order_relaxed);
  s.read_only = pool_->read_only();
  s.buffers = pool_->Counts();
  return s;
}

std::string Store::DescribeDurability() const {
  return pool_->file()->DescribeDurability();
}

std::string Store::DescribeContents() const {
  return std::to_string(pool_->buffer_count()) + " buffers of " +
         std::to_string(pool_->buffer_size()) + " B, " + std::to_string(pool_->partitions()) +
         " partition(s), " + std::to_string(log_->stream_count()) + " log stream(s); " +
         std::to_string(recovered_keys_) + " key(s) recovered from " +
         std::to_string(recovered_records_) + " record(s)";
}

}  // namespace pastel::baseline

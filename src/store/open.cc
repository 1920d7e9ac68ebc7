#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "pastel/index.h"
#include "pastel/log.h"
#include "pastel/pm.h"
#include "pastel/store.h"
#include "pool/pool_format.h"
#include "store_index.h"

namespace pastel::store {
namespace {

Status Step(const std::string& what, const Status& st) {
  return Status(st.code(), what + ": " + st.message());
}

std::string Printable(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 64)) {
    out += c >= 0x20 && c < 0x7F ? c : '?';
  }
  return out;
}

// The sequences of writes that are never logged (--persist none) start this far above the log's,
// so that they order after every logged one without sharing the log's counter.
constexpr uint64_t kNoneSequenceBase = uint64_t{1} << 62;

}  // namespace

Result<StoreRecovery> RecoverStore(Pool& pool, Log& log, BTree* tree, Index& index,
                                   bool checkpoints, const RecoveryOptions& options) {
  StoreRecovery out;
  RecoveryOptions o = options;
  o.finish_pool = false;
  std::string scratch;
  Value v;
  if (tree != nullptr) {
    // A record the tree already holds (or a later write of its key) is not replayed. An entry
    // that does not decode is reported by the scan below.
    o.base_sequence = [&](std::string_view key) -> uint64_t {
      return tree->Get(key, &scratch) && DecodeIndexValue(scratch, &v) ? v.sequence : 0;
    };
  }
  Result<Recovered> r = log.Recover(o);
  if (!r.ok()) {
    return r.status();
  }
  out.log = std::move(r).value();
  const LiveMap& live = out.log.live;
  // Several streams (several loops, or a pool from before one stream per loop): another loop's
  // stream may hold an older write of a deleted key, so deletes stay in the tree as tombstones
  // until every stream is past them.
  const bool keep_tombstones = log.stream_count() > 1;
  uint64_t tree_live_bytes = 0;
  uint64_t tree_loaded = 0;  // of tree_live, loaded into the map (they have an expiry time)
  if (tree != nullptr) {
    // One pass over the tree's leaves: the buffers of every entry no later log record replaced
    // are retained; the entries stay in the tree, where the index reads them.
    std::unordered_map<std::string_view, uint64_t> deleted;
    for (const auto& [key, seq] : out.log.deleted) {
      deleted.emplace(key, seq);
    }
    Status failed;
    std::string key;
    Value e;
    tree->Scan({}, [&](std::string_view k, std::string_view bytes) {
      ++out.tree_entries;
      if (!DecodeIndexValue(bytes, &e)) {
        failed = Status::Corruption("index entry of '" + Printable(k) + "' is malformed");
        return false;
      }
      key.assign(k);
      if (live.count(key) != 0 || deleted.count(k) != 0) {
        return true;  // a later write or delete in the log replaces it
      }
      for (const Extent& x : e.extents) {
        if (x.buffer >= pool.buffer_count() || x.offset > pool.buffer_size() ||
            x.length > pool.buffer_size() - x.offset) {
          failed =
              Status::Corruption("index entry of '" + Printable(k) + "' names bytes " +
                                 std::to_string(x.offset) + "+" + std::to_string(x.length) +
                                 " of buffer " + std::to_string(x.buffer) + ", outside the pool");
          return false;
        }
      }
      for (const Extent& x : e.extents) {
        failed = pool.Retain(x.buffer);
        if (!failed.ok()) {
          return false;
        }
      }
      if (!e.deleted && e.expire_ms != 0) {
        // A value with an expiry time is kept in the map (saved), where the expiry cycle finds
        // it; the map's entry counts it.
        ++out.tree_live;
        ++tree_loaded;
        index.LoadEntry(k, e);
      } else if (!e.deleted) {
        ++out.tree_live;
        tree_live_bytes += e.length;
      } else {
        index.NoteTreeTombstone(std::move(key), e.sequence);
      }
      return true;
    });
    if (!failed.ok()) {
      return failed;
    }
  }
  for (const auto& [key, lv] : live) {
    Value e;
    e.sequence = lv.sequence;
    e.length = lv.value_len;
    e.data_crc = lv.data_crc;
    e.expire_ms = lv.expire_ms;
    e.type = lv.value_type;
    e.extents = lv.extents;
    e.unsaved = tree != nullptr && checkpoints;
    index.LoadEntry(key, std::move(e));
  }
  if (tree != nullptr) {
    // The log's deletes of keys the tree may hold: tombstones in the map until a checkpoint.
    for (const auto& [key, seq] : out.log.deleted) {
      Value e;
      e.sequence = seq;
      e.deleted = true;
      e.unsaved = checkpoints;
      index.LoadEntry(key, std::move(e));
    }
    index.AttachTree(tree, checkpoints, keep_tombstones, out.tree_live - tree_loaded,
                     tree_live_bytes);
    index.TrackStreams(log.stream_count());
    for (uint32_t i = 0; i < log.stream_count(); ++i) {
      // An empty stream holds no record, and its next ones come after every sequence handed out
      // so far. One that holds records keeps its tombstones' horizon at 0 until its loop's first
      // checkpoint truncates it (it may hold compaction copies of older sequences).
      if (log.stream(i).tail() == LogStream::records_begin()) {
        index.SetStreamHorizon(i, out.log.next_sequence - 1);
      }
    }
  }
  PASTEL_RETURN_IF_ERROR(pool.FinishRecovery());
  return out;
}

Store::Store() = default;
Store::~Store() = default;

Result<OpenedStore> OpenOrCreate(const StoreFiles& files) {
  const auto t0 = std::chrono::steady_clock::now();
  OpenedStore out;
  out.index = std::make_unique<Index>();
  out.index->SetCacheLimit(files.index_cache_keys);
  const std::string tree_path = BTree::PathForPool(files.pool_path);
  const uint64_t tree_size = files.index_size != 0
                                 ? files.index_size
                                 : std::max<uint64_t>(16ull << 20, files.pool_size / 8 * 7);
  BTree::Owner owner;
  Result<std::unique_ptr<Pool>> opened = Pool::Open(files.pool_path, {}, files.loops);
  if (opened.ok()) {
    out.pool = std::move(opened).value();
    Result<std::unique_ptr<Log>> l = Log::Open(Log::PathForPool(files.pool_path), *out.pool);
    if (!l.ok()) {
      return Step("open log", l.status());
    }
    out.log = std::move(l).value();
    if (out.log->stream_count() < files.loops) {
      return Status::InvalidArgument("the log has " + std::to_string(out.log->stream_count()) +
                                     " stream(s), one per thread; start with at most " +
                                     std::to_string(out.log->stream_count()) + " thread(s)");
    }
    std::memcpy(owner.data(), out.pool->header().uuid, owner.size());
    Result<std::unique_ptr<BTree>> t = BTree::Open(tree_path);
    if (!t.ok() && t.status().code() == StatusCode::kNotFound) {
      // A pool from before the index file: the log holds everything; the index starts empty.
      t = BTree::Create(tree_path, tree_size, owner);
    }
    if (!t.ok()) {
      return Step("open index", t.status());
    }
    out.tree = std::move(t).value();
    if (out.tree->owner() != owner) {
      return Status::Corruption("open index: " + tree_path + " belongs to another pool");
    }
    Result<StoreRecovery> r =
        RecoverStore(*out.pool, *out.log, out.tree.get(), *out.index, files.checkpoints);
    if (!r.ok()) {
      return Step("recover " + files.pool_path, r.status());
    }
    out.recovered = std::move(r).value();
  } else if (opened.status().code() == StatusCode::kNotFound) {
    PoolParams pp;
    pp.buffer_size = files.buffer_size;
    pp.partitions = files.loops;
    Result<std::unique_ptr<Pool>> created = Pool::Create(files.pool_path, files.pool_size, pp);
    if (!created.ok()) {
      return Step("create pool", created.status());
    }
    out.pool = std::move(created).value();
    LogParams lp;
    lp.streams = files.loops;  // one per loop
    lp.stream_size = (files.log_size + 4095) / 4096 * 4096;
    Result<std::unique_ptr<Log>> l = Log::Create(Log::PathForPool(files.pool_path), lp, *out.pool);
    if (!l.ok()) {
      ::unlink(files.pool_path.c_str());
      return Step("create log", l.status());
    }
    out.log = std::move(l).value();
    std::memcpy(owner.data(), out.pool->header().uuid, owner.size());
    // An index file left without its pool and log (removed by hand) indexes buffers that are gone
    // and names another pool's uuid: it can serve nothing, and the new pool replaces it.
    ::unlink(tree_path.c_str());
    Result<std::unique_ptr<BTree>> t = BTree::Create(tree_path, tree_size, owner);
    if (!t.ok()) {
      ::unlink(Log::PathForPool(files.pool_path).c_str());
      ::unlink(files.pool_path.c_str());
      return Step("create index", t.status());
    }
    out.tree = std::move(t).value();
    out.index->AttachTree(out.tree.get(), files.checkpoints, lp.streams > 1, 0, 0);
    out.index->TrackStreams(out.log->stream_count());  // every stream empty: horizons 0
    out.created = true;
  } else {
    return Step("open pool", opened.status());
  }
  out.open_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

Result<std::unique_ptr<Store>> Store::Open(const StoreFiles& files) {
  Result<OpenedStore> opened = OpenOrCreate(files);
  if (!opened.ok()) {
    return opened.status();
  }
  OpenedStore& out = *opened;
  std::unique_ptr<Store> store(new Store());
  store->start_.created = out.created;
  store->start_.open_ms = out.open_ms;
  store->start_.keys = out.index->live_keys();
  store->start_.index_file_keys = out.recovered.tree_live;
  store->start_.log_records = out.recovered.log.records;
  store->pool_ = out.pool.get();
  store->log_ = out.log.get();
  store->index_ = out.index.get();
  store->loops_ = files.loops;
  store->none_sequence_.store(out.log->next_sequence() + kNoneSequenceBase);
  store->own_pool_ = std::move(out.pool);
  store->own_log_ = std::move(out.log);
  store->own_tree_ = std::move(out.tree);
  store->own_index_ = std::move(out.index);
  return store;
}

std::unique_ptr<Store> Store::Over(Pool& pool, Log& log, Index& index, uint32_t loops) {
  std::unique_ptr<Store> store(new Store());
  store->start_.keys = index.live_keys();
  store->pool_ = &pool;
  store->log_ = &log;
  store->index_ = &index;
  store->loops_ = loops;
  store->none_sequence_.store(log.next_sequence() + kNoneSequenceBase);
  return store;
}

std::string Store::Durability() const {
  return pool_->file()->DescribeDurability();
}
uint64_t Store::live_keys() const {
  return index_->live_keys();
}
uint64_t Store::live_bytes() const {
  return index_->live_bytes();
}
uint64_t Store::expiring_keys() const {
  return index_->expiring_keys();
}

uint64_t Store::memory_keys() const {
  return index_->map_keys();
}
uint64_t Store::index_tombstones() const {
  return index_->tree_tombstones();
}
uint64_t Store::log_bytes() const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < log_->stream_count(); ++i) {
    n += log_->stream(i).capacity();
  }
  return n;
}
uint64_t Store::index_file_bytes() const {
  return index_->tree_pages() * kBTreePageSize;
}
uint64_t Store::index_file_bytes_in_use() const {
  return index_->tree_pages_in_use() * kBTreePageSize;
}
bool Store::Get(std::string_view key, Value* out) const {
  return index_->GetAndRetain(key, *pool_, out);
}

bool Store::Contains(std::string_view key) const {
  return index_->Contains(key);
}

void Store::ForEachLive(const std::function<bool(std::string_view key, const Value& v)>& fn,
                        std::string_view prefix) const {
  index_->ForEachLive(fn, prefix);
}

std::vector<uint32_t> LoopStreams(uint32_t stream_count, uint32_t loops, uint32_t loop) {
  std::vector<uint32_t> out;
  for (uint32_t s = loop; s < stream_count; s += loops) {
    out.push_back(s);
  }
  return out;
}

}  // namespace pastel::store

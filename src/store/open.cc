#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "buffer_map.h"
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

Status ScanTree(Pool& pool, const BTree& tree,
                const std::function<bool(std::string_view key)>& replaced,
                std::span<const uint64_t> must_hold, const std::atomic<bool>* stop, TreeScan* out) {
  Status failed;
  Value e;
  tree.Scan({}, [&](std::string_view k, std::string_view bytes) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
      failed = Status::Busy("stopped");
      return false;
    }
    ++out->entries;
    if (!DecodeIndexValue(bytes, &e)) {
      failed = Status::Corruption("index entry of '" + Printable(k) + "' is malformed");
      return false;
    }
    if (replaced(k)) {
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
      if (!must_hold.empty() && (must_hold[x.buffer / 64] >> (x.buffer % 64) & 1) == 0) {
        failed = Status::Corruption("index entry of '" + Printable(k) + "' names buffer " +
                                    std::to_string(x.buffer) +
                                    ", which the buffer map of its commit does not hold");
        return false;
      }
    }
    for (const Extent& x : e.extents) {
      failed = pool.Retain(x.buffer);
      if (!failed.ok()) {
        failed = Status::Corruption("index entry of '" + Printable(k) + "' names buffer " +
                                    std::to_string(x.buffer) + ": " + failed.message());
        return false;
      }
    }
    if (e.deleted) {
      out->tombstones.emplace_back(std::string(k), e.sequence);
      return true;
    }
    ++out->live;
    out->live_internal += IsInternalKey(k) ? 1 : 0;
    out->live_bytes += e.length;
    if (e.expire_ms != 0) {
      // A value with an expiry time is kept in the map (saved), where the expiry cycle finds it.
      out->expiring.emplace_back(std::string(k), e);
    }
    return true;
  });
  return failed;
}

namespace {

// The log's tail into the map (unsaved: the tree does not hold it yet), and its deletes of keys
// the tree may hold as tombstones until a checkpoint.
void LoadTail(const Recovered& log, BTree* tree, bool checkpoints, Index& index) {
  index.Reserve(log.live.size() + (tree != nullptr ? log.deleted.size() : 0));
  for (const auto& [key, lv] : log.live) {
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
  if (tree == nullptr) {
    return;
  }
  for (const auto& [key, seq] : log.deleted) {
    Value e;
    e.sequence = seq;
    e.deleted = true;
    e.unsaved = checkpoints;
    index.LoadEntry(key, std::move(e));
  }
}

// Each stream's tombstone horizon, as the start leaves the log.
void TrackHorizons(Log& log, const Recovered& r, Index& index) {
  index.TrackStreams(log.stream_count());
  for (uint32_t i = 0; i < log.stream_count(); ++i) {
    // An empty stream holds no record, and its next ones come after every sequence handed out
    // so far. One that holds records keeps its tombstones' horizon at 0 until its loop's first
    // checkpoint truncates it (it may hold compaction copies of older sequences).
    if (log.stream(i).tail() == LogStream::records_begin()) {
      index.SetStreamHorizon(i, r.next_sequence - 1);
    }
  }
}

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
  // Several streams (several loops, or a pool from before one stream per loop): another loop's
  // stream may hold an older write of a deleted key, so deletes stay in the tree as tombstones
  // until every stream is past them.
  const bool keep_tombstones = log.stream_count() > 1;
  if (tree != nullptr) {
    // One pass over the tree's leaves: the buffers of every entry no later log record replaced
    // are retained; the entries stay in the tree, where the index reads them.
    std::unordered_set<std::string_view> replaced;
    for (const auto& [key, lv] : out.log.live) {
      replaced.insert(key);
    }
    for (const auto& [key, seq] : out.log.deleted) {
      replaced.insert(key);
    }
    TreeScan scan;
    PASTEL_RETURN_IF_ERROR(ScanTree(
        pool, *tree, [&](std::string_view k) { return replaced.count(k) != 0; }, {}, nullptr,
        &scan));
    out.tree_entries = scan.entries;
    out.tree_live = scan.live;
    uint64_t loaded_bytes = 0;
    uint64_t loaded_internal = 0;
    for (auto& [key, e] : scan.expiring) {
      loaded_bytes += e.length;
      loaded_internal += IsInternalKey(key) ? 1 : 0;
      index.LoadEntry(key, std::move(e));  // counted by the map's entry
    }
    for (auto& [key, seq] : scan.tombstones) {
      index.NoteTreeTombstone(std::move(key), seq);
    }
    LoadTail(out.log, tree, checkpoints, index);
    index.AttachTree(tree, checkpoints, keep_tombstones, scan.live - scan.expiring.size(),
                     scan.live_internal - loaded_internal, scan.live_bytes - loaded_bytes);
    TrackHorizons(log, out.log, index);
  } else {
    LoadTail(out.log, tree, checkpoints, index);
  }
  PASTEL_RETURN_IF_ERROR(pool.FinishRecovery());
  return out;
}

Result<StoreRecovery> RecoverStoreFast(Pool& pool, Log& log, BTree& tree, Index& index,
                                       std::span<const uint64_t> bits, WarmStart* warm) {
  StoreRecovery out;
  RecoveryOptions o;
  o.finish_pool = false;
  // What the tree holds for each key the log's tail names (asked once per record: kept).
  struct InTree {
    uint64_t sequence = 0;
    bool live = false;
    bool expiring = false;
    uint32_t length = 0;
  };
  struct Hash {  // (looked up by view: no copy per record)
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };
  std::unordered_map<std::string, InTree, Hash, std::equal_to<>> asked;
  std::string scratch;
  Value v;
  auto lookup = [&](std::string_view key) -> const InTree& {
    auto it = asked.find(key);
    if (it != asked.end()) {
      return it->second;
    }
    InTree t;
    if (tree.Get(key, &scratch) && DecodeIndexValue(scratch, &v)) {
      t = {v.sequence, !v.deleted, !v.deleted && v.expire_ms != 0, v.length};
    }
    return asked.emplace(std::string(key), t).first->second;
  };
  o.base_sequence = [&](std::string_view key) -> uint64_t { return lookup(key).sequence; };
  Result<Recovered> r = log.Recover(o);
  if (!r.ok()) {
    return r.status();
  }
  out.log = std::move(r).value();
  // The tree's counts as its last commit saved them, less its live values the tail replaces.
  const BTree::User& u = tree.user();
  uint64_t keys = u[1];
  uint64_t bytes = u[2];
  uint64_t expiring = u[3] & ~kUserCountsSaved;
  // The keys of the application's namespace are not among the saved counts: the tree's are
  // counted here, one ordered run from kInternalKeysFrom on (pastel-kv reads the same run at its
  // start for its directories; a store without such keys pays one descent).
  uint64_t internal = 0;
  tree.Scan(kInternalKeysFrom, [&](std::string_view, std::string_view entry) {
    internal += DecodeIndexValue(entry, &v) && !v.deleted ? 1 : 0;
    return true;
  });
  auto replace = [&](const std::string& key) {
    const InTree& t = lookup(key);
    keys -= t.live ? 1 : 0;
    internal -= t.live && IsInternalKey(key) ? 1 : 0;
    bytes -= t.live ? t.length : 0;
    expiring -= t.expiring ? 1 : 0;
    warm->replaced.push_back(key);
  };
  warm->replaced.reserve(out.log.live.size() + out.log.deleted.size());
  for (const auto& [key, lv] : out.log.live) {
    replace(key);
  }
  for (const auto& [key, seq] : out.log.deleted) {
    replace(key);
  }
  std::sort(warm->replaced.begin(), warm->replaced.end());
  // Every buffer the tree may name is held (kWarmHold references) until the warm-up has counted
  // the tree's own references: none is handed out, and a write that replaces a tree value before
  // its references were counted cannot free the buffer.
  warm->bits.assign(bits.begin(), bits.end());
  for (uint32_t i = 0; i < pool.buffer_count(); ++i) {
    if ((warm->bits[i / 64] >> (i % 64) & 1) != 0) {
      PASTEL_RETURN_IF_ERROR(pool.Retain(i, kWarmHold));
    }
  }
  out.tree_entries = tree.entries();
  out.tree_live = keys;
  LoadTail(out.log, &tree, /*checkpoints=*/true, index);
  index.AttachTree(&tree, /*checkpoints=*/true, log.stream_count() > 1, 0, 0, 0);
  index.BeginWarmUp(keys, internal, bytes, expiring);
  TrackHorizons(log, out.log, index);
  PASTEL_RETURN_IF_ERROR(pool.FinishRecovery());
  return out;
}

Status RunWarmUp(Pool& pool, BTree& tree, Index& index, const WarmStart& warm,
                 const std::atomic<bool>* stop, uint64_t* entries) {
  PASTEL_RETURN_IF_ERROR(tree.FinishVerify());
  TreeScan scan;
  // The scan asks for every entry in key order, so the sorted tail keys are walked alongside.
  size_t next = 0;
  auto replaced = [&](std::string_view k) {
    while (next < warm.replaced.size() && std::string_view(warm.replaced[next]) < k) {
      ++next;
    }
    return next < warm.replaced.size() && warm.replaced[next] == k;
  };
  PASTEL_RETURN_IF_ERROR(ScanTree(pool, tree, replaced, warm.bits, stop, &scan));
  // The tree's references are counted: the hold comes off (a buffer nothing else holds is free).
  for (uint32_t i = 0; i < pool.buffer_count(); ++i) {
    if ((warm.bits[i / 64] >> (i % 64) & 1) != 0) {
      PASTEL_RETURN_IF_ERROR(pool.Unretain(i, kWarmHold));
    }
  }
  Index::WarmUp w;
  w.keys = scan.live;
  w.internal = scan.live_internal;
  w.bytes = scan.live_bytes;
  w.expiring = std::move(scan.expiring);
  w.tombstones = std::move(scan.tombstones);
  if (entries != nullptr) {
    *entries = scan.entries;
  }
  index.FinishWarmUp(std::move(w));
  return Status::Ok();
}

Store::Store() = default;
Store::~Store() {
  if (warm_thread_.joinable()) {
    stop_warm_.store(true, std::memory_order_relaxed);
    warm_thread_.join();
  }
}

bool Store::warming() const {
  return !index_->warm() && !pool_->read_only();
}

bool Store::WaitWarm() const {
  return index_->WaitWarm();
}

namespace {

Status OpenBufferMap(const std::string& pool_path, const Pool& pool, const BTree::Owner& owner,
                     OpenedStore* out) {
  Result<std::unique_ptr<BufferMap>> m =
      BufferMap::OpenOrCreate(BufferMap::PathForPool(pool_path), pool.buffer_count(), owner);
  if (!m.ok()) {
    return Step("open buffer map", m.status());
  }
  out->buffer_map = std::move(m).value();
  out->index->AttachBufferMap(out->buffer_map.get(), out->pool.get());
  return Status::Ok();
}

}  // namespace

Result<OpenedStore> OpenOrCreate(const StoreFiles& files, bool keep_warm_up) {
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
    Result<std::unique_ptr<BTree>> t =
        BTree::Open(tree_path, {}, files.checkpoints ? BTree::Check::kLater : BTree::Check::kNow);
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
    std::span<const uint64_t> bits;
    if (files.checkpoints) {
      PASTEL_RETURN_IF_ERROR(OpenBufferMap(files.pool_path, *out.pool, owner, &out));
      if (!out.tree->verified() && (out.tree->user()[3] & kUserCountsSaved) != 0) {
        bits = out.buffer_map->Bits(out.tree->epoch());
      }
    }
    if (bits.empty()) {
      // No buffer map of the tree's commit (a first start of an older build's files, a crash
      // that damaged it): the whole index file is read before the start serves.
      Status v = out.tree->FinishVerify();
      if (!v.ok()) {
        return Step("open index", Status(v.code(), tree_path + ": " + v.message()));
      }
    } else {
      out.warm = std::make_unique<WarmStart>();
    }
    Result<StoreRecovery> r =
        bits.empty()
            ? RecoverStore(*out.pool, *out.log, out.tree.get(), *out.index, files.checkpoints)
            : RecoverStoreFast(*out.pool, *out.log, *out.tree, *out.index, bits, out.warm.get());
    if (!r.ok()) {
      return Step("recover " + files.pool_path, r.status());
    }
    out.recovered = std::move(r).value();
    if (out.warm != nullptr && !keep_warm_up) {
      Status w = RunWarmUp(*out.pool, *out.tree, *out.index, *out.warm, nullptr);
      if (!w.ok()) {
        return Step("recover " + files.pool_path, w);
      }
      out.warm.reset();
    }
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
    if (files.checkpoints) {
      ::unlink(BufferMap::PathForPool(files.pool_path).c_str());  // another pool's, if any
      Status m = OpenBufferMap(files.pool_path, *out.pool, owner, &out);
      if (!m.ok()) {
        ::unlink(tree_path.c_str());
        ::unlink(Log::PathForPool(files.pool_path).c_str());
        ::unlink(files.pool_path.c_str());
        return m;
      }
    }
    out.index->AttachTree(out.tree.get(), files.checkpoints, lp.streams > 1, 0, 0, 0);
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
  Result<OpenedStore> opened = OpenOrCreate(files, files.warm_up_in_background);
  if (!opened.ok()) {
    return opened.status();
  }
  OpenedStore& out = *opened;
  // Recovery has read the log and the values it names; from here on both are written in small
  // pieces (docs/formats/pool.md, "On block storage").
  for (const PmFile* f : {out.pool->file(), out.log->file()}) {
    if (f != nullptr) {
      f->PreferSmallFolios();
    }
  }
  std::unique_ptr<Store> store(new Store());
  store->start_.warming = out.warm != nullptr;
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
  store->own_map_ = std::move(out.buffer_map);
  if (out.warm != nullptr) {
    store->warm_thread_ = std::thread([s = store.get(), warm = std::move(out.warm),
                                       hold = files.warm_up_hold] {
      if (hold) {
        hold();
      }
      const auto t0 = std::chrono::steady_clock::now();
      uint64_t entries = 0;
      Status st =
          RunWarmUp(*s->own_pool_, *s->own_tree_, *s->own_index_, *warm, &s->stop_warm_, &entries);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (st.ok()) {
        std::printf(
            "index file verified and its %llu entries counted in the background in %.1f ms\n",
            static_cast<unsigned long long>(entries), ms);
      } else if (st.code() != StatusCode::kBusy) {
        // The tree is damaged: nothing more is written (the holds stay, no checkpoint runs).
        std::fprintf(stderr, "pastel: index warm-up failed: %s; the store is read-only\n",
                     st.ToString().c_str());
        s->pool_->SetReadOnly(Status::ReadOnly("index warm-up: " + st.ToString()));
      }
      std::fflush(stdout);
      if (!st.ok()) {
        s->index_->FailWarmUp();
      }
    });
  }
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
uint64_t Store::live_user_keys() const {
  return index_->live_user_keys();
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

void Store::VisitLiveFrom(
    uint64_t start, const std::function<bool(std::string_view key, const Value& v)>& fn) const {
  size_t cursor = start;
  (void)index_->VisitLive(&cursor, SIZE_MAX, fn);  // (Visit looks at each slot at most once)
}

std::vector<uint32_t> LoopStreams(uint32_t stream_count, uint32_t loops, uint32_t loop) {
  std::vector<uint32_t> out;
  for (uint32_t s = loop; s < stream_count; s += loops) {
    out.push_back(s);
  }
  return out;
}

}  // namespace pastel::store

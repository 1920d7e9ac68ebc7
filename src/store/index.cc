#include <mutex>

#include "pastel/store.h"

namespace pastel::store {

bool Index::GetAndRetain(std::string_view key, Pool& pool, Value* out) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.deleted) {
    return false;
  }
  for (const Extent& e : it->second.extents) {
    // Invariant: a live entry holds a reference on each of its buffers, so this cannot fail.
    Status st = pool.Retain(e.buffer);
    (void)st;
  }
  out->sequence = it->second.sequence;
  out->deleted = false;
  out->length = it->second.length;
  out->extents.assign(it->second.extents.begin(), it->second.extents.end());
  return true;
}

bool Index::Contains(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(key);
  return it != map_.end() && !it->second.deleted;
}

Value Index::Apply(std::string_view key, Value v) {
  std::unique_lock lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) {
    if (!v.deleted) {
      ++live_keys_;
      live_bytes_ += v.length;
    }
    map_.emplace(std::string(key), std::move(v));
    return Value{};
  }
  if (it->second.sequence > v.sequence) {
    return v;  // a later write of this key is already in place
  }
  Value& cur = it->second;
  live_keys_ += (v.deleted ? 0 : 1) - (cur.deleted ? 0 : 1);
  live_bytes_ += (v.deleted ? 0 : v.length);
  live_bytes_ -= (cur.deleted ? 0 : cur.length);
  std::swap(cur, v);
  return v;
}

bool Index::IsCurrent(std::string_view key, uint64_t sequence) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(key);
  return it != map_.end() && it->second.sequence == sequence;
}

void Index::EraseTombstone(std::string_view key, uint64_t sequence) {
  std::unique_lock lock(mu_);
  auto it = map_.find(key);
  if (it != map_.end() && it->second.deleted && it->second.sequence == sequence) {
    map_.erase(it);
  }
}

void Index::ForEachLive(const std::function<bool(std::string_view key, const Value& v)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [k, v] : map_) {
    if (!v.deleted && !fn(k, v)) {
      return;
    }
  }
}

void Index::Load(const LiveMap& live) {
  std::unique_lock lock(mu_);
  map_.clear();
  map_.reserve(live.size());
  live_keys_ = 0;
  live_bytes_ = 0;
  for (const auto& [k, lv] : live) {
    Value v;
    v.sequence = lv.sequence;
    v.length = lv.value_len;
    v.extents = lv.extents;
    map_.emplace(k, std::move(v));
    ++live_keys_;
    live_bytes_ += lv.value_len;
  }
}

uint64_t Index::live_keys() const {
  std::shared_lock lock(mu_);
  return live_keys_;
}

uint64_t Index::live_bytes() const {
  std::shared_lock lock(mu_);
  return live_bytes_;
}

}  // namespace pastel::store

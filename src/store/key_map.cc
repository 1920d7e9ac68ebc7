#include <cstring>
#include <new>

#include "store_index.h"

namespace pastel::store {

namespace {

// Linear probing stays short below three quarters full.
constexpr size_t kMaxLoadNum = 3;
constexpr size_t kMaxLoadDen = 4;
constexpr size_t kMinSlots = 16;

}  // namespace

KeyMap::Entry* KeyMap::Find(std::string_view key, uint64_t hash) const {
  if (slots_.empty()) {
    return nullptr;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.entry == nullptr) {
      return nullptr;
    }
    if (s.hash == hash && s.entry->key() == key) {
      return s.entry;
    }
  }
}

void KeyMap::Prefetch(std::span<const uint64_t> hashes, const Pool* pool) const {
  if (slots_.empty()) {
    return;
  }
  const size_t mask = slots_.size() - 1;
  for (const uint64_t h : hashes) {
    __builtin_prefetch(&slots_[h & mask]);
  }
  // By now the first slots are in: their entries' Value and key (the key follows the Value).
  for (const uint64_t h : hashes) {
    const Slot& s = slots_[h & mask];
    if (s.entry != nullptr && s.hash == h) {
      __builtin_prefetch(s.entry);
      __builtin_prefetch(reinterpret_cast<const char*>(s.entry) + sizeof(Entry));
    }
  }
  if (pool == nullptr) {
    return;
  }
  // Then the values of those entries: their first extent's line and buffer state.
  for (const uint64_t h : hashes) {
    const Slot& s = slots_[h & mask];
    if (s.entry != nullptr && s.hash == h && !s.entry->value.extents.empty()) {
      const Extent& x = s.entry->value.extents[0];
      pool->Prefetch(x.buffer, x.offset);
    }
  }
}

void KeyMap::Place(uint64_t hash, Entry* e) {
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].entry != nullptr) {
    i = (i + 1) & mask;
  }
  slots_[i] = {hash, e};
}

KeyMap::Entry* KeyMap::InsertNew(std::string_view key, uint64_t hash, Value v) {
  if ((size_ + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum) {
    Rehash(std::max(kMinSlots, slots_.size() * 2));
  }
  void* mem = arena_->allocate(EntryBytes(key.size()), alignof(Entry));
  Entry* e = new (mem) Entry(std::move(v), static_cast<uint32_t>(key.size()));
  if (!key.empty()) {
    std::memcpy(reinterpret_cast<char*>(e + 1), key.data(), key.size());
  }
  Place(hash, e);
  ++size_;
  return e;
}

KeyMap::Entry* KeyMap::InsertOrAssign(std::string_view key, Value v) {
  const uint64_t hash = HashOf(key);
  if (Entry* e = Find(key, hash)) {
    e->value = std::move(v);
    return e;
  }
  return InsertNew(key, hash, std::move(v));
}

bool KeyMap::Erase(std::string_view key) {
  if (slots_.empty()) {
    return false;
  }
  const uint64_t hash = HashOf(key);
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  for (;; i = (i + 1) & mask) {
    if (slots_[i].entry == nullptr) {
      return false;
    }
    if (slots_[i].hash == hash && slots_[i].entry->key() == key) {
      break;
    }
  }
  EraseSlot(i);
  return true;
}

void KeyMap::Erase(const Entry* e) {
  const size_t mask = slots_.size() - 1;
  size_t i = HashOf(e->key()) & mask;
  while (slots_[i].entry != e) {
    i = (i + 1) & mask;
  }
  EraseSlot(i);
}

void KeyMap::EraseSlot(size_t i) {
  const size_t mask = slots_.size() - 1;
  Entry* e = slots_[i].entry;
  const size_t bytes = EntryBytes(e->key_len_);
  e->~Entry();
  arena_->deallocate(e, bytes, alignof(Entry));
  --size_;
  // Backward shift: every later entry of the run whose home slot is not cyclically in (i, j]
  // moves into the hole, so that no lookup meets an empty slot before its key.
  for (size_t j = (i + 1) & mask; slots_[j].entry != nullptr; j = (j + 1) & mask) {
    const size_t home = slots_[j].hash & mask;
    const bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
}

void KeyMap::clear() {
  for (Slot& s : slots_) {
    if (s.entry != nullptr) {
      const size_t bytes = EntryBytes(s.entry->key_len_);
      s.entry->~Entry();
      arena_->deallocate(s.entry, bytes, alignof(Entry));
      s = Slot{};
    }
  }
  size_ = 0;
}

void KeyMap::reserve(size_t n) {
  size_t want = kMinSlots;
  while (n * kMaxLoadDen > want * kMaxLoadNum) {
    want *= 2;
  }
  if (want > slots_.size()) {
    Rehash(want);
  }
}

void KeyMap::Rehash(size_t slots) {
  std::pmr::vector<Slot> old(slots, arena_);
  old.swap(slots_);
  for (const Slot& s : old) {
    if (s.entry != nullptr) {
      Place(s.hash, s.entry);
    }
  }
}

}  // namespace pastel::store

#pragma once
// The key index of pastel-httpd: key -> where the durable value lies (extents in pool buffers),
// rebuilt from the log at start. Shared by every loop; readers take it shared, a loop applying a
// committed batch takes it exclusive.
//
// Only durable state enters the index (a loop applies its batch after the batch's fence), so no
// loop ever serves a value that a crash could take back. Entries carry the log sequence of the
// write that made them, and a write only replaces an entry of a lower sequence: loops committing
// writes of the same key in another order than their sequences still end where recovery (which
// replays by sequence) would. A delete leaves a tombstone with its sequence for the same reason.
//
// Buffer references: every live entry holds one pool reference per extent (taken by the writer,
// or by recovery); the loser of a replacement has its references dropped by the caller.

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pastel/log.h"
#include "pastel/pool.h"

namespace pastel::httpd {

struct Value {
  uint64_t sequence = 0;
  bool deleted = false;  // tombstone
  uint32_t length = 0;
  std::vector<Extent> extents;
};

class Index {
 public:
  // Copies the live value of `key` into `out` and takes one pool reference on each of its
  // buffers while the entry cannot change, so the bytes stay put until the caller drops them
  // (Pool::Unretain). False when absent or deleted.
  bool GetAndRetain(std::string_view key, Pool& pool, Value* out) const;
  bool Contains(std::string_view key) const;

  // Installs `v` for `key` unless the present entry has a higher sequence. Returns the value that
  // lost (the old one, or `v` itself when it was older), whose references the caller drops.
  Value Apply(std::string_view key, Value v);

  // True when the entry of `key` (live or tombstone) was made by the write of `sequence`: the
  // record of that write is still needed (compaction keeps it).
  bool IsCurrent(std::string_view key, uint64_t sequence) const;
  // Forgets the tombstone of `key` if it is still the one of `sequence`.
  void EraseTombstone(std::string_view key, uint64_t sequence);

  // Start-up: the recovered live set (references already taken by recovery).
  void Load(const LiveMap& live);

  uint64_t live_keys() const;
  uint64_t live_bytes() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Value, Hash, std::equal_to<>> map_;
  uint64_t live_keys_ = 0;
  uint64_t live_bytes_ = 0;
};

}  // namespace pastel::httpd

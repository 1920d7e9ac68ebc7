#pragma once
// The buffer map: which pool buffers the index file's committed tree may name, saved with every
// commit, so that a start can hand out receive buffers before it has read the whole index file
// (docs/store.md, "A start that does not grow with the store"; format: docs/formats/buffer-map.md).
//
// The file `<pool>.buffers` has two slots, one per parity of the index file's commit epoch. A
// checkpoint saves the pool's retained buffers (Pool::RetainedBits, taken while no write can
// change the index) into the slot of the epoch it is about to commit, makes it durable, and only
// then commits the tree: the slot of the committed epoch is always whole, and the other one may
// be half written (its checksums say so). A start that finds no valid slot for the tree's epoch
// (a file of an older build, a damaged slot) verifies and scans the index file before serving.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pastel/pm.h"
#include "pastel/status.h"

namespace pastel::store {

// One slot's header, 64 bytes at offset 64 * slot of the file. Fields little-endian.
struct BufferMapSlot {
  char magic[8];          // "PASTELBM"
  uint32_t version;       // 1
  uint32_t buffer_count;  // the pool's
  uint64_t epoch;         // the index file commit whose tree these bits cover
  uint8_t owner[16];      // the pool's uuid
  uint32_t bits_crc;      // CRC-32C of the slot's bitmap ((buffer_count + 63) / 64 words)
  uint32_t reserved[4];   // 0
  uint32_t checksum;      // CRC-32C of bytes [0, 60)
};
static_assert(sizeof(BufferMapSlot) == 64);
static_assert(offsetof(BufferMapSlot, version) == 8);
static_assert(offsetof(BufferMapSlot, buffer_count) == 12);
static_assert(offsetof(BufferMapSlot, epoch) == 16);
static_assert(offsetof(BufferMapSlot, owner) == 24);
static_assert(offsetof(BufferMapSlot, bits_crc) == 40);
static_assert(offsetof(BufferMapSlot, reserved) == 44);
static_assert(offsetof(BufferMapSlot, checksum) == 60);

inline constexpr char kBufferMapMagic[8] = {'P', 'A', 'S', 'T', 'E', 'L', 'B', 'M'};
inline constexpr uint32_t kBufferMapVersion = 1;
inline constexpr uint64_t kBufferMapBitsOffset = 4096;  // slot 0's bitmap; slot 1's follows

class BufferMap {
 public:
  static std::string PathForPool(const std::string& pool_path) { return pool_path + ".buffers"; }
  // The file's size for a pool of `buffer_count` buffers.
  static uint64_t FileSize(uint32_t buffer_count);

  // Opens `path`, or creates it (0600) when it is missing or is not the size a pool of
  // `buffer_count` buffers needs (a new file has no valid slot). `owner`: the pool's uuid.
  static Result<std::unique_ptr<BufferMap>> OpenOrCreate(const std::string& path,
                                                         uint32_t buffer_count,
                                                         std::span<const uint8_t, 16> owner);

  // Opens an existing `path` read-only (pastelctl verify); kNotFound when it is missing, and
  // kCorruption when its size is not what a pool of `buffer_count` buffers needs.
  static Result<std::unique_ptr<BufferMap>> OpenReadOnly(const std::string& path,
                                                         uint32_t buffer_count,
                                                         std::span<const uint8_t, 16> owner);

  // A map over `region` (FileSize(buffer_count) bytes, persisted through `ops`; both outlive it):
  // the power-cut tests keep it in memory under their recording PersistOps.
  static Result<std::unique_ptr<BufferMap>> Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                                   uint32_t buffer_count,
                                                   std::span<const uint8_t, 16> owner);

  // The bits saved for commit `epoch` of the index file ((buffer_count + 63) / 64 words), or an
  // empty span when its slot does not hold them whole (another epoch, a half-written or damaged
  // slot, another pool's).
  std::span<const uint64_t> Bits(uint64_t epoch) const;

  // Saves `bits` as the map of commit `epoch` (about to be committed) into slot epoch % 2: only
  // the words that differ from what the slot held are written, then its header.
  // PERSIST: before, slot epoch % 2 holds the map of an earlier epoch (or nothing) and the other
  // slot that of the index file's committed epoch; after it returns OK, slot epoch % 2 holds
  // `bits` for `epoch`, durable, and the other slot is untouched. A crash in between leaves slot
  // epoch % 2 failing its checksums, and the committed epoch's slot whole.
  Status Save(uint64_t epoch, std::span<const uint64_t> bits);

  uint32_t buffer_count() const { return buffer_count_; }

 private:
  BufferMap() = default;
  static Result<std::unique_ptr<BufferMap>> Adopt(Result<PmFile> f, const std::string& path,
                                                  uint32_t buffer_count,
                                                  std::span<const uint8_t, 16> owner);
  uint64_t* SlotBits(uint32_t slot) const;
  BufferMapSlot* SlotHeader(uint32_t slot) const;

  std::optional<PmFile> file_;  // when opened from a file
  uint8_t* region_ = nullptr;
  PersistOps* ops_ = nullptr;
  uint32_t buffer_count_ = 0;
  uint64_t words_ = 0;       // bitmap words per slot
  uint64_t slot_bytes_ = 0;  // bitmap bytes per slot, whole pages
  uint8_t owner_[16] = {};
};

}  // namespace pastel::store

#pragma once
// On-media layout of a pool file. Spec: docs/formats/pool.md. Changing anything here changes the
// format: bump kPoolVersion.

#include <cstddef>
#include <cstdint>

namespace pastel {

inline constexpr char kPoolMagic[8] = {'P', 'A', 'S', 'T', 'E', 'L', 'P', 'L'};
inline constexpr uint32_t kPoolVersion = 1;
// Buffers start at data_offset, a multiple of this (page aligned for io_uring and msync).
inline constexpr uint64_t kPoolDataAlign = 4096;
inline constexpr uint32_t kMinBufferSize = 512;
inline constexpr uint32_t kMaxBufferSize = 64 * 1024;
inline constexpr uint32_t kDefaultBufferSize = 2048;
inline constexpr uint32_t kMaxPartitions = 256;

// At offset 0 of the pool file. Little-endian, as the CPU stores it (x86-64 only).
struct PoolHeader {
  char magic[8];          // 0: kPoolMagic
  uint32_t version;       // 8: kPoolVersion
  uint32_t header_size;   // 12: sizeof(PoolHeader)
  uint64_t generation;    // 16: format generation, >= 1; a log belongs to one generation
  uint8_t uuid[16];       // 24: random at format time; a log names the pool it belongs to
  uint32_t buffer_size;   // 40: power of two in [kMinBufferSize, kMaxBufferSize]
  uint32_t buffer_count;  // 44: >= 1
  uint64_t data_offset;   // 48: multiple of kPoolDataAlign, >= kPoolDataAlign
  uint64_t file_size;     // 56: data_offset + buffer_count * buffer_size (the file may be larger)
  uint64_t created_unix_ns;  // 64: creation time (information only)
  uint32_t partitions;       // 72: creation parameter: default partitions (threads), 1..256
  uint32_t flags;            // 76: must be 0
  uint8_t reserved[44];      // 80: must be 0
  uint32_t checksum;         // 124: crc32c of bytes [0, 124)
};
static_assert(sizeof(PoolHeader) == 128);
static_assert(offsetof(PoolHeader, generation) == 16);
static_assert(offsetof(PoolHeader, uuid) == 24);
static_assert(offsetof(PoolHeader, buffer_size) == 40);
static_assert(offsetof(PoolHeader, data_offset) == 48);
static_assert(offsetof(PoolHeader, partitions) == 72);
static_assert(offsetof(PoolHeader, checksum) == 124);
static_assert(alignof(PoolHeader) == 8);

inline constexpr size_t kPoolHeaderChecksummedBytes = offsetof(PoolHeader, checksum);

}  // namespace pastel

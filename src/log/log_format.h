#pragma once
// On-media layout of a log file. Spec: docs/formats/log.md. Changing anything here changes the
// format: bump kLogVersion.

#include <cstddef>
#include <cstdint>

#include "pastel/log.h"

namespace pastel {

inline constexpr char kLogMagic[8] = {'P', 'A', 'S', 'T', 'E', 'L', 'L', 'G'};
// Version 2 added records with a word (kRecordFlagWord: expiry times, kExpire records), version 3
// a put's value type (RecordHeader::value_type: a hash's header), version 4 the value types of a
// list's and a set's header, version 5 a sorted set's. A log of an older version is read as it is
// and becomes version 5 when it is opened for appending (Log::Recover with repair), so that a
// binary of before, which would take such records for torn ones, refuses it.
inline constexpr uint32_t kLogVersion = 5;
inline constexpr uint32_t kLogVersionNoWords = 1;
inline constexpr uint32_t kLogVersionNoTypes = 2;
inline constexpr uint32_t kLogVersionNoLists = 3;
inline constexpr uint32_t kLogVersionNoZsets = 4;
inline constexpr uint64_t kLogHeaderRegion = 4096;  // streams start here
inline constexpr uint64_t kStreamAlign = 4096;      // stream_size is a multiple of this
inline constexpr uint64_t kMinStreamSize = 8192;
inline constexpr uint32_t kStreamHeaderMagic = 0x54534C50;  // "PLST"
inline constexpr uint64_t kStreamRecordsOffset = 128;       // two 64-byte header slots first
inline constexpr size_t kRecordAlign = 64;                  // records are whole cache lines
inline constexpr size_t kMaxRecordBytes = 32 * 1024;
inline constexpr uint32_t kMaxStreams = 256;
// Sequences (in records and checkpoints) above this are damage, never written: at 10^9 appends a
// second a writer needs 292 years to get there, and the headroom keeps next_sequence + n from
// wrapping to small numbers that recovery would then take for stale records.
inline constexpr uint64_t kMaxSequence = uint64_t{1} << 63;

// At offset 0 of the log file; written once when the log is created.
struct LogHeader {
  char magic[8];             // 0: kLogMagic
  uint32_t version;          // 8: kLogVersion
  uint32_t header_size;      // 12: sizeof(LogHeader)
  uint32_t stream_count;     // 16: 1..kMaxStreams
  uint32_t flags;            // 20: must be 0
  uint64_t stream_size;      // 24: bytes per stream, multiple of kStreamAlign, >= kMinStreamSize
  uint8_t pool_uuid[16];     // 32: the pool this log belongs to
  uint64_t pool_generation;  // 48: ... and its format generation
  uint64_t created_unix_ns;  // 56
  uint8_t reserved[60];      // 64: must be 0
  uint32_t checksum;         // 124: crc32c of bytes [0, 124)
};
static_assert(sizeof(LogHeader) == 128);
static_assert(offsetof(LogHeader, stream_size) == 24);
static_assert(offsetof(LogHeader, pool_uuid) == 32);
static_assert(offsetof(LogHeader, pool_generation) == 48);
static_assert(offsetof(LogHeader, checksum) == 124);
inline constexpr size_t kLogHeaderChecksummedBytes = offsetof(LogHeader, checksum);

// Two slots at the start of each stream (offsets 0 and 64). The valid slot with the higher
// generation is in force; a truncation writes the other slot, so a torn write of one slot leaves
// the previous one valid.
struct StreamHeader {
  uint32_t magic;           // 0: kStreamHeaderMagic
  uint32_t stream_id;       // 4: index of the stream in the file
  uint32_t generation;      // 8: >= 1; records of any other generation are stale
  uint32_t reserved0;       // 12: must be 0
  uint64_t checkpoint_seq;  // 16: every record with sequence <= this is reflected elsewhere
  uint8_t reserved[36];     // 24: must be 0
  uint32_t checksum;        // 60: crc32c of bytes [0, 60)
};
static_assert(sizeof(StreamHeader) == 64);
static_assert(offsetof(StreamHeader, checkpoint_seq) == 16);
static_assert(offsetof(StreamHeader, checksum) == 60);
inline constexpr size_t kStreamHeaderChecksummedBytes = offsetof(StreamHeader, checksum);

inline constexpr uint8_t kRecordFlagBatchEnd = 0x01;
// The record carries an 8-byte word right after its header (before the extents): a put's absolute
// expiry time (Unix milliseconds, >= 1), a kExpire record's target sequence (>= 1).
inline constexpr uint8_t kRecordFlagWord = 0x02;
inline constexpr size_t kRecordWordBytes = 8;

// A record: this header, then (kRecordFlagWord) an 8-byte word, then n_extents Extents, then
// key_len key bytes, then zero padding up to n_lines * 64 bytes. Records of a stream are contiguous
// from kStreamRecordsOffset.
struct RecordHeader {
  uint32_t header_crc;    // 0: crc32c of the record's n_lines * 64 bytes, this field read as 0
  uint32_t data_crc;      // 4: crc32c of the value bytes the extents point to, in order
  uint64_t sequence;      // 8: global order across streams, strictly increasing in a stream
  uint32_t generation;    // 16: the stream generation it was written in
  uint32_t batch_offset;  // 20: lines from the first record of its batch to this one
  uint16_t n_lines;       // 24: record size in 64-byte lines, >= 1
  uint8_t type;           // 26: RecordType; 0 never appears in a written record
  uint8_t flags;          // 27: kRecordFlagBatchEnd (last record of a batch), kRecordFlagWord
  uint16_t key_len;       // 28: 1..kMaxKeyLen
  uint16_t n_extents;     // 30: 0 for a delete and a kExpire
  uint32_t value_len;     // 32: sum of the extents' lengths
  uint8_t value_type;     // 36: a put's ValueType (0: a string); 0 for a delete and a kExpire
  uint8_t reserved[3];    // 37: must be 0
};
static_assert(sizeof(RecordHeader) == 40);
static_assert(offsetof(RecordHeader, sequence) == 8);
static_assert(offsetof(RecordHeader, batch_offset) == 20);
static_assert(offsetof(RecordHeader, n_lines) == 24);
static_assert(offsetof(RecordHeader, value_len) == 32);
static_assert(offsetof(RecordHeader, value_type) == 36);
static_assert(sizeof(Extent) == 12 && alignof(Extent) == 4);
static_assert(sizeof(RecordHeader) % alignof(Extent) == 0);

inline constexpr size_t RecordBytes(size_t key_len, size_t n_extents, bool word = false) {
  const size_t raw =
      sizeof(RecordHeader) + (word ? kRecordWordBytes : 0) + n_extents * sizeof(Extent) + key_len;
  return (raw + kRecordAlign - 1) / kRecordAlign * kRecordAlign;
}
static_assert(RecordBytes(12, 1) == 64, "a small put is one cache line");
static_assert(RecordBytes(12, 0, true) == 64, "a small kExpire is one cache line");
static_assert((sizeof(RecordHeader) + kRecordWordBytes) % alignof(Extent) == 0);

}  // namespace pastel

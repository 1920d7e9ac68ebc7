// libFuzzer target: Pool::Open on a pool file whose bytes come from the input (a hostile or
// damaged file on disk). Input: one mode byte, then the file's bytes.
//   mode bit 0: recompute the header checksum over the given bytes, so that the fuzzer gets past
//               it and reaches the field checks (a checksum is no defence against a bad writer);
//   mode bit 1: grow the file (sparse zeros) to the size its header claims, at most 4 MiB;
//   mode bit 2: pad the file to a multiple of 4 KiB;
//   mode bits 3..7: partitions asked of Open (0: the header's).
// Checks: Open fails cleanly or gives a pool whose every buffer lies inside the file: each one is
// allocated exactly once (each partition in turn: its own first, then what the others lend),
// written at its first and last byte, and released (ASan and the mapping catch any buffer outside
// the file); Open agrees with Pool::ReadHeader over the same bytes.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_poison.h"
#include "pastel/crc32c.h"
#include "pastel/pool.h"
#include "pool/pool_format.h"

namespace {

using pastel::Pool;
using pastel::PoolHeader;
using pastel::Result;

constexpr uint8_t kFixChecksum = 1;
constexpr uint8_t kGrow = 2;
constexpr uint8_t kPadToPage = 4;
constexpr uint64_t kMaxGrow = 4 << 20;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "pool_open_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

std::string PoolPath() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/pastel-pool-fuzz-" +
         std::to_string(::getpid()) + ".pool";
}

bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes, uint64_t file_size) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  bool ok = bytes.empty() ||
            ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ok = ok && ::ftruncate(fd, static_cast<off_t>(file_size)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t mode = data[0];
  const uint32_t partitions = mode >> 3;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((mode & kFixChecksum) != 0 && bytes.size() >= sizeof(PoolHeader)) {
    const uint32_t crc = pastel::Crc32c(bytes.data(), pastel::kPoolHeaderChecksummedBytes);
    std::memcpy(bytes.data() + offsetof(PoolHeader, checksum), &crc, sizeof(crc));
  }
  uint64_t file_size = bytes.size();
  if ((mode & kGrow) != 0 && bytes.size() >= sizeof(PoolHeader)) {
    uint64_t claimed = 0;
    std::memcpy(&claimed, bytes.data() + offsetof(PoolHeader, file_size), sizeof(claimed));
    file_size = std::max(file_size, std::min(claimed, kMaxGrow));
  }
  if ((mode & kPadToPage) != 0) {
    file_size = (file_size + 4095) / 4096 * 4096;
  }
  // What the file holds, as ReadHeader sees it: the bytes, then zeros up to file_size. The image
  // is kept between inputs (zeroing megabytes per input was most of this target's time): only the
  // prefix the last input wrote is cleared, and what lies past file_size is poisoned so that ASan
  // still reports a read beyond the length ReadHeader was given. An input longer than -max_len's
  // usual 16 KiB gets an image of its own.
  static std::vector<uint8_t> kept(kMaxGrow + 4096 + 16384, 0);
  static size_t kept_dirty = 0;
  std::vector<uint8_t> own;
  uint8_t* image = kept.data();
  if (file_size <= kept.size()) {
    pastel::fuzz::ExposeOnly(kept.data(), kept.size(), kept_dirty);
    std::memset(kept.data(), 0, kept_dirty);
    kept_dirty = bytes.size();
    pastel::fuzz::ExposeOnly(kept.data(), kept.size(), file_size);
  } else {
    own.resize(file_size, 0);
    image = own.data();
  }
  if (!bytes.empty()) {
    std::memcpy(image, bytes.data(), bytes.size());
  }

  static const std::string path = PoolPath();
  if (!WriteFile(path, bytes, file_size)) {
    return 0;  // the file system, not the pool code; nothing to check
  }
  Result<std::unique_ptr<Pool>> pool = Pool::Open(path, {}, partitions);
  const Result<PoolHeader> header = Pool::ReadHeader(image, file_size);
  if (!pool.ok()) {
    Check(!pool.status().message().empty(), "an error without a message");
    // Only the partition count asked for, or a mapping of a size that is not whole pages, may
    // refuse a header that reads well.
    Check(!header.ok() || partitions != 0 || file_size % 4096 != 0,
          "Open refused a header that ReadHeader accepts");
    ::unlink(path.c_str());
    return 0;
  }
  Check(header.ok(), "Open accepted a header that ReadHeader refuses");
  Pool& p = **pool;
  Check(p.buffer_count() == header->buffer_count && p.buffer_size() == header->buffer_size,
        "Open and ReadHeader disagree");
  Check(p.region_size() >= header->file_size, "pool larger than its file");
  Check(p.partitions() >= 1 && p.partitions() <= pastel::kMaxPartitions, "partitions");
  Check(p.FinishRecovery().ok(), "FinishRecovery");
  // Each partition in turn takes what it can without giving anything back: its own buffers first,
  // then (Pool's sharing) the others' above their floors, so that the later partitions find their
  // floors left. Every buffer is handed out exactly once.
  std::vector<uint32_t> taken;
  std::vector<bool> out(p.buffer_count(), false);
  for (uint32_t part = 0; part < p.partitions(); ++part) {
    Check(p.PartitionFirst(part) + p.PartitionCount(part) <= p.buffer_count(), "partition range");
    while (true) {
      const bool own_left = p.FreeInPartition(part) > 0;
      Result<uint32_t> b = p.Allocate(part);
      if (!b.ok()) {
        Check(p.FreeFor(part) == 0, "Allocate refused with buffers to hand out");
        break;
      }
      Check(*b < p.buffer_count(), "allocated buffer out of range");
      Check(!out[*b], "a buffer handed out twice");
      out[*b] = true;
      Check(!own_left || p.PartitionOf(*b) == part, "borrowed with buffers of its own left");
      uint8_t* d = p.BufferData(*b);
      Check(d >= p.region() + sizeof(PoolHeader) &&
                d + p.buffer_size() <= p.region() + p.region_size(),
            "buffer outside the mapping");
      d[0] = 0xA5;
      d[p.buffer_size() - 1] = 0x5A;
      Check(p.IndexOf(d + p.buffer_size() - 1) == *b, "IndexOf");
      taken.push_back(*b);
    }
  }
  const uint32_t seen = static_cast<uint32_t>(taken.size());
  for (uint32_t b : taken) {
    Check(p.Release(b).ok(), "Release");
  }
  Check(seen == p.buffer_count(), "not every buffer could be allocated once");
  Check(p.Counts().free == p.buffer_count(), "buffers lost");
  pool->reset();
  ::unlink(path.c_str());
  return 0;
}

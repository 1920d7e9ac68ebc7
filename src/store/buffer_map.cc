#include "buffer_map.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "pastel/crc32c.h"

namespace pastel::store {
namespace {

uint64_t Words(uint32_t buffer_count) {
  return (uint64_t{buffer_count} + 63) / 64;
}

uint64_t SlotBytes(uint32_t buffer_count) {
  return (Words(buffer_count) * 8 + 4095) / 4096 * 4096;
}

uint32_t SlotChecksum(const BufferMapSlot& h) {
  return Crc32c(&h, offsetof(BufferMapSlot, checksum));
}

}  // namespace

uint64_t BufferMap::FileSize(uint32_t buffer_count) {
  return kBufferMapBitsOffset + 2 * SlotBytes(buffer_count);
}

Result<std::unique_ptr<BufferMap>> BufferMap::OpenOrCreate(const std::string& path,
                                                           uint32_t buffer_count,
                                                           std::span<const uint8_t, 16> owner) {
  const uint64_t size = FileSize(buffer_count);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) != size) {
    // Another pool's size (the pool was made again): its slots can name nothing here.
    ::unlink(path.c_str());
  }
  Result<PmFile> f = PmFile::Open(path);
  if (!f.ok() && f.status().code() == StatusCode::kNotFound) {
    f = PmFile::Create(path, size);
  }
  return Adopt(std::move(f), path, buffer_count, owner);
}

Result<std::unique_ptr<BufferMap>> BufferMap::OpenReadOnly(const std::string& path,
                                                           uint32_t buffer_count,
                                                           std::span<const uint8_t, 16> owner) {
  return Adopt(PmFile::Open(path, PmOpenOptions{.read_only = true}), path, buffer_count, owner);
}

Result<std::unique_ptr<BufferMap>> BufferMap::Adopt(Result<PmFile> f, const std::string& path,
                                                    uint32_t buffer_count,
                                                    std::span<const uint8_t, 16> owner) {
  if (!f.ok()) {
    return Status(f.status().code(), path + ": " + f.status().message());
  }
  Result<std::unique_ptr<BufferMap>> m =
      Attach(f->data(), f->size(), f->ops(), buffer_count, owner);
  if (!m.ok()) {
    return Status(m.status().code(), path + ": " + m.status().message());
  }
  (*m)->file_.emplace(std::move(f).value());
  return m;
}

Result<std::unique_ptr<BufferMap>> BufferMap::Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                                     uint32_t buffer_count,
                                                     std::span<const uint8_t, 16> owner) {
  const uint64_t size = FileSize(buffer_count);
  if (len != size) {
    return Status::Corruption(std::to_string(len) + " bytes, " + std::to_string(size) +
                              " expected");
  }
  std::unique_ptr<BufferMap> m(new BufferMap());
  m->region_ = region;
  m->ops_ = &ops;
  m->buffer_count_ = buffer_count;
  m->words_ = Words(buffer_count);
  m->slot_bytes_ = SlotBytes(buffer_count);
  std::memcpy(m->owner_, owner.data(), sizeof m->owner_);
  return m;
}

uint64_t* BufferMap::SlotBits(uint32_t slot) const {
  return reinterpret_cast<uint64_t*>(region_ + kBufferMapBitsOffset + slot * slot_bytes_);
}

BufferMapSlot* BufferMap::SlotHeader(uint32_t slot) const {
  return reinterpret_cast<BufferMapSlot*>(region_ + slot * sizeof(BufferMapSlot));
}

std::span<const uint64_t> BufferMap::Bits(uint64_t epoch) const {
  const uint32_t slot = static_cast<uint32_t>(epoch % 2);
  BufferMapSlot h;
  std::memcpy(&h, SlotHeader(slot), sizeof h);
  const uint64_t* bits = SlotBits(slot);
  if (std::memcmp(h.magic, kBufferMapMagic, sizeof h.magic) != 0 || h.checksum != SlotChecksum(h) ||
      h.version != kBufferMapVersion || h.buffer_count != buffer_count_ || h.epoch != epoch ||
      std::memcmp(h.owner, owner_, sizeof h.owner) != 0 || h.bits_crc != Crc32c(bits, words_ * 8)) {
    return {};
  }
  return {bits, words_};
}

Status BufferMap::Save(uint64_t epoch, std::span<const uint64_t> bits) {
  if (bits.size() != words_) {
    return Status::InvalidArgument("buffer map: " + std::to_string(bits.size()) + " words for " +
                                   std::to_string(words_));
  }
  const uint32_t slot = static_cast<uint32_t>(epoch % 2);
  PersistOps& ops = *ops_;
  uint64_t* to = SlotBits(slot);
  // The words that changed since this slot was last saved (two commits ago): a checkpoint
  // changes the ownership of a few buffers, not of the whole pool.
  uint64_t first = words_;
  uint64_t last = 0;
  for (uint64_t i = 0; i < words_; ++i) {
    if (to[i] != bits[i]) {
      to[i] = bits[i];
      first = std::min(first, i);
      last = i;
    }
  }
  if (first < words_) {
    // PERSIST: before, slot `slot`'s bitmap is that of an older epoch (its header says so); after,
    // the words that differ are durable, and the header, still naming the older epoch with its
    // bits_crc, no longer matches them (Bits refuses the slot until the header below).
    Status st = ops.Persist(to + first, (last - first + 1) * 8);
    if (!st.ok()) {
      return Status::ReadOnly("buffer map: " + st.ToString());
    }
  }
  BufferMapSlot h{};
  std::memcpy(h.magic, kBufferMapMagic, sizeof h.magic);
  h.version = kBufferMapVersion;
  h.buffer_count = buffer_count_;
  h.epoch = epoch;
  std::memcpy(h.owner, owner_, sizeof h.owner);
  h.bits_crc = Crc32c(to, words_ * 8);
  h.checksum = SlotChecksum(h);
  // PERSIST: before, slot `slot` holds `bits` durable under a header that does not match them;
  // after, its header names `epoch` and their checksum: the slot is whole for `epoch`. The
  // header is one cache line and one sector, written at once or not at all; either way it is
  // checked by its own checksum.
  std::memcpy(SlotHeader(slot), &h, sizeof h);
  Status st = ops.Persist(SlotHeader(slot), sizeof h);
  if (!st.ok()) {
    return Status::ReadOnly("buffer map: " + st.ToString());
  }
  return Status::Ok();
}

}  // namespace pastel::store

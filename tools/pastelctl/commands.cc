#include "tools/pastelctl/commands.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/btree_format.h"
#include "log/log_format.h"
#include "pastel/crc32c.h"
#include "pastel/index.h"
#include "pastel/log.h"
#include "pastel/pm.h"
#include "pastel/pool.h"
#include "pool/pool_format.h"
#include "src/store/store_index.h"
#include "tools/pastelctl/text.h"

namespace pastel::ctl {

namespace {

// At most this many ownership problems are listed one per line; the rest are counted.
constexpr size_t kMaxOwnershipLines = 100;
// Bytes of a value shown by `dump --values`.
constexpr size_t kValuePreviewBytes = 64;

// A pool file and its log, mapped read-only and attached, as the tool opens them (the library's
// Open calls keep the mappings private, and pastelctl also reads raw header slots). Nothing here
// writes to either file. Members are destroyed in reverse order: the log before the pool it points
// to, both before the mappings they live in.
class Store {
 public:
  // Maps the pool file and attaches the pool (partitions from its header, left recovering); with
  // `with_log`, also its log (see OpenLog).
  static Result<std::unique_ptr<Store>> Open(const std::string& pool_path, bool with_log) {
    std::unique_ptr<Store> s(new Store());
    s->pool_path_ = pool_path;
    s->log_path_ = Log::PathForPool(pool_path);
    Result<PmFile> f = PmFile::Open(pool_path, kReadOnly);
    if (!f.ok()) {
      return f.status();
    }
    s->pool_file_.emplace(std::move(f).value());
    Result<std::unique_ptr<Pool>> pool =
        Pool::Attach(s->pool_file_->data(), s->pool_file_->size(), s->pool_file_->ops());
    if (!pool.ok()) {
      return WithPath(pool_path, pool.status());
    }
    s->pool_ = std::move(pool).value();
    if (with_log) {
      PASTEL_RETURN_IF_ERROR(s->OpenLog());
    }
    return s;
  }

  // Maps the log file and attaches it to the pool (checks that it belongs to this pool).
  Status OpenLog() {
    Result<PmFile> f = PmFile::Open(log_path_, kReadOnly);
    if (!f.ok()) {
      return f.status();
    }
    log_file_.emplace(std::move(f).value());
    Result<std::unique_ptr<Log>> log =
        Log::Attach(log_file_->data(), log_file_->size(), log_file_->ops(), *pool_);
    if (!log.ok()) {
      return WithPath(log_path_, log.status());
    }
    log_ = std::move(log).value();
    return Status::Ok();
  }

  const std::string& pool_path() const { return pool_path_; }
  const std::string& log_path() const { return log_path_; }
  const PmFile& pool_file() const { return *pool_file_; }
  const PmFile& log_file() const { return *log_file_; }
  Pool& pool() const { return *pool_; }
  Log& log() const { return *log_; }

 private:
  static constexpr PmOpenOptions kReadOnly{.read_only = true};

  Store() = default;

  static Status WithPath(const std::string& path, const Status& st) {
    return st.ok() ? st : Status(st.code(), path + ": " + st.message());
  }

  std::string pool_path_;
  std::string log_path_;
  std::optional<PmFile> pool_file_;
  std::optional<PmFile> log_file_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Log> log_;
};

void Field(std::string_view name, const std::string& value) {
  std::cout << "  " << std::left << std::setw(18) << name << ' ' << value << '\n';
}

std::string Quoted(std::string_view bytes) {
  return "\"" + EscapeBytes(bytes) + "\"";
}

Result<uint64_t> ParseSizeOption(std::string_view option, const std::string& text) {
  Result<uint64_t> v = ParseSize(text);
  if (!v.ok()) {
    return Status::InvalidArgument(std::string(option) + ": " + v.status().message());
  }
  return v;
}

// The parameters of `create`, parsed and checked before any file is touched.
struct CreatePlan {
  PoolParams pool;
  uint64_t pool_file_size = 0;  // 0: exactly what pool.buffer_count buffers need
  LogParams log;
};

Result<CreatePlan> PlanCreate(const CreateOptions& o) {
  CreatePlan plan;
  Result<uint64_t> bs =
      ParseSizeOption("--buffer-size", o.buffer_size.value_or(kDefaultBufferSize));
  if (!bs.ok()) {
    return bs.status();
  }
  if (*bs < kMinBufferSize || *bs > kMaxBufferSize || !std::has_single_bit(*bs)) {
    return Status::InvalidArgument("--buffer-size: " + std::to_string(*bs) +
                                   " is not a power of two in [" + std::to_string(kMinBufferSize) +
                                   ", " + std::to_string(kMaxBufferSize) + "]");
  }
  plan.pool.buffer_size = static_cast<uint32_t>(*bs);
  if (o.buffers.has_value()) {
    if (*o.buffers == 0 || *o.buffers == Pool::kNoBuffer) {
      return Status::InvalidArgument("--buffers: " + std::to_string(*o.buffers) +
                                     " is not in [1, " + std::to_string(Pool::kNoBuffer - 1) + "]");
    }
    plan.pool.buffer_count = *o.buffers;
  } else {
    Result<uint64_t> size = ParseSizeOption("--size", o.size.value_or(kDefaultPoolSize));
    if (!size.ok()) {
      return size.status();
    }
    const uint64_t min = Pool::RegionSize(plan.pool.buffer_size, 1);
    if (*size < min) {
      return Status::InvalidArgument("--size: " + std::to_string(*size) +
                                     " bytes cannot hold the pool header and one buffer of " +
                                     std::to_string(plan.pool.buffer_size) + " B (need " +
                                     std::to_string(min) + ")");
    }
    plan.pool_file_size = *size;
  }
  plan.pool.partitions = o.partitions.value_or(kDefaultPartitions);
  if (plan.pool.partitions == 0 || plan.pool.partitions > kMaxPartitions) {
    return Status::InvalidArgument("--partitions: " + std::to_string(plan.pool.partitions) +
                                   " is not in [1, " + std::to_string(kMaxPartitions) + "]");
  }
  plan.log.streams = o.log_streams.value_or(kDefaultLogStreams);
  if (plan.log.streams == 0 || plan.log.streams > kMaxStreams) {
    return Status::InvalidArgument("--log-streams: " + std::to_string(plan.log.streams) +
                                   " is not in [1, " + std::to_string(kMaxStreams) + "]");
  }
  Result<uint64_t> ss =
      ParseSizeOption("--log-stream-size", o.log_stream_size.value_or(kDefaultLogStreamSize));
  if (!ss.ok()) {
    return ss.status();
  }
  if (*ss < kMinStreamSize || *ss % kStreamAlign != 0) {
    return Status::InvalidArgument("--log-stream-size: " + std::to_string(*ss) +
                                   " is not a multiple of " + std::to_string(kStreamAlign) +
                                   " of at least " + std::to_string(kMinStreamSize));
  }
  plan.log.stream_size = *ss;
  return plan;
}

void PrintPoolSummary(const std::string& path, const Pool& pool, const PmFile& file) {
  const PoolHeader& h = pool.header();
  std::cout << "pool " << path << '\n';
  Field("buffer size", std::to_string(h.buffer_size));
  Field("buffer count", std::to_string(h.buffer_count));
  Field("file size", FormatSize(file.size()));
  Field("partitions", std::to_string(h.partitions));
  Field("generation", std::to_string(h.generation));
  Field("uuid", HexString(h.uuid));
  Field("durability", file.DescribeDurability());
}

void PrintLogSummary(const std::string& path, const LogHeader& h) {
  std::cout << "log " << path << '\n';
  Field("log streams", std::to_string(h.stream_count));
  Field("log stream size", FormatSize(h.stream_size));
}

// `create --exist-ok` on an existing pool: open both files read-only, recover without repair, and
// check every parameter that was given explicitly.
int ValidateExisting(const CreateOptions& o, const CreatePlan& plan) {
  Result<std::unique_ptr<Store>> store = Store::Open(o.pool_path, /*with_log=*/true);
  if (!store.ok()) {
    return Fail(store.status());
  }
  Store& s = **store;
  RecoveryOptions ro;
  ro.repair = false;
  Result<Recovered> rec = s.log().Recover(ro);
  if (!rec.ok()) {
    return Fail(Status(rec.status().code(), rec.status().message() +
                                                " (run 'pastelctl verify --pool " + o.pool_path +
                                                "' for details)"));
  }
  const PoolHeader& ph = s.pool().header();
  const LogHeader& lh = s.log().header();
  std::vector<std::string> differ;
  const auto check = [&differ](bool given, uint64_t have, uint64_t want, std::string_view what) {
    if (given && have != want) {
      differ.push_back(std::string(what) + " " + std::to_string(have) + " (asked for " +
                       std::to_string(want) + ")");
    }
  };
  check(o.buffer_size.has_value(), ph.buffer_size, plan.pool.buffer_size, "buffer size");
  check(o.buffers.has_value(), ph.buffer_count, plan.pool.buffer_count, "buffer count");
  check(o.size.has_value(), s.pool_file().size(), plan.pool_file_size, "file size");
  check(o.partitions.has_value(), ph.partitions, plan.pool.partitions, "partitions");
  check(o.log_streams.has_value(), lh.stream_count, plan.log.streams, "log streams");
  check(o.log_stream_size.has_value(), lh.stream_size, plan.log.stream_size, "log stream size");
  if (!differ.empty()) {
    std::string m = o.pool_path + " already exists with different parameters:";
    for (size_t i = 0; i < differ.size(); ++i) {
      m += (i == 0 ? " " : ", ") + differ[i];
    }
    return Fail(Status::AlreadyExists(std::move(m)));
  }
  std::cout << "pool and log already exist and are valid\n";
  PrintPoolSummary(s.pool_path(), s.pool(), s.pool_file());
  PrintLogSummary(s.log_path(), lh);
  Field("records", std::to_string(rec->records));
  Field("live keys", std::to_string(rec->live.size()));
  for (const StreamReport& r : rec->streams) {
    if (r.end == ScanEnd::kTorn) {
      std::cout << "  note: stream " << r.stream << " has a torn tail (" << r.detail
                << "); it is discarded when the log is next opened for writing\n";
    }
  }
  return kExitOk;
}

// One stream header slot, described for `info`.
std::string DescribeSlot(const StreamHeader& h, uint32_t stream) {
  const auto* raw = reinterpret_cast<const uint8_t*>(&h);
  if (std::all_of(raw, raw + sizeof(h), [](uint8_t b) { return b == 0; })) {
    return "empty";
  }
  if (h.magic != kStreamHeaderMagic) {
    return "invalid (bad magic)";
  }
  if (h.checksum != Crc32c(&h, kStreamHeaderChecksummedBytes)) {
    return "invalid (checksum mismatch)";
  }
  if (h.stream_id != stream) {
    return "invalid (names stream " + std::to_string(h.stream_id) + ")";
  }
  return "generation " + std::to_string(h.generation) + ", checkpoint seq " +
         std::to_string(h.checkpoint_seq);
}

void PrintStreamHeaders(const Store& s) {
  const LogHeader& lh = s.log().header();
  for (uint32_t i = 0; i < lh.stream_count; ++i) {
    const uint8_t* base = s.log_file().data() + kLogHeaderRegion + i * lh.stream_size;
    StreamHeader slots[2];
    std::memcpy(slots, base, sizeof(slots));
    // The slot in force is the one whose generation the log attached with.
    const uint32_t gen = s.log().stream(i).generation();
    std::string line = "generation " + std::to_string(gen);
    for (uint32_t k = 0; k < 2; ++k) {
      const bool valid = DescribeSlot(slots[k], i).starts_with("generation");
      if (valid && slots[k].generation == gen) {
        line += ", checkpoint seq " + std::to_string(slots[k].checkpoint_seq) + " (slot " +
                std::to_string(k) + " in force; slot " + std::to_string(1 - k) + ": " +
                DescribeSlot(slots[1 - k], i) + ")";
        break;
      }
    }
    Field("stream " + std::to_string(i), line);
  }
}

// Ownership after a recovery: a buffer named by n live extents is retained with n references,
// every other buffer is free.
std::vector<std::string> CheckOwnership(const Pool& pool, const LiveMap& live) {
  std::vector<std::string> problems;
  const uint32_t n = pool.buffer_count();
  std::vector<uint32_t> expected(n, 0);
  std::vector<const std::string*> named_by(n, nullptr);
  for (const auto& [key, lv] : live) {
    for (const Extent& e : lv.extents) {
      if (e.buffer >= n) {
        problems.push_back("key " + Quoted(key) + " names buffer " + std::to_string(e.buffer) +
                           " outside the pool");
        continue;
      }
      ++expected[e.buffer];
      if (named_by[e.buffer] == nullptr) {
        named_by[e.buffer] = &key;
      }
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    const BufferState st = pool.state(i);
    const uint32_t refs = pool.refs(i);
    const std::string b = "buffer " + std::to_string(i);
    if (expected[i] > 0) {
      if (st != BufferState::kRetained || refs != expected[i]) {
        problems.push_back(b + " is named by " + std::to_string(expected[i]) +
                           " live extent(s) (first by key " + Quoted(*named_by[i]) + ") but is " +
                           std::string(BufferStateName(st)) + " with " + std::to_string(refs) +
                           " reference(s)");
      }
    } else if (st != BufferState::kFree) {
      problems.push_back(b + " is " + std::string(BufferStateName(st)) + " with " +
                         std::to_string(refs) + " reference(s) but no live record names it");
    }
  }
  return problems;
}

void PrintRecord(const RecordView& v, const Pool& pool, bool values) {
  std::cout << "stream " << v.stream << " offset " << v.offset << " seq " << v.sequence << ' '
            << (v.type == RecordType::kPut      ? "put"
                : v.type == RecordType::kExpire ? "expire"
                                                : "delete")
            << (v.batch_end ? " batch-end" : "") << " key " << Quoted(v.key);
  if (v.type == RecordType::kExpire) {
    std::cout << " of seq " << v.target << '\n';
    return;
  }
  if (v.type == RecordType::kDelete) {
    std::cout << '\n';
    return;
  }
  if (v.expire_ms != 0) {
    std::cout << " expires_ms " << v.expire_ms;
  }
  std::cout << " value_len " << v.value_len << " extents";
  uint32_t crc = 0;
  for (const Extent& e : v.extents) {
    std::cout << ' ' << e.buffer << ':' << e.offset << '+' << e.length;
    crc = Crc32cExtend(crc, pool.BufferData(e.buffer) + e.offset, e.length);
  }
  std::cout << (crc == v.data_crc ? " data ok" : " data CHECKSUM MISMATCH") << '\n';
  if (values) {
    std::vector<uint8_t> head;
    for (const Extent& e : v.extents) {
      const size_t take = std::min<size_t>(e.length, kValuePreviewBytes - head.size());
      const uint8_t* p = pool.BufferData(e.buffer) + e.offset;
      head.insert(head.end(), p, p + take);
      if (head.size() == kValuePreviewBytes) {
        break;
      }
    }
    std::cout << HexPreview(head, "    ");
    if (v.value_len > head.size()) {
      std::cout << "    ... " << (v.value_len - head.size()) << " more byte(s)\n";
    }
  }
}

// Opens an index file read-only: BTree::Open verifies the whole committed tree and writes nothing.
Result<std::unique_ptr<BTree>> OpenIndex(const std::string& path) {
  return BTree::Open(path, PmOpenOptions{.read_only = true});
}

// A failed index open: damage (kCorruption) is what verify looks for, anything else is a file that
// does not open.
int FailIndexOpen(const Status& st) {
  return Fail(st, st.code() == StatusCode::kCorruption ? kExitCorrupt : kExitError);
}

// One superblock slot of page 0, described for `index-verify`.
std::string DescribeIndexSlot(const uint8_t* page0, int slot) {
  BTreeSuper sb;
  std::memcpy(&sb, page0 + kBTreeSuperSlotOffset[slot], sizeof(sb));
  const auto* raw = reinterpret_cast<const uint8_t*>(&sb);
  if (std::all_of(raw, raw + sizeof(sb), [](uint8_t b) { return b == 0; })) {
    return "empty";
  }
  if (std::memcmp(sb.magic, kBTreeMagic, sizeof(sb.magic)) != 0) {
    return "invalid (bad magic)";
  }
  if (sb.checksum != Crc32c(&sb, kBTreeSuperChecksummed)) {
    return "invalid (checksum mismatch)";
  }
  return "epoch " + std::to_string(sb.epoch) + ", root " + std::to_string(sb.root) + ", height " +
         std::to_string(sb.height) + ", entries " + std::to_string(sb.entries);
}

}  // namespace

int Fail(const Status& st, int exit_code) {
  std::cout.flush();
  std::cerr << "pastelctl: " << st.ToString() << std::endl;
  return exit_code;
}

int RunCreate(const CreateOptions& o) {
  Result<CreatePlan> plan = PlanCreate(o);
  if (!plan.ok()) {
    return Fail(plan.status());
  }
  Result<std::unique_ptr<Pool>> pool = Pool::Create(o.pool_path, plan->pool_file_size, plan->pool);
  if (!pool.ok()) {
    if (pool.status().code() != StatusCode::kAlreadyExists) {
      return Fail(pool.status());
    }
    if (!o.exist_ok) {
      return Fail(Status::AlreadyExists(pool.status().message() +
                                        " (--exist-ok accepts an existing, valid pool)"));
    }
    return ValidateExisting(o, *plan);
  }
  const std::string log_path = Log::PathForPool(o.pool_path);
  Result<std::unique_ptr<Log>> log = Log::Create(log_path, plan->log, **pool);
  if (!log.ok()) {
    // A pool without its log is of no use: take back what this call created.
    pool->reset();
    ::unlink(o.pool_path.c_str());
    return Fail(Status(log.status().code(),
                       log.status().message() + " (removed the new pool " + o.pool_path + ")"));
  }
  std::cout << "created pool and log\n";
  PrintPoolSummary(o.pool_path, **pool, *(*pool)->file());
  PrintLogSummary(log_path, (*log)->header());
  return kExitOk;
}

int RunInfo(const std::string& pool_path) {
  Result<std::unique_ptr<Store>> store = Store::Open(pool_path, /*with_log=*/false);
  if (!store.ok()) {
    return Fail(store.status());
  }
  Store& s = **store;
  const PoolHeader& h = s.pool().header();
  std::cout << "pool " << s.pool_path() << '\n';
  Field("magic", Quoted({h.magic, sizeof(h.magic)}));
  Field("version", std::to_string(h.version));
  Field("header size", std::to_string(h.header_size));
  Field("generation", std::to_string(h.generation));
  Field("uuid", HexString(h.uuid));
  Field("buffer size", std::to_string(h.buffer_size));
  Field("buffer count", std::to_string(h.buffer_count));
  Field("data offset", std::to_string(h.data_offset));
  Field("file size", FormatSize(h.file_size) +
                         (s.pool_file().size() != h.file_size
                              ? " (file on disk: " + std::to_string(s.pool_file().size()) + ")"
                              : ""));
  Field("created", FormatUnixNs(h.created_unix_ns));
  Field("partitions", std::to_string(h.partitions));
  Field("durability", s.pool_file().DescribeDurability());

  Status st = s.OpenLog();
  if (!st.ok()) {
    return Fail(st);
  }
  const LogHeader& lh = s.log().header();
  std::cout << "log " << s.log_path() << '\n';
  Field("magic", Quoted({lh.magic, sizeof(lh.magic)}));
  Field("version", std::to_string(lh.version));
  Field("stream count", std::to_string(lh.stream_count));
  Field("stream size", FormatSize(lh.stream_size));
  Field("pool uuid", HexString(lh.pool_uuid));
  Field("pool generation", std::to_string(lh.pool_generation));
  Field("created", FormatUnixNs(lh.created_unix_ns));
  Field("durability", s.log_file().DescribeDurability());
  PrintStreamHeaders(s);
  return kExitOk;
}

// What a fast start takes from the index file's last commit without reading the tree
// (docs/store.md, "A start that does not grow with the store"): the live counts in its user words,
// and the buffer map of its epoch, which must hold every buffer an entry of the tree names. Prints
// what it finds; returns the problems (a count that differs, a buffer the map does not hold).
std::vector<std::string> CheckStartHints(const Pool& pool, const std::string& pool_path,
                                         const BTree& tree) {
  std::vector<std::string> problems;
  uint64_t live = 0;
  uint64_t bytes = 0;
  uint64_t expiring = 0;
  std::vector<std::pair<std::string, uint32_t>> named;  // key, buffer
  store::Value v;
  tree.Scan({}, [&](std::string_view k, std::string_view b) {
    if (store::DecodeIndexValue(b, &v) && !v.deleted) {
      ++live;
      bytes += v.length;
      expiring += v.expire_ms != 0 ? 1 : 0;
      for (const Extent& e : v.extents) {
        named.emplace_back(std::string(k), e.buffer);
      }
    }
    return true;
  });
  const BTree::User& u = tree.user();
  if ((u[3] & store::kUserCountsSaved) == 0) {
    std::cout << "start: the last commit saved no live counts (an older build's): the next start "
                 "reads the whole index file first\n";
    return problems;
  }
  const uint64_t saved_expiring = u[3] & ~store::kUserCountsSaved;
  if (u[1] != live || u[2] != bytes || saved_expiring != expiring) {
    problems.push_back("the last commit saved " + std::to_string(u[1]) + " live keys, " +
                       std::to_string(u[2]) + " bytes, " + std::to_string(saved_expiring) +
                       " with an expiry time; the tree holds " + std::to_string(live) + ", " +
                       std::to_string(bytes) + ", " + std::to_string(expiring));
  }
  std::array<uint8_t, 16> owner;
  std::memcpy(owner.data(), pool.header().uuid, owner.size());
  const std::string path = store::BufferMap::PathForPool(pool_path);
  Result<std::unique_ptr<store::BufferMap>> m =
      store::BufferMap::OpenReadOnly(path, pool.buffer_count(), owner);
  std::span<const uint64_t> bits;
  if (m.ok()) {
    bits = (*m)->Bits(tree.epoch());
  }
  if (bits.empty()) {
    std::cout << "start: no whole buffer map of epoch " << tree.epoch() << " ("
              << (m.ok() ? "its slot does not check" : m.status().ToString())
              << "): the next start reads the whole index file first\n";
    return problems;
  }
  size_t missing = 0;
  for (const auto& [key, buffer] : named) {
    if ((bits[buffer / 64] >> (buffer % 64) & 1) == 0 && missing++ < kMaxOwnershipLines) {
      problems.push_back("the buffer map of epoch " + std::to_string(tree.epoch()) +
                         " does not hold buffer " + std::to_string(buffer) + ", which '" + key +
                         "' names");
    }
  }
  if (missing == 0) {
    std::cout << "start: counts and buffer map of epoch " << tree.epoch()
              << " match the tree (the next start serves before reading it)\n";
  }
  return problems;
}

int RunVerify(const std::string& pool_path) {
  Result<std::unique_ptr<Store>> store = Store::Open(pool_path, /*with_log=*/true);
  if (!store.ok()) {
    return Fail(store.status());
  }
  Store& s = **store;
  std::cout << "pool " << s.pool_path() << ": " << s.pool().buffer_count() << " buffers of "
            << s.pool().buffer_size() << " B, generation " << s.pool().generation() << '\n';
  std::cout << "log " << s.log_path() << ": " << s.log().stream_count() << " stream(s) of "
            << s.log().header().stream_size << " B\n";
  // The index file, when there is one, is the checkpoint the log is replayed over (as the servers
  // recover: store::RecoverStore).
  std::unique_ptr<BTree> tree;
  const std::string tree_path = BTree::PathForPool(s.pool_path());
  if (::access(tree_path.c_str(), F_OK) == 0) {
    Result<std::unique_ptr<BTree>> t = OpenIndex(tree_path);
    if (!t.ok()) {
      return FailIndexOpen(t.status());
    }
    tree = std::move(t).value();
    const BTreeStats ts = tree->Stats();
    std::cout << "index " << tree_path << ": epoch " << ts.epoch << ", " << ts.entries
              << " entries, checkpoint seq " << tree->user()[0] << '\n';
  }
  RecoveryOptions ro;
  ro.repair = false;
  ro.tolerate_corruption = true;
  store::Index index;
  Result<store::StoreRecovery> recovered =
      store::RecoverStore(s.pool(), s.log(), tree.get(), index, /*checkpoints=*/false, ro);
  if (!recovered.ok()) {
    // Even when tolerating corruption, recovery stops at damage it cannot step over (e.g. a
    // sequence number in two streams, or an index entry that does not decode).
    const bool corrupt = recovered.status().code() == StatusCode::kCorruption;
    return Fail(recovered.status(), corrupt ? kExitCorrupt : kExitError);
  }
  Recovered* rec = &recovered->log;
  if (tree) {
    // The live set is the index's entries the log did not replace, and the log's. Recovery
    // checked the log's values; the index file's are checked here, every one.
    rec->live.clear();
    index.ForEachLive([&](std::string_view key, const store::Value& v) {
      if (store::ValueCrc(s.pool(), v.extents) != v.data_crc) {
        rec->corruption.push_back("value of '" + std::string(key) +
                                  "' fails its data checksum (index entry, sequence " +
                                  std::to_string(v.sequence) + ")");
      }
      LiveValue lv;
      lv.sequence = v.sequence;
      lv.value_len = v.length;
      lv.extents.assign(v.extents.begin(), v.extents.end());
      rec->live.emplace(std::string(key), std::move(lv));
      return true;
    });
  }
  uint64_t batches = 0;
  bool torn = false;
  for (const StreamReport& r : rec->streams) {
    batches += r.batches;
    torn = torn || r.end == ScanEnd::kTorn;
    std::cout << "stream " << r.stream << ": generation " << r.generation << ", checkpoint seq "
              << r.checkpoint_seq << ", " << r.records << " record(s) in " << r.batches
              << " batch(es), tail " << r.tail << ", end " << ScanEndName(r.end);
    if (r.discarded_records > 0) {
      std::cout << ", " << r.discarded_records << " record(s) discarded";
    }
    if (!r.detail.empty()) {
      std::cout << ": " << r.detail;
    }
    std::cout << '\n';
  }
  uint64_t live_bytes = 0;
  for (const auto& [key, lv] : rec->live) {
    live_bytes += lv.value_len;
  }
  const PoolCounts counts = s.pool().Counts();
  std::cout << "records " << rec->records << ", batches " << batches << ", live keys "
            << rec->live.size() << ", live bytes " << live_bytes << '\n';
  std::cout << "buffers retained " << counts.retained << ", free " << counts.free;
  if (counts.app + counts.kernel > 0) {
    std::cout << ", app " << counts.app << ", kernel " << counts.kernel;
  }
  std::cout << '\n';
  for (const std::string& c : rec->corruption) {
    std::cout << "corruption: " << c << '\n';
  }
  const std::vector<std::string> ownership = CheckOwnership(s.pool(), rec->live);
  for (size_t i = 0; i < ownership.size() && i < kMaxOwnershipLines; ++i) {
    std::cout << "ownership: " << ownership[i] << '\n';
  }
  if (ownership.size() > kMaxOwnershipLines) {
    std::cout << "ownership: ... and " << (ownership.size() - kMaxOwnershipLines) << " more\n";
  }
  const std::vector<std::string> start_hints =
      tree ? CheckStartHints(s.pool(), s.pool_path(), *tree) : std::vector<std::string>{};
  for (const std::string& p : start_hints) {
    std::cout << "index: " << p << '\n';
  }
  const size_t problems = rec->corruption.size() + ownership.size() + start_hints.size();
  if (problems > 0) {
    return Fail(Status::Corruption(std::to_string(problems) + " problem(s) found in " +
                                   s.pool_path() + " and its log"),
                kExitCorrupt);
  }
  std::cout << (torn ? "clean; torn tail found (an interrupted write, not damage): it is "
                       "discarded when the log is next opened for writing\n"
                     : "clean\n");
  return kExitOk;
}

int RunDump(const DumpOptions& o) {
  Result<std::unique_ptr<Store>> store = Store::Open(o.pool_path, /*with_log=*/true);
  if (!store.ok()) {
    return Fail(store.status());
  }
  Store& s = **store;
  const Log& log = s.log();
  if (o.stream.has_value() && *o.stream >= log.stream_count()) {
    return Fail(Status::InvalidArgument("--stream " + std::to_string(*o.stream) + ": the log has " +
                                        std::to_string(log.stream_count()) + " stream(s)"));
  }
  struct End {
    uint32_t stream;
    ScanEnd end;
    std::string detail;
    bool limited;
  };
  std::vector<End> ends;
  uint64_t printed = 0;
  const uint32_t first = o.stream.value_or(0);
  const uint32_t last = o.stream.has_value() ? *o.stream + 1 : log.stream_count();
  for (uint32_t i = first; i < last; ++i) {
    End e{i, ScanEnd::kEndOfStream, "", false};
    // The pool is attached but never recovered: every buffer stays readable (and unpoisoned).
    e.end = log.ForEachRecord(
        i,
        [&](const RecordView& v) {
          if (o.limit.has_value() && printed >= *o.limit) {
            e.limited = true;
            return false;
          }
          PrintRecord(v, s.pool(), o.values);
          ++printed;
          return true;
        },
        &e.detail);
    ends.push_back(std::move(e));
  }
  for (const End& e : ends) {
    std::cout << "stream " << e.stream << ": ";
    if (e.limited) {
      std::cout << "stopped at --limit " << *o.limit << '\n';
      continue;
    }
    std::cout << "end " << ScanEndName(e.end);
    if (!e.detail.empty()) {
      std::cout << ": " << e.detail;
    }
    std::cout << '\n';
  }
  return kExitOk;
}

int RunIndexVerify(const std::string& index_path) {
  Result<std::unique_ptr<BTree>> tree = OpenIndex(index_path);
  if (!tree.ok()) {
    return FailIndexOpen(tree.status());
  }
  const BTree& t = **tree;
  const BTreeStats st = t.Stats();
  const PmFile& file = *t.file();
  std::cout << "index " << index_path << ": " << st.pages << " pages of " << kBTreePageSize
            << " B\n";
  Field("epoch", std::to_string(st.epoch));
  Field("entries", std::to_string(st.entries));
  Field("height", std::to_string(st.height));
  Field("pages", std::to_string(st.pages));
  Field("pages in use", std::to_string(st.pages_in_use));
  Field("free pages", std::to_string(st.pages - 1 - st.pages_in_use));
  Field("owner", HexString(t.owner()));
  std::string user;
  for (const uint64_t w : t.user()) {
    user += (user.empty() ? "" : " ") + std::to_string(w);
  }
  Field("user words", user);
  // The slot in force is the one of the epoch the tree opened with (epoch e lives in slot e % 2).
  const int in_force = static_cast<int>(st.epoch % 2);
  for (int k = 0; k < 2; ++k) {
    Field("slot " + std::to_string(k),
          DescribeIndexSlot(file.data(), k) + (k == in_force ? " (in force)" : ""));
  }
  Field("durability", file.DescribeDurability());
  std::cout << "clean\n";
  return kExitOk;
}

int RunIndexDump(const IndexDumpOptions& o) {
  Result<std::unique_ptr<BTree>> tree = OpenIndex(o.index_path);
  if (!tree.ok()) {
    return FailIndexOpen(tree.status());
  }
  const BTree& t = **tree;
  uint64_t printed = 0;
  bool limited = false;
  t.Scan({}, [&](std::string_view key, std::string_view value) {
    if (o.limit.has_value() && printed >= *o.limit) {
      limited = true;
      return false;
    }
    std::cout << "key " << Quoted(key) << " value_len " << value.size()
              << (BTreeInlineValue(key.size(), value.size()) ? "" : " overflow") << '\n';
    if (o.values) {
      const std::string_view head = value.substr(0, kValuePreviewBytes);
      std::cout << HexPreview({reinterpret_cast<const uint8_t*>(head.data()), head.size()}, "    ");
      if (value.size() > head.size()) {
        std::cout << "    ... " << (value.size() - head.size()) << " more byte(s)\n";
      }
    }
    ++printed;
    return true;
  });
  if (limited) {
    std::cout << "stopped at --limit " << *o.limit << " of " << t.entries() << " entries\n";
  } else {
    std::cout << t.entries() << " entries, epoch " << t.Stats().epoch << '\n';
  }
  return kExitOk;
}

}  // namespace pastel::ctl

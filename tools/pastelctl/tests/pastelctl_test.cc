// pastelctl, black box: each test runs the real binary (PASTELCTL_PATH) on pool, log and index
// files in a fresh directory under /dev/shm, after writing content through the library API and, for
// the damage cases, flipping bits in the files. Also unit tests of the text helpers.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "index/btree_format.h"
#include "log/log_format.h"
#include "pastel/crc32c.h"
#include "pastel/index.h"
#include "pastel/log.h"
#include "pastel/pool.h"
#include "pool/pool_format.h"
#include "tests/support/temp_dir.h"
#include "tools/pastelctl/text.h"

extern char** environ;

namespace pastel::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct RunResult {
  bool exited = false;  // false: killed by a signal (a crash)
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// XORs `mask` into the byte at `offset` of `path`.
void FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x10) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  uint8_t b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
  b ^= mask;
  ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

// Opens an existing pool and its log read-write through the library, recovers, and writes records.
// Members: the log is destroyed before the pool it points to.
class Writer {
 public:
  static Result<std::unique_ptr<Writer>> Open(const std::string& pool_path) {
    std::unique_ptr<Writer> w(new Writer());
    Result<std::unique_ptr<Pool>> pool = Pool::Open(pool_path);
    if (!pool.ok()) {
      return pool.status();
    }
    w->pool_ = std::move(pool).value();
    Result<std::unique_ptr<Log>> log = Log::Open(Log::PathForPool(pool_path), *w->pool_);
    if (!log.ok()) {
      return log.status();
    }
    w->log_ = std::move(log).value();
    Result<Recovered> rec = w->log_->Recover();
    if (!rec.ok()) {
      return rec.status();
    }
    return w;
  }

  // Allocates a buffer (kApp) and writes `bytes` at `offset` in it.
  Result<uint32_t> AllocateFilled(std::string_view bytes, uint32_t offset = 0) {
    Result<uint32_t> b = pool_->Allocate(0);
    if (b.ok()) {
      std::memcpy(pool_->BufferData(*b) + offset, bytes.data(), bytes.size());
    }
    return b;
  }

  // Retains each extent's buffer once, then appends the put (batch left open).
  Status PutExtents(std::string_view key, const std::vector<Extent>& extents, uint32_t s = 0) {
    for (const Extent& e : extents) {
      PASTEL_RETURN_IF_ERROR(pool_->Retain(e.buffer));
    }
    return log_->stream(s).AppendPut(key, extents).status();
  }

  // Puts `value` into as many fresh buffers as it needs; returns where it lies.
  Result<std::vector<Extent>> Put(std::string_view key, std::string_view value, uint32_t s = 0) {
    std::vector<Extent> extents;
    for (size_t pos = 0; pos < value.size(); pos += pool_->buffer_size()) {
      const std::string_view chunk = value.substr(pos, pool_->buffer_size());
      Result<uint32_t> b = AllocateFilled(chunk);
      if (!b.ok()) {
        return b.status();
      }
      extents.push_back({*b, 0, static_cast<uint32_t>(chunk.size())});
    }
    PASTEL_RETURN_IF_ERROR(PutExtents(key, extents, s));
    return extents;
  }

  Status Delete(std::string_view key, uint32_t s = 0) {
    return log_->stream(s).AppendDelete(key).status();
  }
  Status Commit(uint32_t s = 0) { return log_->stream(s).Commit().status(); }

  Pool& pool() { return *pool_; }

 private:
  Writer() = default;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Log> log_;
};

// Where a record lies in its log file, as the library's own scan sees it.
struct RecordAt {
  std::string key;
  uint64_t file_offset = 0;
};

std::vector<RecordAt> ListRecords(const std::string& pool_path, uint32_t s = 0) {
  std::vector<RecordAt> out;
  Result<std::unique_ptr<Pool>> pool = Pool::Open(pool_path, {.read_only = true});
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  if (!pool.ok()) {
    return out;
  }
  Result<std::unique_ptr<Log>> log =
      Log::Open(Log::PathForPool(pool_path), **pool, {.read_only = true});
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) {
    return out;
  }
  const uint64_t stream_base = kLogHeaderRegion + s * (*log)->header().stream_size;
  (void)(*log)->ForEachRecord(s, [&](const RecordView& v) {
    out.push_back({std::string(v.key), stream_base + v.offset});
    return true;
  });
  return out;
}

class PastelctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    pool_ = dir_.File("p.pool");
  }

  // Runs pastelctl with `args`; stdout and stderr are captured separately.
  RunResult Run(const std::vector<std::string>& args) {
    RunResult r;
    const std::string out_path = dir_.File("stdout.txt");
    const std::string err_path = dir_.File("stderr.txt");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> argv_s = {PASTELCTL_PATH};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, PASTELCTL_PATH, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "posix_spawn: " << std::strerror(rc);
    if (rc != 0) {
      return r;
    }
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    r.exited = WIFEXITED(status);
    r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(out_path);
    r.err = ReadFile(err_path);
    std::remove(out_path.c_str());
    std::remove(err_path.c_str());
    return r;
  }

  RunResult Create(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"create", "--pool", pool_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }
  RunResult Verify() { return Run({"verify", "--pool", pool_}); }

  std::unique_ptr<Writer> OpenWriter() {
    Result<std::unique_ptr<Writer>> w = Writer::Open(pool_);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(w).value() : nullptr;
  }

  // The pool header as the library reads it.
  PoolHeader ReadPoolHeader() {
    const std::string bytes = ReadFile(pool_);
    Result<PoolHeader> h =
        Pool::ReadHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? h.value() : PoolHeader{};
  }

  // The pool file offset of byte `i` of extent `e`.
  uint64_t ValueOffset(const Extent& e, uint32_t i = 0) {
    const PoolHeader h = ReadPoolHeader();
    return h.data_offset + uint64_t{e.buffer} * h.buffer_size + e.offset + i;
  }

  // Writes three committed batches (7 records, 5 live keys, 5 retained buffers, one of them shared
  // by two keys, one value spanning two buffers) and returns the extents of "alpha".
  std::vector<Extent> WriteStandardContent() {
    std::unique_ptr<Writer> w = OpenWriter();
    EXPECT_NE(w, nullptr);
    if (w == nullptr) {
      return {};
    }
    Result<std::vector<Extent>> alpha = w->Put("alpha", "hello alpha");
    EXPECT_TRUE(alpha.ok()) << alpha.status().ToString();
    Result<std::vector<Extent>> multi = w->Put("multi", std::string(3000, 'm'));
    EXPECT_TRUE(multi.ok()) << multi.status().ToString();
    EXPECT_EQ(multi.ok() ? multi->size() : 0, 2u);
    EXPECT_TRUE(w->Commit().ok());

    EXPECT_TRUE(w->Put("beta", "beta value").ok());
    EXPECT_TRUE(w->Put(std::string("bin\x01key", 7), "x").ok());
    EXPECT_TRUE(w->Commit().ok());

    Result<uint32_t> shared = w->AllocateFilled("first");
    EXPECT_TRUE(shared.ok());
    if (shared.ok()) {
      std::memcpy(w->pool().BufferData(*shared) + 512, "second!", 7);
      EXPECT_TRUE(w->PutExtents("s1", {{*shared, 0, 5}}).ok());
      EXPECT_TRUE(w->PutExtents("s2", {{*shared, 512, 7}}).ok());
    }
    EXPECT_TRUE(w->Delete("beta").ok());
    EXPECT_TRUE(w->Commit().ok());
    return alpha.ok() ? alpha.value() : std::vector<Extent>{};
  }

  static constexpr uint64_t kStandardLiveBytes = 11 + 3000 + 1 + 5 + 7;

  ::pastel::testing::TempDir dir_;
  std::string pool_;
};

// ---------------------------------------------------------------------------------------------
// create

TEST_F(PastelctlTest, CreateMakesPoolAndLog) {
  RunResult r = Create({"--size", "1M", "--log-streams", "2", "--log-stream-size", "64K"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr(pool_));
  EXPECT_THAT(r.out, HasSubstr("buffer size        2048\n"));
  // (1 MiB - one 4 KiB header page) / 2 KiB.
  EXPECT_THAT(r.out, HasSubstr("buffer count       510\n"));
  EXPECT_THAT(r.out, HasSubstr("log streams        2\n"));
  EXPECT_THAT(r.out, HasSubstr("log stream size    65536 (64.0 KiB)\n"));
  EXPECT_THAT(r.out, HasSubstr("emulated persistent memory (tmpfs)"));

  struct stat st {};
  ASSERT_EQ(::stat(pool_.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(Log::PathForPool(pool_).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), Log::RegionSize({2, 64 << 10}));
  const PoolHeader h = ReadPoolHeader();
  EXPECT_EQ(h.buffer_count, 510u);
  EXPECT_EQ(h.partitions, 1u);
}

TEST_F(PastelctlTest, CreateWithBufferCount) {
  RunResult r = Create({"--buffer-size", "4K", "--buffers", "100", "--partitions", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const PoolHeader h = ReadPoolHeader();
  EXPECT_EQ(h.buffer_size, 4096u);
  EXPECT_EQ(h.buffer_count, 100u);
  EXPECT_EQ(h.partitions, 4u);
  struct stat st {};
  ASSERT_EQ(::stat(pool_.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), Pool::RegionSize(4096, 100));
}

TEST_F(PastelctlTest, CreateOverExistingFailsWithoutExistOk) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  const PoolHeader before = ReadPoolHeader();

  RunResult r = Create({"--size", "1M"});
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pastelctl: AlreadyExists: " + pool_));
  EXPECT_THAT(r.err, HasSubstr("--exist-ok"));
  // Nothing was touched.
  EXPECT_EQ(std::memcmp(ReadPoolHeader().uuid, before.uuid, sizeof(before.uuid)), 0);
}

TEST_F(PastelctlTest, CreateExistOkValidatesExistingPool) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  WriteStandardContent();
  const PoolHeader before = ReadPoolHeader();

  RunResult r = Create({"--exist-ok"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("already exist and are valid"));
  EXPECT_THAT(r.out, HasSubstr("live keys          5\n"));
  EXPECT_EQ(std::memcmp(ReadPoolHeader().uuid, before.uuid, sizeof(before.uuid)), 0);

  // Parameters given explicitly must match the existing files.
  r = Create({"--exist-ok", "--buffer-size", "4096", "--log-streams", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("buffer size 2048 (asked for 4096)"));
  EXPECT_THAT(r.err, Not(HasSubstr("log streams")));
  EXPECT_EQ(Create({"--exist-ok", "--buffer-size", "2048", "--size", "1M"}).exit_code, 0);
}

TEST_F(PastelctlTest, CreateExistOkRejectsDamagedPool) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  FlipByte(pool_, offsetof(PoolHeader, buffer_count));
  RunResult r = Create({"--exist-ok"});
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pool header checksum mismatch"));
}

TEST_F(PastelctlTest, CreateRemovesPoolWhenLogCannotBeCreated) {
  { std::ofstream(Log::PathForPool(pool_)) << "stale"; }
  RunResult r = Create({"--size", "1M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pastelctl: AlreadyExists: " + Log::PathForPool(pool_)));
  struct stat st {};
  EXPECT_NE(::stat(pool_.c_str(), &st), 0) << "half-created pool left behind";
}

TEST_F(PastelctlTest, CreateRejectsBadArguments) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--buffer-size", "1000"}, "--buffer-size: 1000 is not a power of two in [512, 65536]"},
      {{"--buffer-size", "128K"}, "--buffer-size: 131072 is not a power of two in [512, 65536]"},
      {{"--size", "12X"}, "--size: '12X' is not a size"},
      {{"--size", "4K"}, "cannot hold the pool header and one buffer"},
      {{"--buffers", "0"}, "--buffers: 0 is not in"},
      {{"--buffers", "10", "--size", "1M"}, "excludes"},
      {{"--partitions", "0"}, "--partitions: 0 is not in [1, 256]"},
      {{"--log-streams", "300"}, "--log-streams: 300 is not in [1, 256]"},
      {{"--log-stream-size", "5000"}, "--log-stream-size: 5000 is not a multiple of 4096"},
      {{"--buffers", "abc"}, "InvalidArgument"},
      {{"--no-such-flag"}, "InvalidArgument"},
  };
  for (const Case& c : cases) {
    RunResult r = Create(c.args);
    EXPECT_TRUE(r.exited) << c.args[0];
    EXPECT_EQ(r.exit_code, 1) << c.args[0];
    EXPECT_THAT(r.err, HasSubstr("pastelctl: ")) << c.args[0];
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.args[0];
    struct stat st {};
    EXPECT_NE(::stat(pool_.c_str(), &st), 0) << "pool created despite " << c.args[0];
  }
}

// ---------------------------------------------------------------------------------------------
// info

TEST_F(PastelctlTest, InfoShowsHeaders) {
  ASSERT_EQ(Create({"--buffer-size", "4096", "--buffers", "64", "--partitions", "2",
                    "--log-streams", "2", "--log-stream-size", "16K"})
                .exit_code,
            0);
  const PoolHeader h = ReadPoolHeader();
  const std::string uuid = HexString(h.uuid);

  RunResult r = Run({"info", "--pool", pool_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("magic              \"PASTELPL\"\n"));
  EXPECT_THAT(r.out, HasSubstr("version            1\n"));
  EXPECT_THAT(r.out, HasSubstr("generation         1\n"));
  EXPECT_THAT(r.out, HasSubstr("uuid               " + uuid + "\n"));
  EXPECT_THAT(r.out, HasSubstr("buffer size        4096\n"));
  EXPECT_THAT(r.out, HasSubstr("buffer count       64\n"));
  EXPECT_THAT(r.out, HasSubstr("data offset        4096\n"));
  EXPECT_THAT(r.out, HasSubstr("file size          " + std::to_string(Pool::RegionSize(4096, 64))));
  EXPECT_THAT(r.out, HasSubstr("created            " + FormatUnixNs(h.created_unix_ns) + "\n"));
  EXPECT_THAT(r.out, HasSubstr("partitions         2\n"));
  EXPECT_THAT(r.out, HasSubstr("magic              \"PASTELLG\"\n"));
  EXPECT_THAT(r.out, HasSubstr("stream count       2\n"));
  EXPECT_THAT(r.out, HasSubstr("stream size        16384 (16.0 KiB)\n"));
  EXPECT_THAT(r.out, HasSubstr("pool uuid          " + uuid + "\n"));
  EXPECT_THAT(r.out, HasSubstr("pool generation    1\n"));
  EXPECT_THAT(r.out, HasSubstr("stream 0           generation 1, checkpoint seq 0 (slot 0"));
  EXPECT_THAT(r.out, HasSubstr("stream 1           generation 1, checkpoint seq 0 (slot 0"));
  EXPECT_THAT(r.out, HasSubstr("durability         emulated persistent memory (tmpfs)"));
}

TEST_F(PastelctlTest, InfoShowsCheckpointAfterTruncate) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  {
    std::unique_ptr<Writer> w = OpenWriter();
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->Put("k", "v").ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  // A checkpoint up to sequence 1, through a fresh open.
  {
    Result<std::unique_ptr<Pool>> pool = Pool::Open(pool_);
    ASSERT_TRUE(pool.ok());
    Result<std::unique_ptr<Log>> log = Log::Open(Log::PathForPool(pool_), **pool);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Recover().ok());
    ASSERT_TRUE((*log)->stream(0).Truncate(1).ok());
  }
  RunResult r = Run({"info", "--pool", pool_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("stream 0           generation 2, checkpoint seq 1 (slot 1 in "
                               "force; slot 0: generation 1, checkpoint seq 0)"));
  // The old record is now stale: not live, not corruption.
  r = Verify();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("end stale"));
  EXPECT_THAT(r.out, HasSubstr("live keys 0"));
}

// ---------------------------------------------------------------------------------------------
// verify

TEST_F(PastelctlTest, VerifyCleanPoolWithContent) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  WriteStandardContent();
  RunResult r = Verify();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("records 7, batches 3, live keys 5, live bytes " +
                               std::to_string(kStandardLiveBytes) + "\n"));
  // alpha 1, multi 2, bin\x01key 1, s1 + s2 share 1 (with two references).
  EXPECT_THAT(r.out, HasSubstr("buffers retained 5, free 505\n"));
  EXPECT_THAT(r.out, HasSubstr("stream 0: generation 1, checkpoint seq 0, 7 record(s) in 3 "
                               "batch(es), tail 640, end zeroed\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("corruption")));
  EXPECT_THAT(r.out, Not(HasSubstr("ownership")));
  EXPECT_THAT(r.out, HasSubstr("clean\n"));
  // Read-only: verifying changed nothing, so a second run sees the same.
  EXPECT_EQ(Verify().out, r.out);
}

TEST_F(PastelctlTest, VerifyEmptyPool) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  RunResult r = Verify();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("records 0, batches 0, live keys 0, live bytes 0\n"));
  EXPECT_THAT(r.out, HasSubstr("buffers retained 0, free 510\n"));
}

TEST_F(PastelctlTest, VerifyFlippedLiveValueIsCorruption) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  const std::vector<Extent> alpha = WriteStandardContent();
  ASSERT_EQ(alpha.size(), 1u);
  FlipByte(pool_, ValueOffset(alpha[0], 3));

  RunResult r = Verify();
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("corruption: value of 'alpha'"));
  EXPECT_THAT(r.out, HasSubstr("fails its data checksum"));
  EXPECT_THAT(r.err, HasSubstr("pastelctl: Corruption: 1 problem(s) found in " + pool_));
  // The damaged key is dropped from the live set and its buffer is not retained.
  EXPECT_THAT(r.out, HasSubstr("live keys 4"));
  EXPECT_THAT(r.out, HasSubstr("buffers retained 4, free 506\n"));
}

TEST_F(PastelctlTest, VerifyFlippedValueOfLastBatchIsTornNotCorruption) {
  // The library cannot tell a value of the last batch that never became durable from one damaged
  // later: it drops that batch as torn.
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  {
    std::unique_ptr<Writer> w = OpenWriter();
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->Put("first", "one").ok());
    ASSERT_TRUE(w->Commit().ok());
    Result<std::vector<Extent>> last = w->Put("last", "two");
    ASSERT_TRUE(last.ok());
    ASSERT_TRUE(w->Commit().ok());
    w.reset();
    FlipByte(pool_, ValueOffset((*last)[0]));
  }
  RunResult r = Verify();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("end torn"));
  EXPECT_THAT(r.out, HasSubstr("value of 'last' (sequence 2) never became durable"));
  EXPECT_THAT(r.out, HasSubstr("live keys 1"));
}

TEST_F(PastelctlTest, VerifyFlippedPoolHeaderFailsToOpen) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  WriteStandardContent();
  FlipByte(pool_, offsetof(PoolHeader, generation));
  for (const char* cmd : {"verify", "info", "dump"}) {
    RunResult r = Run({cmd, "--pool", pool_});
    EXPECT_TRUE(r.exited) << cmd;
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_THAT(r.err,
                HasSubstr("pastelctl: Corruption: " + pool_ + ": pool header checksum mismatch"))
        << cmd;
  }
}

TEST_F(PastelctlTest, VerifyFlippedLogHeaderFailsToOpen) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  FlipByte(Log::PathForPool(pool_), offsetof(LogHeader, stream_size));
  RunResult r = Verify();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("log header checksum mismatch"));
}

TEST_F(PastelctlTest, VerifyLogOfAnotherPoolFailsToOpen) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  const std::string other = dir_.File("other.pool");
  ASSERT_EQ(Run({"create", "--pool", other, "--size", "1M"}).exit_code, 0);
  ASSERT_EQ(::rename(Log::PathForPool(other).c_str(), Log::PathForPool(pool_).c_str()), 0);
  RunResult r = Verify();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("log belongs to another pool"));
}

TEST_F(PastelctlTest, DamagedFilesNeverCrash) {
  struct Case {
    const char* name;
    std::string pool_bytes;  // replaces the pool file
    std::string message;
  };
  const Case cases[] = {
      {"empty", "", "is empty"},
      {"short", std::string(100, 'x'), "pool too short for its header"},
      {"zeros", std::string(8192, '\0'), "pool header is all zeros"},
      {"garbage", std::string(8192, 'g'), "not a pastel pool (bad magic)"},
  };
  for (const Case& c : cases) {
    { std::ofstream(pool_, std::ios::binary | std::ios::trunc) << c.pool_bytes; }
    for (const char* cmd : {"verify", "info", "dump"}) {
      RunResult r = Run({cmd, "--pool", pool_});
      EXPECT_TRUE(r.exited) << c.name << " " << cmd;
      EXPECT_EQ(r.exit_code, 1) << c.name << " " << cmd;
      EXPECT_THAT(r.err, HasSubstr(c.message)) << c.name << " " << cmd;
    }
  }
  RunResult r = Run({"verify", "--pool", dir_.File("missing.pool")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pastelctl: NotFound: " + dir_.File("missing.pool")));
}

// Headers whose checksum is valid but whose sizes wrap around 64 bits: the tool must refuse them
// rather than address memory outside the mapping.
TEST_F(PastelctlTest, HeadersWithImpossibleSizesFailCleanly) {
  ASSERT_EQ(Create({"--size", "1M", "--log-streams", "2", "--log-stream-size", "16K"}).exit_code,
            0);
  WriteStandardContent();
  const std::string pool_bytes = ReadFile(pool_);
  const std::string log_bytes = ReadFile(Log::PathForPool(pool_));

  PoolHeader ph = ReadPoolHeader();
  // data_offset + buffer bytes wraps to 0, which then "matches" file_size = 0.
  ph.data_offset = 0 - uint64_t{ph.buffer_size} * ph.buffer_count;
  ph.file_size = 0;
  ph.checksum = Crc32c(&ph, kPoolHeaderChecksummedBytes);
  {
    std::fstream f(pool_, std::ios::in | std::ios::out | std::ios::binary);
    f.write(reinterpret_cast<const char*>(&ph), sizeof(ph));
  }
  for (const char* cmd : {"verify", "info", "dump"}) {
    RunResult r = Run({cmd, "--pool", pool_});
    EXPECT_TRUE(r.exited) << cmd << ": " << r.err;
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_THAT(r.err, HasSubstr("data offset")) << cmd;
  }

  { std::ofstream(pool_, std::ios::binary | std::ios::trunc) << pool_bytes; }
  LogHeader lh;
  std::memcpy(&lh, log_bytes.data(), sizeof(lh));
  lh.stream_size = uint64_t{1} << 63;  // 4096 + 2 * 2^63 wraps to 4096
  lh.checksum = Crc32c(&lh, kLogHeaderChecksummedBytes);
  {
    std::fstream f(Log::PathForPool(pool_), std::ios::in | std::ios::out | std::ios::binary);
    f.write(reinterpret_cast<const char*>(&lh), sizeof(lh));
  }
  for (const char* cmd : {"verify", "info", "dump"}) {
    RunResult r = Run({cmd, "--pool", pool_});
    EXPECT_TRUE(r.exited) << cmd << ": " << r.err;
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_THAT(r.err, HasSubstr("out of range")) << cmd;
  }
}

TEST_F(PastelctlTest, InfoWithoutLogPrintsPoolThenFails) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  ASSERT_EQ(std::remove(Log::PathForPool(pool_).c_str()), 0);
  RunResult r = Run({"info", "--pool", pool_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("buffer count       510\n"));
  EXPECT_THAT(r.err, HasSubstr("pastelctl: NotFound: " + Log::PathForPool(pool_)));
}

TEST_F(PastelctlTest, VerifyUncommittedBatchIsTornTail) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  {
    std::unique_ptr<Writer> w = OpenWriter();
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->Put("kept", "committed").ok());
    ASSERT_TRUE(w->Commit().ok());
    // Appended but never committed: no batch-end flag, as if the process died before Commit.
    ASSERT_TRUE(w->Put("lost1", "pending").ok());
    ASSERT_TRUE(w->Put("lost2", "pending").ok());
  }
  RunResult r = Verify();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("end torn, 2 record(s) discarded: 2 record(s) of a batch that "
                               "never completed"));
  EXPECT_THAT(r.out, HasSubstr("records 1, batches 1, live keys 1"));
  EXPECT_THAT(r.out, HasSubstr("clean; torn tail found"));
  EXPECT_THAT(r.out, Not(HasSubstr("corruption:")));

  r = Run({"dump", "--pool", pool_});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("key \"kept\""));
  EXPECT_THAT(r.out, Not(HasSubstr("lost")));
}

TEST_F(PastelctlTest, VerifyFlippedLastRecordIsTornTail) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  WriteStandardContent();
  const std::vector<RecordAt> recs = ListRecords(pool_);
  ASSERT_EQ(recs.size(), 7u);
  ASSERT_EQ(recs.back().key, "beta");  // the delete that closes the last batch
  FlipByte(Log::PathForPool(pool_), recs.back().file_offset + offsetof(RecordHeader, sequence));

  RunResult r = Verify();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("end torn"));
  EXPECT_THAT(r.out, HasSubstr("record checksum mismatch at stream 0 offset 576"));
  // The last batch (s1, s2, delete beta) is dropped: alpha, multi, beta, bin\x01key remain.
  EXPECT_THAT(r.out, HasSubstr("records 4, batches 2, live keys 4"));
  EXPECT_THAT(r.out, Not(HasSubstr("corruption:")));
}

TEST_F(PastelctlTest, VerifyFlippedRecordBeforeLaterBatchIsCorruption) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  WriteStandardContent();
  const std::vector<RecordAt> recs = ListRecords(pool_);
  ASSERT_EQ(recs.size(), 7u);
  ASSERT_EQ(recs[2].key, "beta");  // first record of the second batch
  FlipByte(Log::PathForPool(pool_), recs[2].file_offset + offsetof(RecordHeader, value_len));

  RunResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("end corruption"));
  EXPECT_THAT(r.out, HasSubstr("corruption: record checksum mismatch at stream 0 offset 320; "
                               "whole later batch at stream 0 offset 448"));
  EXPECT_THAT(r.err, HasSubstr("pastelctl: Corruption:"));
}

// ---------------------------------------------------------------------------------------------
// dump

TEST_F(PastelctlTest, DumpShowsRecords) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  const std::vector<Extent> alpha = WriteStandardContent();
  ASSERT_EQ(alpha.size(), 1u);

  RunResult r = Run({"dump", "--pool", pool_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string a = std::to_string(alpha[0].buffer);
  EXPECT_THAT(r.out, HasSubstr("stream 0 offset 128 seq 1 put key \"alpha\" value_len 11 extents " +
                               a + ":0+11 data ok\n"));
  EXPECT_THAT(r.out, HasSubstr("seq 2 put batch-end key \"multi\" value_len 3000 extents "));
  EXPECT_THAT(r.out, HasSubstr(":0+2048 "));
  EXPECT_THAT(r.out, HasSubstr(":0+952 data ok\n"));
  EXPECT_THAT(r.out, HasSubstr("put batch-end key \"bin\\x01key\" value_len 1"));
  EXPECT_THAT(r.out, HasSubstr("key \"s1\" value_len 5"));
  EXPECT_THAT(r.out, HasSubstr(":512+7 data ok\n"));
  EXPECT_THAT(r.out, HasSubstr("seq 7 delete batch-end key \"beta\"\n"));
  EXPECT_THAT(r.out, HasSubstr("stream 0: end zeroed\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("0000  ")));  // no values without --values

  r = Run({"dump", "--pool", pool_, "--values"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("    0000  68 65 6c 6c 6f 20 61 6c 70 68 61"));
  EXPECT_THAT(r.out, HasSubstr("|hello alpha|\n"));
  EXPECT_THAT(r.out, HasSubstr("|mmmmmmmmmmmmmmmm|\n    ... 2936 more byte(s)\n"));
}

TEST_F(PastelctlTest, DumpShowsDataChecksumMismatch) {
  ASSERT_EQ(Create({"--size", "1M"}).exit_code, 0);
  const std::vector<Extent> alpha = WriteStandardContent();
  ASSERT_EQ(alpha.size(), 1u);
  FlipByte(pool_, ValueOffset(alpha[0]));
  RunResult r = Run({"dump", "--pool", pool_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("key \"alpha\" value_len 11 extents " +
                               std::to_string(alpha[0].buffer) + ":0+11 data CHECKSUM MISMATCH"));
}

TEST_F(PastelctlTest, DumpLimitAndStream) {
  ASSERT_EQ(Create({"--size", "1M", "--log-streams", "2", "--log-stream-size", "16K"}).exit_code,
            0);
  {
    std::unique_ptr<Writer> w = OpenWriter();
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->Put("zero-a", "a", 0).ok());
    ASSERT_TRUE(w->Put("zero-b", "b", 0).ok());
    ASSERT_TRUE(w->Commit(0).ok());
    ASSERT_TRUE(w->Put("one-a", "c", 1).ok());
    ASSERT_TRUE(w->Commit(1).ok());
  }
  RunResult r = Run({"dump", "--pool", pool_, "--stream", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("stream 1 offset 128 seq 3 put batch-end key \"one-a\""));
  EXPECT_THAT(r.out, Not(HasSubstr("zero-")));
  EXPECT_THAT(r.out, HasSubstr("stream 1: end zeroed\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("stream 0:")));

  r = Run({"dump", "--pool", pool_, "--limit", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("key \"zero-a\""));
  EXPECT_THAT(r.out, Not(HasSubstr("key \"zero-b\"")));
  EXPECT_THAT(r.out, Not(HasSubstr("key \"one-a\"")));
  EXPECT_THAT(r.out, HasSubstr("stream 0: stopped at --limit 1\n"));

  r = Run({"dump", "--pool", pool_, "--stream", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pastelctl: InvalidArgument: --stream 2: the log has 2 stream(s)"));
}

// ---------------------------------------------------------------------------------------------
// index-verify, index-dump

class PastelctlIndexTest : public PastelctlTest {
 protected:
  static constexpr BTree::Owner kOwner = {0xa0, 1, 2,  3,  4,  5,  6,  7,
                                          8,    9, 10, 11, 12, 13, 14, 0xff};

  // An index of 64 pages (256 KiB) next to pool_ with four keys, one of them binary and one with
  // its value in overflow pages, committed twice (both superblock slots written). Returns the
  // root page.
  uint32_t WriteIndex() {
    Result<std::unique_ptr<BTree>> t = BTree::Create(index_, 64 * kBTreePageSize, kOwner);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) {
      return 0;
    }
    BTree& tree = **t;
    EXPECT_TRUE(tree.Put("alpha", "hello alpha").ok());
    EXPECT_TRUE(tree.Put("multi", std::string(3000, 'm')).ok());
    EXPECT_TRUE(tree.Commit({1, 0, 0, 0}).ok());
    EXPECT_TRUE(tree.Put(std::string("bin\x01key", 7), "x").ok());
    EXPECT_TRUE(tree.Put("beta", "").ok());
    EXPECT_TRUE(tree.Commit({42, 7, 0, 0}).ok());
    BTreeSuper sb;
    std::memcpy(&sb, tree.file()->data() + kBTreeSuperSlotOffset[0], sizeof(sb));
    EXPECT_EQ(sb.epoch, 2u);
    return sb.root;
  }

  std::string index_ = BTree::PathForPool(dir_.File("p.pool"));
};

TEST_F(PastelctlIndexTest, VerifyCleanIndex) {
  const uint32_t root = WriteIndex();
  ASSERT_NE(root, 0u);
  RunResult r = Run({"index-verify", "--pool", pool_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("index " + index_ + ": 64 pages of 4096 B\n"));
  EXPECT_THAT(r.out, HasSubstr("epoch              2\n"));
  EXPECT_THAT(r.out, HasSubstr("entries            4\n"));
  EXPECT_THAT(r.out, HasSubstr("height             1\n"));
  EXPECT_THAT(r.out, HasSubstr("pages              64\n"));
  // The root leaf and the value's one overflow page.
  EXPECT_THAT(r.out, HasSubstr("pages in use       2\n"));
  EXPECT_THAT(r.out, HasSubstr("free pages         61\n"));
  EXPECT_THAT(r.out, HasSubstr("owner              a0010203040506070809"
                               "0a0b0c0d0eff\n"));
  EXPECT_THAT(r.out, HasSubstr("user words         42 7 0 0\n"));
  EXPECT_THAT(r.out, HasSubstr("slot 0             epoch 2, root " + std::to_string(root) +
                               ", height 1, entries 4 (in force)\n"));
  EXPECT_THAT(r.out, HasSubstr("slot 1             epoch 1, root "));
  EXPECT_THAT(r.out, HasSubstr("durability         emulated persistent memory (tmpfs)"));
  EXPECT_THAT(r.out, HasSubstr("clean\n"));
  // --index names the file directly; read-only, so a second run sees the same.
  RunResult again = Run({"index-verify", "--index", index_});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
}

TEST_F(PastelctlIndexTest, VerifyFreshIndex) {
  ASSERT_TRUE(BTree::Create(index_, 2 * kBTreePageSize, kOwner).ok());
  RunResult r = Run({"index-verify", "--index", index_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch              0\n"));
  EXPECT_THAT(r.out, HasSubstr("entries            0\n"));
  EXPECT_THAT(r.out, HasSubstr("height             0\n"));
  EXPECT_THAT(r.out,
              HasSubstr("slot 0             epoch 0, root 0, height 0, entries 0 (in force)"));
  EXPECT_THAT(r.out, HasSubstr("slot 1             empty\n"));
}

TEST_F(PastelctlIndexTest, VerifyDamagedIndexIsCorruption) {
  struct Case {
    const char* name;
    std::function<void(uint32_t root)> damage;
    std::string message;
  };
  const Case cases[] = {
      {"bit flip in the root leaf",
       [&](uint32_t root) {
         FlipByte(index_, uint64_t{root} * kBTreePageSize + kBTreePageSize - 3);
       },
       "index: page ROOT: checksum mismatch"},
      {"both slots torn",
       [&](uint32_t) {
         FlipByte(index_, kBTreeSuperSlotOffset[0] + offsetof(BTreeSuper, entries));
         FlipByte(index_, kBTreeSuperSlotOffset[1] + offsetof(BTreeSuper, root));
       },
       "index: no valid superblock (slot 0: checksum mismatch; slot 1: checksum mismatch)"},
      {"truncated by a page",
       [&](uint32_t) { ASSERT_EQ(::truncate(index_.c_str(), 63 * kBTreePageSize), 0); },
       "index: no valid superblock (slot 0: page count 64 but the file has 63"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::remove(index_.c_str());
    const uint32_t root = WriteIndex();
    ASSERT_NE(root, 0u);
    c.damage(root);
    std::string message = c.message;
    if (const size_t at = message.find("ROOT"); at != std::string::npos) {
      message.replace(at, 4, std::to_string(root));
    }
    for (const char* cmd : {"index-verify", "index-dump"}) {
      RunResult r = Run({cmd, "--pool", pool_});
      EXPECT_TRUE(r.exited) << cmd;
      EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.out << r.err;
      EXPECT_THAT(r.err, HasSubstr("pastelctl: Corruption: " + index_ + ": " + message)) << cmd;
      EXPECT_THAT(r.out, Not(HasSubstr("clean"))) << cmd;
    }
  }
}

TEST_F(PastelctlIndexTest, DamagedIndexFilesNeverCrash) {
  const std::pair<const char*, std::string> cases[] = {
      {"empty", ""},
      {"short", std::string(100, 'x')},
      {"zeros", std::string(8192, '\0')},
      {"garbage", std::string(3 * 4096, 'g')},
  };
  for (const auto& [name, bytes] : cases) {
    { std::ofstream(index_, std::ios::binary | std::ios::trunc) << bytes; }
    for (const char* cmd : {"index-verify", "index-dump"}) {
      RunResult r = Run({cmd, "--index", index_});
      EXPECT_TRUE(r.exited) << name << " " << cmd;
      EXPECT_EQ(r.exit_code, 2) << name << " " << cmd << ": " << r.err;
      EXPECT_THAT(r.err, HasSubstr("pastelctl: Corruption: " + index_)) << name << " " << cmd;
    }
  }
  RunResult r = Run({"index-verify", "--pool", dir_.File("missing.pool")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pastelctl: NotFound: " + dir_.File("missing.pool.index")));
}

TEST_F(PastelctlIndexTest, DumpListsEntriesInKeyOrder) {
  ASSERT_NE(WriteIndex(), 0u);
  RunResult r = Run({"index-dump", "--pool", pool_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "key \"alpha\" value_len 11\n"
            "key \"beta\" value_len 0\n"
            "key \"bin\\x01key\" value_len 1\n"
            "key \"multi\" value_len 3000 overflow\n"
            "4 entries, epoch 2\n");

  r = Run({"index-dump", "--index", index_, "--limit", "2", "--values"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("key \"alpha\" value_len 11\n    0000  68 65 6c 6c 6f 20 61 6c 70 68 61"));
  EXPECT_THAT(r.out, HasSubstr("|hello alpha|\n"));
  EXPECT_THAT(r.out, HasSubstr("key \"beta\" value_len 0\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("bin")));
  EXPECT_THAT(r.out, HasSubstr("stopped at --limit 2 of 4 entries\n"));

  r = Run({"index-dump", "--index", index_, "--values"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("|mmmmmmmmmmmmmmmm|\n    ... 2936 more byte(s)\n"));
}

// ---------------------------------------------------------------------------------------------
// command line

TEST_F(PastelctlTest, HelpForEverySubcommand) {
  const std::pair<const char*, const char*> cases[] = {
      {"create", "--exist-ok"}, {"info", "--pool"},          {"verify", "--pool"},
      {"dump", "--values"},     {"index-verify", "--index"}, {"index-dump", "--limit"}};
  for (const auto& [cmd, option] : cases) {
    RunResult r = Run({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("Usage: pastelctl " + std::string(cmd))) << cmd;
    EXPECT_THAT(r.out, HasSubstr(option)) << cmd;
  }
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"create", "info", "verify", "dump", "index-verify", "index-dump"}) {
    EXPECT_THAT(r.out, HasSubstr(cmd));
  }
}

TEST_F(PastelctlTest, NoSubcommandPrintsHelpAndFails) {
  RunResult r = Run({});
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("Usage: pastelctl"));
  EXPECT_THAT(r.err, HasSubstr("verify"));

  r = Run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("pastelctl: InvalidArgument:"));
}

TEST_F(PastelctlTest, Version) {
  RunResult r = Run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("pastelctl ") + PASTEL_VERSION + "\n");
}

// ---------------------------------------------------------------------------------------------
// text helpers

TEST(PastelctlText, ParseSize) {
  const std::pair<const char*, uint64_t> good[] = {
      {"0", 0},           {"4096", 4096},      {"64K", 64 << 10},  {"64k", 64 << 10},
      {"64M", 64 << 20},  {"64MiB", 64 << 20}, {"64MB", 64 << 20}, {"1G", 1ull << 30},
      {"2T", 2ull << 40}, {"512B", 512},
  };
  for (const auto& [text, want] : good) {
    Result<uint64_t> v = ParseSize(text);
    ASSERT_TRUE(v.ok()) << text << ": " << v.status().ToString();
    EXPECT_EQ(*v, want) << text;
  }
  for (const char* bad : {"", "K", "12X", "1.5M", "-1", " 1", "1 M", "16383P", "1KK", "1iB"}) {
    Result<uint64_t> v = ParseSize(bad);
    EXPECT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ParseSize("18446744073709551615").ok());
  EXPECT_THAT(ParseSize("18446744073709551616").status().message(), HasSubstr("too large"));
  EXPECT_THAT(ParseSize("16777216T").status().message(), HasSubstr("too large"));
}

TEST(PastelctlText, EscapeAndHex) {
  EXPECT_EQ(EscapeBytes("plain key-1"), "plain key-1");
  EXPECT_EQ(EscapeBytes(std::string("a\0b\x7f\xff\"\\\n", 8)), "a\\x00b\\x7f\\xff\\\"\\\\\\n");
  const uint8_t uuid[] = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexString(uuid), "0001abff");
  const std::string v = "0123456789abcdefXY\x01";
  // A short last line is padded so that its ASCII column lines up.
  const std::string want =
      "> 0000  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
      "> 0010  58 59 01                                         |XY.|\n";
  EXPECT_EQ(HexPreview({reinterpret_cast<const uint8_t*>(v.data()), v.size()}, "> "), want);
  EXPECT_EQ(HexPreview({}, ""), "");
  EXPECT_EQ(FormatUnixNs(0), "1970-01-01 00:00:00.000000000 UTC");
  EXPECT_EQ(FormatUnixNs(1'700'000'000'123'456'789ull), "2023-11-14 22:13:20.123456789 UTC");
  EXPECT_EQ(FormatSize(1000), "1000");
  EXPECT_EQ(FormatSize(64 << 20), "67108864 (64.0 MiB)");
}

}  // namespace
}  // namespace pastel::ctl

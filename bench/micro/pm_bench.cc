// Micro-benchmarks of the persist primitives (pastel/pm.h): the cost of making a freshly written
// range durable.
//
//   BM_Pm_Persist/<medium>/<method>/<bytes>
//     medium  shm   a file in /dev/shm (tmpfs: emulated PM)
//             file  a file on a regular file system ($PASTEL_BENCH_DIR, default /var/tmp)
//     method  none        write only: the no-persistence baseline
//             clwb, clflushopt, clflush   MakeCacheLineOps: flush every line, then sfence
//             msync, fdatasync            MakePageOps: msync(MS_SYNC) of the range's pages, or
//                                         fdatasync of the file
//     bytes   64 .. 8192
//
// One iteration writes `bytes` bytes (memset with a byte that changes every iteration, so every
// line is really dirty) at the next offset of a 64 MiB mapped file, then persists them. The offset
// advances by `bytes` and wraps around, so each iteration dirties lines (pages) of its own.
// The flush instructions make nothing durable on a regular file (only msync/fdatasync do); they
// are measured there too to show that their cost does not depend on the medium.

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "bench_util.h"
#include "pastel/pm.h"

namespace pastel {
namespace {

constexpr size_t kFileSize = size_t{64} << 20;

enum class MediumKind : uint8_t { kShm, kFile };
enum class Method : uint8_t { kNone, kClwb, kClflushopt, kClflush, kMsync, kFdatasync };

const char* MediumKindName(MediumKind m) {
  return m == MediumKind::kShm ? "shm" : "file";
}

const char* MethodName(Method m) {
  switch (m) {
    case Method::kNone: return "none";
    case Method::kClwb: return "clwb";
    case Method::kClflushopt: return "clflushopt";
    case Method::kClflush: return "clflush";
    case Method::kMsync: return "msync";
    case Method::kFdatasync: return "fdatasync";
  }
  return "?";
}

// One mapped 64 MiB file per medium, shared by every benchmark of that medium, made on first use
// and removed at exit. Used by the benchmark thread only.
class BenchFile {
 public:
  static Result<std::unique_ptr<BenchFile>> Make(const std::string& parent) {
    std::unique_ptr<BenchFile> f(new BenchFile());
    f->dir_ = bench::TempDir::Make(parent);
    if (!f->dir_.ok()) {
      return Status::FromErrno("mkdtemp under " + parent, errno);
    }
    const std::string path = f->dir_.path() + "/persist";
    Result<PmFile> pm = PmFile::Create(path, kFileSize);
    if (!pm.ok()) {
      return pm.status();
    }
    f->file_.emplace(std::move(pm.value()));
    // PmFile does not expose its descriptor; MakePageOps needs one for fdatasync.
    f->fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (f->fd_ < 0) {
      return Status::FromErrno("open " + path, errno);
    }
    // Fault every page in and start from clean pages, so that first-touch faults and writeback of
    // the zero fill are not charged to any benchmark.
    std::memset(f->file_->data(), 0, kFileSize);
    if (::fdatasync(f->fd_) != 0) {
      return Status::FromErrno("fdatasync " + path, errno);
    }
    return f;
  }

  BenchFile(const BenchFile&) = delete;
  BenchFile& operator=(const BenchFile&) = delete;
  ~BenchFile() {
    file_.reset();
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }  // dir_ goes last and removes the file

  uint8_t* data() const { return file_->data(); }
  int fd() const { return fd_; }

  // The next `bytes` to write; wraps around at the end of the file.
  uint8_t* Next(size_t bytes) {
    if (next_ + bytes > kFileSize) {
      next_ = 0;
    }
    uint8_t* p = data() + next_;
    next_ += bytes;
    return p;
  }
  uint8_t NextFill() { return ++fill_; }

 private:
  BenchFile() = default;

  bench::TempDir dir_;
  std::optional<PmFile> file_;
  int fd_ = -1;
  size_t next_ = 0;
  uint8_t fill_ = 0;
};

std::array<std::unique_ptr<BenchFile>, 2> g_files;

Result<BenchFile*> GetFile(MediumKind m) {
  std::unique_ptr<BenchFile>& slot = g_files[static_cast<size_t>(m)];
  if (!slot) {
    Result<std::unique_ptr<BenchFile>> f =
        BenchFile::Make(m == MediumKind::kShm ? "/dev/shm" : bench::RegularFileDir());
    if (!f.ok()) {
      return f.status();
    }
    slot = std::move(f.value());
  }
  return slot.get();
}

// A PersistOps that does nothing: the write-only baseline.
class NoPersistOps final : public PersistOps {
 public:
  Status Flush(const void*, size_t) override { return Status::Ok(); }
  Status Drain() override { return Status::Ok(); }
  Granularity granularity() const override { return Granularity::kByte; }
  std::string_view name() const override { return "none"; }
};

Result<std::unique_ptr<PersistOps>> MakeOps(Method m, const BenchFile& f) {
  auto line_ops = [](FlushInstr instr) -> Result<std::unique_ptr<PersistOps>> {
    if (!CpuHasFlushInstr(instr)) {
      return Status::Unsupported("this CPU has no " + std::string(FlushInstrName(instr)));
    }
    return MakeCacheLineOps(instr);
  };
  switch (m) {
    case Method::kNone: return std::unique_ptr<PersistOps>(std::make_unique<NoPersistOps>());
    case Method::kClwb: return line_ops(FlushInstr::kClwb);
    case Method::kClflushopt: return line_ops(FlushInstr::kClflushopt);
    case Method::kClflush: return line_ops(FlushInstr::kClflush);
    case Method::kMsync: return MakePageOps(f.data(), kFileSize, f.fd(), PageSync::kMsync);
    case Method::kFdatasync: return MakePageOps(f.data(), kFileSize, f.fd(), PageSync::kFdatasync);
  }
  return Status::InvalidArgument("unknown method");
}

void BM_Pm_Persist(benchmark::State& state, MediumKind medium, Method method) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  Result<BenchFile*> file = GetFile(medium);
  if (!file.ok()) {
    state.SkipWithError(file.status().ToString().c_str());
    return;
  }
  BenchFile& f = *file.value();
  Result<std::unique_ptr<PersistOps>> ops = MakeOps(method, f);
  if (!ops.ok()) {
    state.SkipWithError(ops.status().ToString().c_str());
    return;
  }
  // Pages left dirty by an earlier benchmark (e.g. clwb on the regular file) must not be charged
  // to this one's fdatasync.
  if (::fdatasync(f.fd()) != 0) {
    state.SkipWithError("fdatasync before the run failed");
    return;
  }
  PersistOps& p = *ops.value();
  for (auto _ : state) {
    uint8_t* dst = f.Next(bytes);
    std::memset(dst, f.NextFill(), bytes);
    Status st = p.Persist(dst, bytes);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void RegisterAll() {
  for (MediumKind medium : {MediumKind::kShm, MediumKind::kFile}) {
    for (Method method : {Method::kNone, Method::kClwb, Method::kClflushopt, Method::kClflush,
                          Method::kMsync, Method::kFdatasync}) {
      const std::string name =
          std::string("BM_Pm_Persist/") + MediumKindName(medium) + "/" + MethodName(method);
      benchmark::RegisterBenchmark(name.c_str(), BM_Pm_Persist, medium, method)
          ->RangeMultiplier(2)
          ->Range(64, 8 << 10)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace pastel

int main(int argc, char** argv) {
  pastel::RegisterAll();
  const int rc = pastel::bench::RunBenchmarks(argc, argv);
  for (auto& f : pastel::g_files) {
    f.reset();  // removes the files
  }
  return rc;
}

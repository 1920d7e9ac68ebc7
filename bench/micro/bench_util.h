#pragma once
// Helpers shared by the micro-benchmarks: temporary directories that clean up after themselves,
// the machine facts printed with every run (kernel, CPU, file systems), and a main() that applies
// pastel's default repetitions while letting command-line flags override them.

#include <benchmark/benchmark.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace pastel::bench {

// The regular-file-system directory for page-granularity benchmarks: $PASTEL_BENCH_DIR or
// /var/tmp (never a tmpfs on Debian, unlike /tmp on some systems).
inline std::string RegularFileDir() {
  const char* dir = std::getenv("PASTEL_BENCH_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "/var/tmp";
}

// A fresh directory made with mkdtemp under `parent`, removed with everything in it when the
// object is destroyed. Move-only. Owned by one thread.
class TempDir {
 public:
  TempDir() = default;
  // Returns an empty path (ok() false) when the directory cannot be made.
  static TempDir Make(const std::string& parent) {
    std::string templ = parent + "/pastel-bench-XXXXXX";
    TempDir d;
    if (::mkdtemp(templ.data()) != nullptr) {
      d.path_ = std::move(templ);
    }
    return d;
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&& other) noexcept {
    if (this != &other) {
      Remove();
      path_ = std::exchange(other.path_, {});
    }
    return *this;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { Remove(); }

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  void Remove() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
      path_.clear();
    }
  }

  std::string path_;
};

inline std::string KernelRelease() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.release : "?";
}

inline std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "?";
}

// The type of the file system holding `path` (the mount with the longest matching mount point in
// /proc/self/mounts), e.g. "tmpfs" or "ext4".
inline std::string FsType(const std::string& path) {
  std::error_code ec;
  const std::string real = std::filesystem::weakly_canonical(path, ec).string();
  std::ifstream in("/proc/self/mounts");
  std::string dev, mnt, type, rest;
  std::string best_type = "?";
  size_t best_len = 0;
  while (in >> dev >> mnt >> type && std::getline(in, rest)) {
    const bool under =
        real == mnt || (real.rfind(mnt, 0) == 0 && (mnt == "/" || real[mnt.size()] == '/'));
    if (under && mnt.size() >= best_len) {
      best_len = mnt.size();
      best_type = type;
    }
  }
  return best_type;
}

// Runs the registered benchmarks with pastel's defaults (5 repetitions, aggregates only, 0.1 s
// per repetition); any --benchmark_* flag given on the command line overrides them, because later
// flags win. Adds the machine facts to the run's context.
inline int RunBenchmarks(int argc, char** argv) {
  std::vector<std::string> defaults = {"--benchmark_repetitions=5",
                                       "--benchmark_report_aggregates_only=true",
                                       "--benchmark_min_time=0.1"};
  std::vector<char*> args;
  args.push_back(argv[0]);
  for (std::string& d : defaults) {
    args.push_back(d.data());
  }
  for (int i = 1; i < argc; ++i) {
    args.push_back(argv[i]);
  }
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) {
    return 1;
  }
  const std::string file_dir = RegularFileDir();
  benchmark::AddCustomContext("kernel", KernelRelease());
  benchmark::AddCustomContext("cpu_model", CpuModel());
  benchmark::AddCustomContext("shm_fs", "/dev/shm (" + FsType("/dev/shm") + ")");
  benchmark::AddCustomContext("file_fs", file_dir + " (" + FsType(file_dir) + ")");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace pastel::bench

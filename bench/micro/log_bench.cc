// Micro-benchmarks of the metadata log (pastel/log.h): group commit of in-place puts.
//
//   BM_Log_AppendCommit/<medium>/<batch>   `batch` AppendPut calls, then one Commit: one
//                                          iteration is one durable batch
//   BM_Log_AppendOnly/<medium>             one AppendPut per iteration, never committed: the
//                                          no-persistence baseline of the same code path
//     medium  pm    pool and log files in /dev/shm, cache-line granularity (clwb + sfence)
//             file  pool and log files on a regular file system ($PASTEL_BENCH_DIR, default
//                   /var/tmp), page granularity (msync)
//     batch   1, 2, 4, ..., 256
//
//   BM_Log_FreshAppendCommit/<medium>/<batch>, BM_Log_FreshAppendOnly/<medium>
//                                          the same, but each record first rewrites its 1 KiB
//                                          value (memset), as the kernel's receive copy would
//
// Each record is a put of a 1 KiB value that already lies in a pool buffer (PASTE's in-place
// write): kValues buffers are allocated, filled and persisted once at setup and retained, and the
// records name them in turn, so the log copies no value. The key is 12 bytes: one record is one
// 64-byte line. items/s counts records; the `per_record` counter is the time per record.
// Without "Fresh", the values are not rewritten between iterations, so their lines (pages) are
// clean when a commit flushes them; with "Fresh" they are dirty, as on a server where the kernel
// has just copied the request into the buffer (the memset is in both the commit and the baseline).
//
// When the stream fills (kNoSpace), the pending batch is committed and the stream truncated with
// the timer paused; the benchmark then goes on.

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "pastel/log.h"
#include "pastel/pool.h"

namespace pastel {
namespace {

constexpr uint32_t kValueLen = 1024;
constexpr uint32_t kBufferSize = 2048;
constexpr uint32_t kValues = 4096;          // 8 MiB of buffers, cycled through
constexpr uint64_t kStreamSize = 16 << 20;  // 262142 one-line records before a truncation

enum class MediumKind : uint8_t { kPm, kFile };

const char* MediumKindName(MediumKind m) {
  return m == MediumKind::kPm ? "pm" : "file";
}

// A pool and its log, with kValues retained 1 KiB values and one key per value. One per medium,
// shared by every benchmark of that medium, made on first use and removed at exit. Used by the
// benchmark thread only (stream 0).
class LogSetup {
 public:
  static Result<std::unique_ptr<LogSetup>> Make(MediumKind m) {
    std::unique_ptr<LogSetup> s(new LogSetup());
    const std::string parent = m == MediumKind::kPm ? "/dev/shm" : bench::RegularFileDir();
    s->dir_ = bench::TempDir::Make(parent);
    if (!s->dir_.ok()) {
      return Status::FromErrno("mkdtemp under " + parent, errno);
    }
    PmOpenOptions o;
    o.force_granularity = true;
    o.granularity = m == MediumKind::kPm ? Granularity::kCacheLine : Granularity::kPage;
    o.page_sync = PageSync::kMsync;
    PoolParams pp;
    pp.buffer_size = kBufferSize;
    pp.buffer_count = kValues;
    const std::string pool_path = s->dir_.path() + "/pool";
    Result<std::unique_ptr<Pool>> pool = Pool::Create(pool_path, 0, pp, o);
    if (!pool.ok()) {
      return pool.status();
    }
    s->pool_ = std::move(pool.value());
    LogParams lp;
    lp.streams = 1;
    lp.stream_size = kStreamSize;
    Result<std::unique_ptr<Log>> log = Log::Create(Log::PathForPool(pool_path), lp, *s->pool_, o);
    if (!log.ok()) {
      return log.status();
    }
    s->log_ = std::move(log.value());

    for (uint32_t i = 0; i < kValues; ++i) {
      Result<uint32_t> b = s->pool_->Allocate(0);
      if (!b.ok()) {
        return b.status();
      }
      uint8_t* data = s->pool_->BufferData(b.value());
      std::memset(data, static_cast<int>('a' + i % 26), kValueLen);
      PASTEL_RETURN_IF_ERROR(s->pool_->ops().Flush(data, kValueLen));
      PASTEL_RETURN_IF_ERROR(s->pool_->Retain(b.value()));
      s->values_.push_back({b.value(), 0, kValueLen});
      char key[16];
      std::snprintf(key, sizeof(key), "key-%08u", i);
      s->keys_.emplace_back(key);
    }
    PASTEL_RETURN_IF_ERROR(s->pool_->ops().Drain());
    return s;
  }

  LogSetup(const LogSetup&) = delete;
  LogSetup& operator=(const LogSetup&) = delete;
  ~LogSetup() {
    log_.reset();
    pool_.reset();
  }  // dir_ goes last and removes the files

  LogStream& stream() { return log_->stream(0); }

  // Starts a benchmark from an empty stream with no open batch (untimed).
  Status Reset() { return MakeRoom(); }

  // Appends the put of the next value, after rewriting the value when `fresh`. On kNoSpace,
  // commits and truncates the stream with the timer paused, then appends again.
  Status AppendNext(benchmark::State& state, bool fresh) {
    const uint32_t i = next_;
    next_ = next_ + 1 == kValues ? 0 : next_ + 1;
    if (fresh) {
      std::memset(pool_->BufferData(values_[i].buffer), ++fill_, kValueLen);
    }
    Result<uint64_t> seq = stream().AppendPut(keys_[i], {&values_[i], 1});
    if (seq.ok()) {
      return Status::Ok();
    }
    if (seq.status().code() != StatusCode::kNoSpace) {
      return seq.status();
    }
    state.PauseTiming();
    Status st = MakeRoom();
    state.ResumeTiming();
    PASTEL_RETURN_IF_ERROR(st);
    return stream().AppendPut(keys_[i], {&values_[i], 1}).status();
  }

 private:
  LogSetup() = default;

  // Commits what is pending and checkpoints every record, so the stream starts over empty.
  Status MakeRoom() {
    Result<CommitInfo> c = stream().Commit();
    if (!c.ok()) {
      return c.status();
    }
    return stream().Truncate(log_->next_sequence() - 1);
  }

  bench::TempDir dir_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Log> log_;
  std::vector<Extent> values_;
  std::vector<std::string> keys_;
  uint32_t next_ = 0;
  uint8_t fill_ = 0;
};

std::unique_ptr<LogSetup> g_setups[2];

LogSetup* GetSetup(benchmark::State& state, MediumKind m) {
  std::unique_ptr<LogSetup>& slot = g_setups[static_cast<size_t>(m)];
  if (!slot) {
    Result<std::unique_ptr<LogSetup>> s = LogSetup::Make(m);
    if (!s.ok()) {
      state.SkipWithError(s.status().ToString().c_str());
      return nullptr;
    }
    slot = std::move(s.value());
  }
  Status st = slot->Reset();
  if (!st.ok()) {
    state.SkipWithError(st.ToString().c_str());
    return nullptr;
  }
  return slot.get();
}

void SetRecordCounters(benchmark::State& state, int64_t records) {
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * kValueLen);
  state.counters["per_record"] = benchmark::Counter(
      static_cast<double>(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Log_AppendCommit(benchmark::State& state, MediumKind medium, bool fresh) {
  const int batch = static_cast<int>(state.range(0));
  LogSetup* s = GetSetup(state, medium);
  if (s == nullptr) {
    return;
  }
  for (auto _ : state) {
    Status st;
    for (int r = 0; r < batch && st.ok(); ++r) {
      st = s->AppendNext(state, fresh);
    }
    if (st.ok()) {
      st = s->stream().Commit().status();
    }
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  SetRecordCounters(state, state.iterations() * batch);
}

void BM_Log_AppendOnly(benchmark::State& state, MediumKind medium, bool fresh) {
  LogSetup* s = GetSetup(state, medium);
  if (s == nullptr) {
    return;
  }
  for (auto _ : state) {
    Status st = s->AppendNext(state, fresh);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  SetRecordCounters(state, state.iterations());
}

void RegisterAll() {
  for (bool fresh : {false, true}) {
    const std::string prefix = fresh ? "BM_Log_Fresh" : "BM_Log_";
    for (MediumKind medium : {MediumKind::kPm, MediumKind::kFile}) {
      const std::string m = MediumKindName(medium);
      benchmark::RegisterBenchmark((prefix + "AppendOnly/" + m).c_str(), BM_Log_AppendOnly, medium,
                                   fresh)
          ->UseRealTime();
      benchmark::RegisterBenchmark((prefix + "AppendCommit/" + m).c_str(), BM_Log_AppendCommit,
                                   medium, fresh)
          ->RangeMultiplier(2)
          ->Range(1, 256)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace pastel

int main(int argc, char** argv) {
  pastel::RegisterAll();
  const int rc = pastel::bench::RunBenchmarks(argc, argv);
  for (auto& s : pastel::g_setups) {
    s.reset();  // removes the files
  }
  return rc;
}

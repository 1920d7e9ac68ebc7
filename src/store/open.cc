#include <unistd.h>

#include <chrono>

#include "pastel/store.h"

namespace pastel::store {
namespace {

Status Step(const std::string& what, const Status& st) {
  return Status(st.code(), what + ": " + st.message());
}

}  // namespace

Result<OpenedStore> OpenOrCreate(const StoreFiles& files) {
  const auto t0 = std::chrono::steady_clock::now();
  OpenedStore out;
  Result<std::unique_ptr<Pool>> opened = Pool::Open(files.pool_path, {}, files.loops);
  if (opened.ok()) {
    out.pool = std::move(opened).value();
    Result<std::unique_ptr<Log>> l = Log::Open(Log::PathForPool(files.pool_path), *out.pool);
    if (!l.ok()) {
      return Step("open log", l.status());
    }
    out.log = std::move(l).value();
    if (out.log->stream_count() < 2 * files.loops) {
      return Status::InvalidArgument("the log has " + std::to_string(out.log->stream_count()) +
                                     " stream(s), two per thread; start with at most " +
                                     std::to_string(out.log->stream_count() / 2) + " thread(s)");
    }
    Result<Recovered> r = out.log->Recover();
    if (!r.ok()) {
      return Step("recover " + files.pool_path, r.status());
    }
    out.recovered = std::move(r).value();
  } else if (opened.status().code() == StatusCode::kNotFound) {
    PoolParams pp;
    pp.buffer_size = files.buffer_size;
    pp.partitions = files.loops;
    Result<std::unique_ptr<Pool>> created = Pool::Create(files.pool_path, files.pool_size, pp);
    if (!created.ok()) {
      return Step("create pool", created.status());
    }
    out.pool = std::move(created).value();
    LogParams lp;
    lp.streams = 2 * files.loops;  // an active and a spare (compaction target) per loop
    lp.stream_size = (files.log_size + 4095) / 4096 * 4096;
    Result<std::unique_ptr<Log>> l = Log::Create(Log::PathForPool(files.pool_path), lp, *out.pool);
    if (!l.ok()) {
      ::unlink(files.pool_path.c_str());
      return Step("create log", l.status());
    }
    out.log = std::move(l).value();
    out.created = true;
  } else {
    return Step("open pool", opened.status());
  }
  out.open_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace pastel::store

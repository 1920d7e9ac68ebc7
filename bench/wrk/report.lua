-- report.lua: wrk's done() callback shared by the benchmark scripts of this folder.
--
-- Prints one line, "PASTEL_WRK " followed by a JSON object, that bench/macro/seed_figure parses:
-- completed requests, the run's duration, socket errors and non-2xx answers, and the latency
-- distribution (microseconds) that wrk recorded for every request. Runs once, after the run, so
-- it costs the measurement nothing.

local M = {}

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'PASTEL_WRK {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"non_2xx":%d,"mean_us":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end

return M

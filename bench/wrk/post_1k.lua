-- post_1k.lua: wrk script for the seed benchmark (shared/DESIGN.md, "Numbers to beat").
--
-- Every request is `POST /k<N>` with a body of exactly 1024 bytes (Content-Length: 1024), N
-- cycling over 0 .. KEYS-1 (10000 by default) in every wrk thread, so that a run keeps
-- overwriting a fixed set of keys: the live data stays at KEYS values and the pool does not fill
-- (a server gives a key's old buffers back once the overwrite is durable). The body is the same
-- for every request; the servers store it as opaque bytes.
--
-- Every answer should be 201 Created. wrk counts any other status in its "Non-2xx or 3xx
-- responses" line (e.g. 507 once a log stream is full, 503 after a failed sync); this script
-- defines no response() callback, so that wrk keeps its fast path and measures the server.
-- done() (report.lua) prints one machine-readable line for bench/macro/seed_figure.
--
--   wrk -t1 -c100 -d10s -s bench/wrk/post_1k.lua http://127.0.0.1:8081
--   KEYS=1000 wrk -t1 -c100 -d10s -s bench/wrk/post_1k.lua http://127.0.0.1:8081
--
-- Each wrk thread runs its own copy of this script (its own counter) over the same keys, so
-- threads also overwrite each other's keys.
--
-- The KEYS requests are formatted once, when the script loads (about 1.2 KB each: 12 MB for
-- 10,000 keys); request() only hands the next one out. Formatting each request in Lua took a share of the
-- one core wrk has in the benchmark: formatted once, wrk offered 12-19% more requests/s to the
-- same servers in the same run (50 and 100 connections).

package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local keys = tonumber(os.getenv("KEYS") or "") or 10000
local body = string.rep("x", 1024)
-- Host is required of HTTP/1.1 (RFC 9112 3.2; the servers answer 400 without it), and wrk.format
-- adds none when it runs as the script loads.
local headers = { ["Content-Type"] = "application/octet-stream", ["Host"] = "127.0.0.1" }
local requests = {}
for i = 0, keys - 1 do
  requests[i + 1] = wrk.format("POST", "/k" .. i, headers, body)
end
local counter = 0

function request()
  counter = counter % keys + 1
  return requests[counter]
end

done = report.done

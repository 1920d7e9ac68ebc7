-- get_64.lua: the seed benchmark's RPC workload (shared/DESIGN.md: a small request, a 151-byte
-- response with a 64-byte body).
--
-- Every request is `GET /r<N>`, N cycling over 0 .. KEYS-1 (1000 by default) in every wrk
-- thread. The values must be stored first (bench/macro/seed_figure POSTs a 64-byte value under
-- each key before the run); a missing key answers 404, which wrk counts as non-2xx.
--
--   KEYS=1000 wrk -t1 -c50 -d10s -s bench/wrk/get_64.lua http://127.0.0.1:8080

package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local keys = tonumber(os.getenv("KEYS") or "") or 1000
-- Formatted once when the script loads; request() only hands the next one out.
-- Host is required of HTTP/1.1 (RFC 9112 3.2; the servers answer 400 without it), and wrk.format
-- adds none when it runs as the script loads.
local headers = { ["Host"] = "127.0.0.1" }
local requests = {}
for i = 0, keys - 1 do
  requests[i + 1] = wrk.format("GET", "/r" .. i, headers)
end
local counter = 0

function request()
  counter = counter % keys + 1
  return requests[counter]
end

done = report.done

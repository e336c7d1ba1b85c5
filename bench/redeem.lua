-- wrk script for bench/redemption_api.py: each request redeems a fresh coupon.
--
--   wrk -t2 -c50 -d10s -s bench/redeem.lua http://127.0.0.1:PORT -- CODES PATH TOKEN THREADS
--
-- CODES is a file of "CODE CLIENT_ID" lines, each used once: thread k of THREADS takes the lines
-- k, k + THREADS, k + 2 * THREADS… and builds all its requests in init(), so that request()
-- only hands the next one out. Every response's status is counted; done() prints one line,
--   RESULT requests=… duration_us=… p50_us=… … status_201=… exhausted=…
-- that the Python script reads. `exhausted` counts requests sent after a thread ran out of codes
-- (they reuse its last code, so they are refused): the run is then too long for its codes.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local codes_file, path, token, count = args[1], args[2], args[3], tonumber(args[4])
   local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
   }
   requests = {}
   local line_number = 0
   for line in io.lines(codes_file) do
      if line_number % count == id then
         local code, client_id = line:match("^(%S+)%s+(%S+)$")
         local body = '{"code":"' .. code .. '","client_id":"' .. client_id .. '"}'
         requests[#requests + 1] = wrk.format("POST", path, headers, body)
      end
      line_number = line_number + 1
   end
   position = 0
   exhausted = 0
   statuses = {}
end

function request()
   if position < #requests then
      position = position + 1
   else
      exhausted = exhausted + 1
   end
   return requests[position]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   local exhausted_total = 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + count
      end
      exhausted_total = exhausted_total + thread:get("exhausted")
   end
   local parts = {
      string.format("requests=%d", summary.requests),
      string.format("duration_us=%d", summary.duration),
      string.format("p50_us=%d", latency:percentile(50)),
      string.format("p95_us=%d", latency:percentile(95)),
      string.format("p99_us=%d", latency:percentile(99)),
      string.format("max_us=%d", latency.max),
      string.format("errors_connect=%d", summary.errors.connect),
      string.format("errors_read=%d", summary.errors.read),
      string.format("errors_write=%d", summary.errors.write),
      string.format("errors_timeout=%d", summary.errors.timeout),
      string.format("exhausted=%d", exhausted_total),
   }
   for status, count in pairs(counts) do
      parts[#parts + 1] = string.format("status_%d=%d", status, count)
   end
   io.write("RESULT " .. table.concat(parts, " ") .. "\n")
end

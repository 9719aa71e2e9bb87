-- wrk script for benches/library_search.sh: every request is the path in
-- BENCH_PATH with the viewer's token; at the end one line of latency
-- percentiles (wrk's own --latency output has no p95).
local path = os.getenv("BENCH_PATH")
local headers = { ["authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }

request = function()
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d rps=%.0f p50=%.1f p95=%.1f p99=%.1f max=%.1f errors=%d\n",
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end

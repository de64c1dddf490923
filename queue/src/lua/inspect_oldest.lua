-- ARGV: scan (how many entries at the reserving end of ready to look at)
-- The ready job created longest ago among the next `scan` in line, ids of discarded jobs (no
-- record, or a record in another state) skipped. Read-only, O(scan).
-- Returns { now } when there is none, else { now, id, created, kind }.
local scan = tonumber(ARGV[1])
local out = { now }
-- Reserve pops from the tail, so the next in line are the last entries.
local ids = redis.call('LRANGE', K.ready, -scan, -1)
if #ids == 0 then return out end
local recs = hmget(K.rec, ids)
local best, best_c, best_k = nil, nil, nil
-- From the head back, so of jobs enqueued in the same millisecond the next in line wins.
for i = #ids, 1, -1 do
  local r = parse(recs[i])
  if r and r.s == 'ready' then
    local c = tonumber(r.c)
    if c and (not best_c or c < best_c) then best, best_c, best_k = ids[i], c, r.k end
  end
end
if best then
  out[2] = best
  out[3] = int(best_c)
  out[4] = best_k
end
return out

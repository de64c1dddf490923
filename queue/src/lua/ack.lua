-- ARGV: done_keep_count, done_keep_age_ms, then pairs: id, lease token
-- Marks done the jobs whose lease is still the one presented (a stale run's ack changes
-- nothing), then applies done-job retention, a bounded chunk per call.
-- Returns how many were acked.
local keep_count, keep_age = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids, toks = lease_pairs(3)
local recs = hmget(K.rec, ids)
local sets, z, gone = {}, {}, {}
for i = 1, #ids do
  local r = parse(recs[i])
  if leased(r, toks[i]) then
    r.s = 'done'
    -- The run that succeeded is charged like any other.
    r.a = int(tonumber(r.a) + 1)
    unlease(r)
    sets[#sets + 1] = ids[i]
    sets[#sets + 1] = pack(r)
    z[#z + 1] = now_s
    z[#z + 1] = ids[i]
    gone[#gone + 1] = ids[i]
    move(r.k, 'running', 'done')
  end
end
if #gone > 0 then
  call_many('HSET', K.rec, sets, true)
  call_many('ZREM', K.running, gone)
  call_many('ZADD', K.done, z, true)
  -- The limit is above what this call added, so the caps hold under any batch size.
  trim(K.done, 'done', keep_count, keep_age, 100 + #gone)
end
flush_counts()
return #gone

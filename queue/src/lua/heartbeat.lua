-- ARGV: worker, lease_ms, stale_ms, info (JSON), register (1/0), then pairs: id, lease token
-- Renews every listed lease still held under its token (running, or waiting in the worker's
-- prefetch buffer). With register = 1 (the first call of a beat; a worker holding more than
-- one call's leases makes several) it also records the worker as alive, with the leases of this
-- call as its in-flight jobs, and drops at most 10 workers silent for more than stale_ms from
-- the registry. Returns the tokens of the leases it no longer holds.
local worker, lease, stale, winfo = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local register = ARGV[5] == '1'
local ids, toks = lease_pairs(6)
local deadline = int(now + lease)
local lost, z, held = {}, {}, {}
local recs = hmget(K.rec, ids)
for i = 1, #ids do
  local r = parse(recs[i])
  if leased(r, toks[i]) then
    z[#z + 1] = deadline
    z[#z + 1] = ids[i]
    held[#held + 1] = ids[i]
  else
    lost[#lost + 1] = toks[i]
  end
end
if #z > 0 then
  each_slice(z, STEP * 2, function(...) redis.call('ZADD', K.running, 'XX', ...) end)
end
if not register then return lost end
redis.call('ZADD', K.workers, now_s, worker)
redis.call('HSET', K.winfo, worker, cjson.encode({ info = winfo, beat = now, inflight = held }))
local silent = redis.call('ZRANGEBYSCORE', K.workers, '-inf', int(now - stale), 'LIMIT', 0, 10)
if #silent > 0 then
  redis.call('ZREM', K.workers, unpack(silent))
  redis.call('HDEL', K.winfo, unpack(silent))
end
return lost

-- ARGV: tag, worker, lease_ms, worker_ttl_ms, info (JSON), ids...
-- Renews the lease of every listed job still leased to this worker (running or waiting in its
-- prefetch buffer) and records the worker as alive. Returns the ids it no longer holds.
local worker, lease, ttl, info = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local running = tag .. ':running'
local deadline = now + lease
local lost = {}
local held = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', jobkey(id), 'w') == worker and redis.call('ZSCORE', running, id) then
    redis.call('ZADD', running, 'XX', deadline, id)
    held[#held + 1] = id
  else
    lost[#lost + 1] = id
  end
end
redis.call('ZADD', tag .. ':workers', now, worker)
local wk = tag .. ':worker:' .. worker
redis.call('HSET', wk, 'info', info, 'beat', now, 'inflight', cjson.encode(held))
redis.call('PEXPIRE', wk, ttl)
return lost

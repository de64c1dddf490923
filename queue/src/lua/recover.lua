-- ARGV: tag, limit, dead_cap
-- Returns jobs whose lease expired (their worker stopped heartbeating) to ready, or to dead
-- with reason "worker lost" once they used their attempts; at most `limit` per call.
local limit, dead_cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local running = tag .. ':running'
local ids = redis.call('ZRANGEBYSCORE', running, '-inf', now, 'LIMIT', 0, limit)
local requeued = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', running, id)
  local jk = jobkey(id)
  local f = redis.call('HMGET', jk, 'k', 'a', 'm', 'w')
  if f[1] then
    local err = 'worker lost (lease expired)'
    add_history(jk, f[4], f[2], err)
    redis.call('HDEL', jk, 'w')
    if tonumber(f[2]) >= tonumber(f[3]) then
      redis.call('HSET', jk, 's', 'dead', 'r', 'worker lost', 'e', err, 'f', now)
      redis.call('ZADD', tag .. ':dead', now, id)
      move(f[1], 'running', 'dead')
    else
      redis.call('HSET', jk, 's', 'ready', 'e', err)
      redis.call('RPUSH', tag .. ':ready', id)
      move(f[1], 'running', 'ready')
      requeued = requeued + 1
    end
  end
end
trim_oldest(tag .. ':dead', 'dead', dead_cap, 100 + #ids)
flush_counts()
wake(requeued)
return #ids

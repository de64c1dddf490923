-- ARGV: tag, worker, lease_ms, k, promote_limit
-- Returns: ms until the next scheduled job is due (-1 = none), paused (0/1), then per job: id, kind, payload, attempt, max_attempts
local worker, lease, k, promote = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ready, scheduled, running = tag .. ':ready', tag .. ':scheduled', tag .. ':running'
local function next_due()
  local nd = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
  if nd[2] then return math.max(0, tonumber(nd[2]) - now) end
  return -1
end
if redis.call('EXISTS', tag .. ':paused') == 1 then
  return { next_due(), 1 }
end
-- Promote due jobs in a bounded chunk: a huge due backlog moves over many calls, never in one.
local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, promote)
if #due > 0 then
  redis.call('ZREM', scheduled, unpack(due))
  for _, id in ipairs(due) do
    local jk = jobkey(id)
    local kind = redis.call('HGET', jk, 'k')
    if kind then
      redis.call('HSET', jk, 's', 'ready')
      redis.call('HDEL', jk, 'd')
      move(kind, 'scheduled', 'ready')
      redis.call('LPUSH', ready, id)
    end
  end
end
local out = { 0, 0 }
local ids = redis.call('RPOP', ready, k)
if ids then
  local deadline = now + lease
  local z = {}
  for _, id in ipairs(ids) do
    local jk = jobkey(id)
    local f = redis.call('HMGET', jk, 'k', 'p', 'm', 's')
    -- Discarded jobs leave their id in the list (no O(n) LREM); skip anything not ready.
    if f[1] and f[4] == 'ready' then
      local a = redis.call('HINCRBY', jk, 'a', 1)
      redis.call('HSET', jk, 's', 'running', 'w', worker)
      z[#z + 1] = deadline
      z[#z + 1] = id
      move(f[1], 'ready', 'running')
      out[#out + 1] = id
      out[#out + 1] = f[1]
      out[#out + 1] = f[2]
      out[#out + 1] = a
      out[#out + 1] = tonumber(f[3])
    end
  end
  if #z > 0 then redis.call('ZADD', running, unpack(z)) end
end
flush_counts()
out[1] = next_due()
return out

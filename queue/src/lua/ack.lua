-- ARGV: tag, worker, keep_count, keep_age_ms, ids...
-- Returns the number of jobs acknowledged (a job no longer leased to this worker is skipped).
local worker, keep_count, keep_age = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local running, done = tag .. ':running', tag .. ':done'
local z = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local jk = jobkey(id)
  local f = redis.call('HMGET', jk, 'w', 'k')
  if f[1] == worker and redis.call('ZREM', running, id) == 1 then
    redis.call('HSET', jk, 's', 'done', 'f', now)
    redis.call('HDEL', jk, 'w')
    z[#z + 1] = now
    z[#z + 1] = id
    move(f[2], 'running', 'done')
  end
end
if #z > 0 then redis.call('ZADD', done, unpack(z)) end
-- Retention, bounded per call (100 more than this call added, so it keeps up with any batch size
-- and works a backlog down): by count, then by age.
local limit = 100 + #z / 2
trim_oldest(done, 'done', keep_count, limit)
local old = redis.call('ZRANGEBYSCORE', done, '-inf', now - keep_age, 'LIMIT', 0, limit)
if #old > 0 then
  for _, id in ipairs(old) do
    local jk = jobkey(id)
    local kind = redis.call('HGET', jk, 'k')
    if kind then move(kind, 'done', nil) end
    redis.call('DEL', jk)
  end
  redis.call('ZREM', done, unpack(old))
end
flush_counts()
return #z / 2

-- ARGV: tag, stale_ms, limit
-- Live workers and the ones gone silent. Entries whose last heartbeat is older than stale_ms are
-- returned as gone and removed (with their hash); both lists are bounded by `limit`.
-- Returns { now, #gone, gone id, beat, ..., then per live worker: id, beat, info, inflight }.
local stale, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local workers = tag .. ':workers'
local gone = redis.call('ZRANGEBYSCORE', workers, '-inf', now - stale, 'WITHSCORES', 'LIMIT', 0, limit)
local out = { now, #gone / 2 }
for i = 1, #gone, 2 do
  redis.call('ZREM', workers, gone[i])
  redis.call('DEL', tag .. ':worker:' .. gone[i])
  out[#out + 1] = gone[i]
  out[#out + 1] = gone[i + 1]
end
local live = redis.call('ZREVRANGE', workers, 0, limit - 1, 'WITHSCORES')
for i = 1, #live, 2 do
  local h = redis.call('HMGET', tag .. ':worker:' .. live[i], 'info', 'inflight')
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or ''
end
return out

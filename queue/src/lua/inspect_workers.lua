-- ARGV: stale_ms, limit
-- Live workers and the ones gone silent. Entries whose last heartbeat is older than stale_ms are
-- returned as gone and removed; both lists are bounded by `limit`.
-- Returns { now, #gone, gone id, beat, ..., then per live worker: id, beat, record JSON }.
local stale, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', K.workers, '-inf', now - stale, 'WITHSCORES', 'LIMIT', 0, limit)
local out = { now, #gone / 2 }
local gone_ids = {}
for i = 1, #gone, 2 do
  gone_ids[#gone_ids + 1] = gone[i]
  out[#out + 1] = gone[i]
  out[#out + 1] = gone[i + 1]
end
if #gone_ids > 0 then
  call_many('ZREM', K.workers, gone_ids)
  call_many('HDEL', K.winfo, gone_ids)
end
local live = redis.call('ZREVRANGE', K.workers, 0, limit - 1, 'WITHSCORES')
local ids = {}
for i = 1, #live, 2 do ids[#ids + 1] = live[i] end
local recs = hmget(K.winfo, ids)
for i = 1, #ids do
  out[#out + 1] = ids[i]
  out[#out + 1] = live[2 * i]
  out[#out + 1] = recs[i] or ''
end
return out

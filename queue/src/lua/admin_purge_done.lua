-- ARGV: tag, age_ms, limit
-- Removes at most `limit` done jobs that finished more than age_ms ago (the oldest first).
-- Returns how many it removed; the caller calls again while that equals the limit.
local age, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local done = tag .. ':done'
local old = redis.call('ZRANGEBYSCORE', done, '-inf', now - age, 'LIMIT', 0, limit)
if #old == 0 then return 0 end
for _, id in ipairs(old) do
  local jk = jobkey(id)
  local kind = redis.call('HGET', jk, 'k')
  if kind then move(kind, 'done', nil) end
  redis.call('DEL', jk)
end
redis.call('ZREM', done, unpack(old))
flush_counts()
return #old

-- ARGV: state ('done' or 'dead'), age_ms, limit
-- Removes at most `limit` jobs of that state that got there more than age_ms ago (the oldest
-- first). Returns how many it removed; the caller calls again while that equals the limit.
local state, age, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local z = K[state]
if state ~= 'done' and state ~= 'dead' then return redis.error_reply('purge: state must be done or dead') end
local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - age, 'LIMIT', 0, limit)
if #old == 0 then return 0 end
local recs = hmget(K.rec, old)
for i = 1, #old do
  local r = parse(recs[i])
  if r then move(r.k, state, nil) end
end
call_many('ZREM', z, old)
forget(old)
flush_counts()
return #old

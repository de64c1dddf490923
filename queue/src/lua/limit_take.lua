-- One permit of a rate-limit budget: a sliding log of the permits handed out in the last
-- window (plus a margin for network jitter), shared by every process.
-- KEYS[1]: the log (zset seq -> ms granted), KEYS[2]: the budget's meta hash.
-- ARGV[1]: configured limit (a ceiling), ARGV[2]: configured window ms, ARGV[3]: margin ms,
-- ARGV[4]: percent of the window kept for urgent callers (on a limit of 20 or more, at least one
-- permit), ARGV[5]: '1' when the caller is urgent.
-- Returns {granted 0|1, wait ms, effective limit, used in the window (-1 = paused), the
-- permit's entry (0 when none)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', KEYS[2], 'learned_limit', 'learned_window', 'paused_until')
local limit = tonumber(ARGV[1])
local learned = tonumber(m[1])
if learned and learned < limit then limit = learned end
if limit < 1 then limit = 1 end
local window = tonumber(ARGV[2])
local lw = tonumber(m[2])
if lw and lw > window then window = lw end
local span = window + tonumber(ARGV[3])
redis.call('HSET', KEYS[2], 'cfg_limit', ARGV[1], 'cfg_window', ARGV[2], 'span', span)
local paused = tonumber(m[3]) or 0
if paused > now then
  redis.call('HINCRBY', KEYS[2], 'waits', 1)
  return {0, paused - now, limit, -1, 0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local used = redis.call('ZCARD', KEYS[1])
local cap = limit
local pct = tonumber(ARGV[4])
if ARGV[5] ~= '1' and pct > 0 and limit >= 20 then
  local reserve = math.ceil(limit * pct / 100)
  if reserve < 1 then reserve = 1 end
  cap = limit - reserve
  if cap < 1 then cap = 1 end
end
if used < cap then
  local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
  redis.call('ZADD', KEYS[1], now, seq)
  redis.call('PEXPIRE', KEYS[1], span)
  redis.call('HINCRBY', KEYS[2], 'granted', 1)
  return {1, 0, limit, used + 1, seq}
end
-- Full: the caller may go when enough of the oldest permits have left the window.
local oldest = redis.call('ZRANGE', KEYS[1], used - cap, used - cap, 'WITHSCORES')
local wait = 1
if oldest[2] then wait = tonumber(oldest[2]) + span - now + 1 end
if wait < 1 then wait = 1 end
redis.call('HINCRBY', KEYS[2], 'waits', 1)
return {0, wait, limit, used, 0}

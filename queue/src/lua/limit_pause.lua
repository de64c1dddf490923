-- A 429: nobody calls on this budget until the server's Retry-After has passed.
-- KEYS[1]: the meta hash. ARGV[1]: pause ms. Returns the ms left of the (possibly longer) pause.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if cur > until_ms then until_ms = cur end
redis.call('HSET', KEYS[1], 'paused_until', until_ms)
redis.call('HINCRBY', KEYS[1], 'pauses', 1)
return until_ms - now

-- What the API's rate-limit headers said about a budget.
-- KEYS[1]: the log, KEYS[2]: the meta hash.
-- ARGV[1]: limit ('' when not sent), ARGV[2]: remaining (''), ARGV[3]: window ms (''),
-- ARGV[4]: configured window ms, ARGV[5]: margin ms, ARGV[6]: the permit's entry ('' = none).
-- The permit's entry moves to now, the answer's time: the server counted the call somewhere
-- between the grant and the answer, so the log must not let it go before the server does
-- (a request delayed on its way would otherwise free its slot early).
-- A server that counts more calls than the log holds (another client of the same credential,
-- a limit lowered in the middle of a window) gets that many entries added now, so every
-- process waits for them too. Returns the entries added.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, remaining, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[6] ~= '' then
  local w = tonumber(ARGV[4])
  local lw = tonumber(redis.call('HGET', KEYS[2], 'learned_window'))
  if lw and lw > w then w = lw end
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[6]) > 0 then
    redis.call('PEXPIRE', KEYS[1], w + tonumber(ARGV[5]))
  end
end
if limit then redis.call('HSET', KEYS[2], 'learned_limit', limit, 'learned_at', now) end
if window then redis.call('HSET', KEYS[2], 'learned_window', window) end
local added = 0
if limit and remaining then
  local w = tonumber(ARGV[4])
  if window and window > w then w = window end
  local span = w + tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
  local used = redis.call('ZCARD', KEYS[1])
  local server_used = limit - remaining
  if server_used > used then
    added = server_used - used
    -- One ZADD per thousand entries (Lua's unpack has a bound).
    local last = redis.call('HINCRBY', KEYS[2], 'seq', added)
    local first = last - added + 1
    local batch = {}
    for seq = first, last do
      batch[#batch + 1] = now
      batch[#batch + 1] = seq
      if #batch >= 2000 then
        redis.call('ZADD', KEYS[1], unpack(batch))
        batch = {}
      end
    end
    if #batch > 0 then redis.call('ZADD', KEYS[1], unpack(batch)) end
    redis.call('PEXPIRE', KEYS[1], span)
    redis.call('HINCRBY', KEYS[2], 'synced', added)
  end
end
return added

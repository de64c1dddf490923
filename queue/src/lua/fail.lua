-- ARGV: tag, worker, id, error, delay_ms, permanent (0/1), dead_cap
-- Returns: -1 not leased to this worker; 0 dead; 1 scheduled for retry.
local worker, id, err = ARGV[2], ARGV[3], ARGV[4]
local delay, permanent, dead_cap = tonumber(ARGV[5]), ARGV[6] == '1', tonumber(ARGV[7])
local running = tag .. ':running'
local jk = jobkey(id)
local f = redis.call('HMGET', jk, 'w', 'k', 'a', 'm')
if f[1] ~= worker or redis.call('ZREM', running, id) == 0 then return -1 end
add_history(jk, worker, f[3], err)
redis.call('HDEL', jk, 'w')
if permanent or tonumber(f[3]) >= tonumber(f[4]) then
  local reason = 'max attempts reached'
  if permanent then reason = 'permanent error' end
  redis.call('HSET', jk, 's', 'dead', 'r', reason, 'e', err, 'f', now)
  redis.call('ZADD', tag .. ':dead', now, id)
  move(f[2], 'running', 'dead')
  trim_oldest(tag .. ':dead', 'dead', dead_cap, 100)
  flush_counts()
  return 0
end
redis.call('HSET', jk, 's', 'scheduled', 'e', err, 'd', now + delay)
redis.call('ZADD', tag .. ':scheduled', now + delay, id)
move(f[2], 'running', 'scheduled')
flush_counts()
return 1

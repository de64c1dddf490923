-- ARGV: tag, worker, ids...
-- Hands jobs leased to this worker but never started (prefetched when it stopped) back to
-- the front of ready and undoes the attempt reserve counted, so a shutdown costs no attempt.
-- Returns the number released (a job no longer leased to this worker is left alone).
local worker = ARGV[2]
local running, ready = tag .. ':running', tag .. ':ready'
local released = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local jk = jobkey(id)
  local f = redis.call('HMGET', jk, 'w', 'k')
  if f[1] == worker and redis.call('ZREM', running, id) == 1 then
    redis.call('HINCRBY', jk, 'a', -1)
    redis.call('HSET', jk, 's', 'ready')
    redis.call('HDEL', jk, 'w')
    redis.call('RPUSH', ready, id)
    move(f[2], 'running', 'ready')
    released = released + 1
  end
end
flush_counts()
wake(released)
return released

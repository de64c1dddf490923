-- ARGV: tag, id
-- Puts a dead or scheduled job back on ready, at the reserving end so it runs next. A dead job
-- gets its attempts reset to 0 (a full set of attempts again); a scheduled one keeps its count.
-- Returns { code, state }: 1 retried (state = where it came from), 0 not retryable from that
-- state, -1 no such job.
local id = ARGV[2]
local jk = jobkey(id)
local f = redis.call('HMGET', jk, 's', 'k')
local state, kind = f[1], f[2]
if not state or not kind then return { -1, '' } end
if state == 'dead' then
  redis.call('ZREM', tag .. ':dead', id)
  redis.call('HSET', jk, 's', 'ready', 'a', 0)
  redis.call('HDEL', jk, 'r', 'f', 'd')
elseif state == 'scheduled' then
  redis.call('ZREM', tag .. ':scheduled', id)
  redis.call('HSET', jk, 's', 'ready')
  redis.call('HDEL', jk, 'd')
else
  return { 0, state }
end
redis.call('RPUSH', tag .. ':ready', id)
move(kind, state, 'ready')
flush_counts()
wake(1)
return { 1, state }

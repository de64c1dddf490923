-- ARGV: id
-- Puts a job back on ready at the reserving end so it runs next, with a wake token:
-- - dead: its attempts reset to 0 (an operator retries after fixing the cause);
-- - scheduled or snoozed: attempts kept (it was only waiting);
-- - running: the current lease ends (its worker learns at its next heartbeat and cancels the
--   run; a late ack or fail of it changes nothing); the cut run is not charged.
-- Returns { code, state }: 1 retried (state = where it came from), 0 not retryable from that
-- state (ready, done), -1 no such job.
local id = ARGV[1]
local r = parse(redis.call('HGET', K.rec, id))
if not r then return { -1, '' } end
local from = r.s
if from == 'dead' then
  redis.call('ZREM', K.dead, id)
  r.a = '0'
  local v = info_get(id)
  v.r = nil
  info_set(id, v)
elseif from == 'scheduled' or from == 'snoozed' then
  redis.call('ZREM', K[from], id)
elseif from == 'running' then
  redis.call('ZREM', K.running, id)
  unlease(r)
else
  return { 0, from }
end
r.s = 'ready'
redis.call('HSET', K.rec, id, pack(r))
redis.call('RPUSH', K.ready, id)
move(r.k, from, 'ready')
flush_counts()
wake(1)
return { 1, from }

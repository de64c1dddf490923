-- ARGV: tag, id
-- Removes a job wherever it is. A ready job's id stays in the ready list (removing it would be
-- an O(n) LREM); reserve skips ids whose hash is gone. A running job's worker finds its lease
-- lost on the next heartbeat and its ack or fail is ignored. The unique key, if any, is left to
-- its TTL so the discarded event is not enqueued again meanwhile.
-- Returns the state the job was in, or '' when there is no such job.
local id = ARGV[2]
local jk = jobkey(id)
local f = redis.call('HMGET', jk, 's', 'k')
local state, kind = f[1], f[2]
if not state then return '' end
if state ~= 'ready' then redis.call('ZREM', tag .. ':' .. state, id) end
redis.call('DEL', jk)
if kind then move(kind, state, nil) end
flush_counts()
return state

-- ARGV: id
-- Removes a job wherever it is. A ready job's id stays in the ready list (removing it would be
-- an O(n) LREM); reserve skips ids that have no ready record. A running job's lease is gone:
-- its worker learns at its next heartbeat and cancels the run; its ack or fail changes
-- nothing. The unique key, if any, is left to its TTL so the discarded event is not enqueued
-- again meanwhile. Returns the state the job was in, or '' when there is no such job.
local id = ARGV[1]
local r = parse(redis.call('HGET', K.rec, id))
if not r then return '' end
if r.s ~= 'ready' then redis.call('ZREM', K[r.s], id) end
forget({ id })
move(r.k, r.s, nil)
flush_counts()
return r.s

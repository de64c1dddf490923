-- ARGV: id, lease token, delay_ms, reason, max_snoozed_ms, fail_delay_ms, dead_cap, dead_keep_age_ms
-- Puts a running job back for delay_ms without spending an attempt: it waits for something
-- that is not a failure (a rate limit, a Retry-After, a record another run is writing), and
-- its run is not charged. Snoozes have their own bound: once the job's
-- snoozed time in all would pass max_snoozed_ms, the snooze counts as a failed run instead
-- (retried after fail_delay_ms, or dead when attempts are used up), so nothing waits forever.
-- Returns: -1 not leased under this token; 2 snoozed; 1 or 0 the bound was passed and the run
-- was recorded as failed (1 scheduled for retry, 0 dead).
local id, tok, delay, reason = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local max_snoozed, fail_delay = tonumber(ARGV[5]), tonumber(ARGV[6])
local r = parse(redis.call('HGET', K.rec, id))
if not leased(r, tok) then return -1 end
local v = info_get(id)
local total = (tonumber(v.zt) or 0) + delay
if total > max_snoozed then
  local err = string.format('snoozed for more than %d ms in all (the bound); last wait: %s', max_snoozed, reason)
  local n = fail_run(id, r, err, fail_delay, false, tonumber(ARGV[7]), tonumber(ARGV[8]))
  flush_counts()
  return n
end
v.zt = total
v.zn = (tonumber(v.zn) or 0) + 1
v.zr = reason
unlease(r)
r.s = 'snoozed'
redis.call('ZREM', K.running, id)
redis.call('ZADD', K.snoozed, int(now + delay), id)
redis.call('HSET', K.rec, id, pack(r))
info_set(id, v)
move(r.k, 'running', 'snoozed')
flush_counts()
wake(1)
return 2

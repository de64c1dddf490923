-- ARGV: limit, dead_cap, dead_keep_age_ms, done_keep_count, done_keep_age_ms
-- Returns jobs whose lease expired (their worker stopped heartbeating) to the front of ready;
-- at most `limit` per call. A job whose run had started is charged for it: it gets `worker lost
-- (lease expired)` in its history, and once its attempts are used up it is dead (`worker
-- lost`). A job that never started (prefetched) goes back uncharged. Then the
-- retention that must not wait for an ack: done and dead jobs past their age, a bounded chunk.
-- Returns how many expired leases it handled.
local limit, dead_cap, dead_age = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local done_count, done_age = tonumber(ARGV[4]), tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', K.running, '-inf', now_s, 'LIMIT', 0, limit)
local requeued = {}
if #ids > 0 then
  call_many('ZREM', K.running, ids)
  local recs = hmget(K.rec, ids)
  for i = 1, #ids do
    local id, r = ids[i], parse(recs[i])
    if r and r.s == 'running' then
      if r.sd == '1' then
        -- The run had started: it is charged.
        local attempt, v = charge_failed(id, r, 'worker lost (lease expired)')
        if attempt >= tonumber(r.m) then
          bury(id, r, v, 'worker lost')
        else
          r.s = 'ready'
          requeued[#requeued + 1] = id
          move(r.k, 'running', 'ready')
        end
        info_set(id, v)
      else
        unlease(r)
        r.s = 'ready'
        requeued[#requeued + 1] = id
        move(r.k, 'running', 'ready')
      end
      redis.call('HSET', K.rec, id, pack(r))
    end
  end
  -- Next in line (a lost job has waited long enough), in the order they were leased.
  push_front(requeued)
end
trim(K.dead, 'dead', dead_cap, dead_age, 100 + #ids)
trim(K.done, 'done', done_count, done_age, 100)
flush_counts()
wake(#requeued)
return #ids

-- ARGV: worker, lease_ms, k, promote_limit, stale_budget, receipt ('' = none), receipt_ttl_ms
-- KEYS[NK + 1]: the worker's receipt key (the last reserve's leases, so a worker whose reply was
--   lost can hand them back: `reclaim`).
-- Returns: ms until the next scheduled or snoozed job is due (-1 = none), paused (0/1),
--   more (1 = stale ids used up this call's budget while more ids wait: call again at once),
--   then per job: id, lease token, attempt this run will be, max attempts, kind, payload,
--   created (ms).
local worker, lease, k = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local promote, budget, receipt, rttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
local function next_due()
  local best = -1
  for _, z in ipairs({ K.scheduled, K.snoozed }) do
    local nd = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
    if nd[2] then
      local d = math.max(0, tonumber(nd[2]) - now)
      if best < 0 or d < best then best = d end
    end
  end
  return best
end
if redis.call('EXISTS', K.paused) == 1 then
  return { next_due(), 1, 0 }
end
-- Promote due jobs in bounded chunks: a huge due backlog moves over many calls, never in one.
for _, pair in ipairs({ { K.scheduled, 'scheduled' }, { K.snoozed, 'snoozed' } }) do
  local z, state = pair[1], pair[2]
  local due = redis.call('ZRANGEBYSCORE', z, '-inf', now_s, 'LIMIT', 0, promote)
  if #due > 0 then
    call_many('ZREM', z, due)
    local recs = hmget(K.rec, due)
    local sets, ids = {}, {}
    for i = 1, #due do
      local r = parse(recs[i])
      if r and r.s == state then
        r.s = 'ready'
        sets[#sets + 1] = due[i]
        sets[#sets + 1] = pack(r)
        ids[#ids + 1] = due[i]
        move(r.k, state, 'ready')
      end
    end
    if #sets > 0 then
      call_many('HSET', K.rec, sets, true)
      call_many('LPUSH', K.ready, ids)
    end
  end
end
-- Pop until k live jobs or the stale budget is spent: ids of discarded jobs stay in the list
-- (removing them would be an O(n) LREM) and are skipped here, never stalling the live ones
-- behind them.
local got, recs_of = {}, {}
local seen = {}
local popped, limit = 0, k + budget
while #got < k and popped < limit do
  local want = math.min(k - #got, limit - popped)
  local ids = redis.call('RPOP', K.ready, want)
  if not ids then break end
  popped = popped + #ids
  local recs = hmget(K.rec, ids)
  for i = 1, #ids do
    local id = ids[i]
    local r = parse(recs[i])
    if r and r.s == 'ready' and not seen[id] then
      seen[id] = true
      got[#got + 1] = id
      recs_of[#got] = r
    end
  end
  if #ids < want then break end
end
local more = 0
if #got < k and popped >= limit and redis.call('LLEN', K.ready) > 0 then more = 1 end
local out = { 0, 0, more }
if #got > 0 then
  local top = redis.call('INCRBY', K.seq, #got)
  local deadline = int(now + lease)
  local sets, z = {}, {}
  local payloads = hmget(K.payload, got)
  local parts = { receipt }
  for i = 1, #got do
    local id, r = got[i], recs_of[i]
    r.s = 'running'
    r.l = int(top - #got + i)
    r.sd = '0'
    r.w = worker
    sets[#sets + 1] = id
    sets[#sets + 1] = pack(r)
    z[#z + 1] = deadline
    z[#z + 1] = id
    move(r.k, 'ready', 'running')
    out[#out + 1] = id
    out[#out + 1] = r.l
    out[#out + 1] = tonumber(r.a) + 1
    out[#out + 1] = r.m
    out[#out + 1] = r.k
    out[#out + 1] = payloads[i] or ''
    out[#out + 1] = r.c
    parts[#parts + 1] = id .. ':' .. r.l
  end
  call_many('HSET', K.rec, sets, true)
  call_many('ZADD', K.running, z, true)
  if receipt ~= '' then redis.call('SET', KEYS[NK + 1], table.concat(parts, ' '), 'PX', rttl) end
end
flush_counts()
out[1] = next_due()
return out

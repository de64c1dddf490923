-- ARGV: tag, then per job: id, kind, payload, max_attempts, delay_ms (0 = now), unique_key ('' = none),
--   unique_ttl_ms, id_given ('1' when the caller chose the id, so it may exist already; a fresh
--   UUID v7 cannot, and skipping its EXISTS check is a third of the per-job work)
-- Returns only the duplicates, as pairs: the job's 1-based position in the call, the existing id
-- (its own id, or the job holding the live unique key). A short reply is less work for Redis.
local ready, scheduled = tag .. ':ready', tag .. ':scheduled'
local out = {}
local pushed = 0
local delayed = 0
local ready_ids = {}
local n = 0
for i = 2, #ARGV, 8 do
  n = n + 1
  local id, kind, payload, max = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local due, uniq, uttl = now + tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6]
  local jk = jobkey(id)
  local existing = nil
  if ARGV[i + 7] == '1' and redis.call('EXISTS', jk) == 1 then
    existing = id
  elseif uniq ~= '' then
    local uk = tag .. ':unique:' .. uniq
    if not redis.call('SET', uk, id, 'NX', 'PX', uttl) then
      existing = redis.call('GET', uk) or id
    end
  end
  if existing then
    out[#out + 1] = n
    out[#out + 1] = existing
  else
    -- `a` (attempts) starts absent, read as 0.
    local fields = { 'k', kind, 'p', payload, 'm', max, 'c', now }
    if uniq ~= '' then fields[#fields + 1] = 'u'; fields[#fields + 1] = uniq end
    if due > now then
      fields[#fields + 1] = 's'; fields[#fields + 1] = 'scheduled'
      fields[#fields + 1] = 'd'; fields[#fields + 1] = due
      redis.call('HSET', jk, unpack(fields))
      redis.call('ZADD', scheduled, due, id)
      move(kind, nil, 'scheduled')
      delayed = delayed + 1
    else
      fields[#fields + 1] = 's'; fields[#fields + 1] = 'ready'
      redis.call('HSET', jk, unpack(fields))
      ready_ids[#ready_ids + 1] = id
      move(kind, nil, 'ready')
      pushed = pushed + 1
    end
  end
end
-- One LPUSH for the batch (at most 1,000 ids: the client chunks), in enqueue order.
if #ready_ids > 0 then redis.call('LPUSH', ready, unpack(ready_ids)) end
flush_counts()
-- A delayed job wakes one idle worker too, so it re-reads the next due time instead of
-- sleeping through a wait computed before this job existed.
if delayed > 0 then pushed = pushed + 1 end
wake(pushed)
return out

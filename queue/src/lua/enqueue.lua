-- ARGV: unique_ttl_ms, then per job: id, kind, payload, max_attempts, delay_ms (0 = now),
--   id_given ('1' when the caller chose the id, so it may exist already; a fresh UUID v7
--   cannot, and skipping that check saves work), unique ('' = none; else the key's display
--   form, and KEYS[NK + n] is its key, n counting the jobs that have one), front ('1' = at
--   the head of the ready line)
-- Returns only the duplicates, as pairs: the job's 1-based position in the call, the existing id
-- (its own id, or the job holding the live unique key).
local uttl = ARGV[1]
local out = {}
local recs, payloads, infos, ready_ids, front_ids, sched = {}, {}, {}, {}, {}, {}
local n, u = 0, 0
for i = 2, #ARGV, 8 do
  n = n + 1
  local id, kind, payload, max = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local delay, given, uniq = tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6]
  local existing = nil
  if given == '1' and redis.call('HEXISTS', K.rec, id) == 1 then
    existing = id
  end
  if uniq ~= '' then
    u = u + 1
    if not existing then
      local uk = KEYS[NK + u]
      if not redis.call('SET', uk, id, 'NX', 'PX', uttl) then
        existing = redis.call('GET', uk) or id
      end
    end
  end
  if existing then
    out[#out + 1] = n
    out[#out + 1] = existing
  else
    local state = 'ready'
    if delay > 0 then state = 'scheduled' end
    recs[#recs + 1] = id
    recs[#recs + 1] = state .. '||0|0|' .. max .. '|' .. now_s .. '||' .. kind
    payloads[#payloads + 1] = id
    payloads[#payloads + 1] = payload
    if uniq ~= '' then
      infos[#infos + 1] = id
      infos[#infos + 1] = '{"u":' .. cjson.encode(uniq) .. '}'
    end
    if delay > 0 then
      sched[#sched + 1] = int(now + delay)
      sched[#sched + 1] = id
    elseif ARGV[i + 7] == '1' then
      front_ids[#front_ids + 1] = id
    else
      ready_ids[#ready_ids + 1] = id
    end
    move(kind, nil, state)
  end
end
if #recs > 0 then
  call_many('HSET', K.rec, recs, true)
  call_many('HSET', K.payload, payloads, true)
end
if #infos > 0 then call_many('HSET', K.info, infos, true) end
-- In enqueue order: reserve pops from the other end.
if #ready_ids > 0 then call_many('LPUSH', K.ready, ready_ids) end
-- The head of the line is the end reserve pops from.
if #front_ids > 0 then call_many('RPUSH', K.ready, front_ids) end
if #sched > 0 then call_many('ZADD', K.scheduled, sched, true) end
flush_counts()
-- A delayed job wakes one idle worker too, so it re-reads the next due time instead of
-- sleeping through a wait computed before this job existed.
local woken = #ready_ids + #front_ids
if #sched > 0 then woken = woken + 1 end
wake(woken)
return out

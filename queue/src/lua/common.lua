-- Shared helpers, prepended to every script.
--
-- Every key a script touches is passed in KEYS, none is built here: KEYS[1..16] are the queue's
-- own keys (below, always in this order), KEYS[17..] the call's own (unique keys, a receipt).
-- They all carry the queue's hash tag, so a Redis Cluster routes the call to the one node
-- that holds the queue.
local K = {
  ready = KEYS[1], scheduled = KEYS[2], snoozed = KEYS[3], running = KEYS[4],
  done = KEYS[5], dead = KEYS[6], rec = KEYS[7], payload = KEYS[8], info = KEYS[9],
  counts = KEYS[10], paused = KEYS[11], wake = KEYS[12], workers = KEYS[13],
  winfo = KEYS[14], seq = KEYS[15], hist = KEYS[16],
}
local NK = 16
-- Redis's clock, not the caller's: leases and due times mean the same on every machine.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local now_s = string.format('%d', now)
-- Integers as text. Lua writes numbers with `%.14g` and Redis reads a Lua number argument the
-- same way: floating-point printing, a visible share of the scripts' cost. `%d` is not.
local function int(n) return string.format('%d', n) end

-- Lua's unpack is limited to a few thousand values (LUAI_MAXCSTACK): every variadic call goes
-- through these, in slices of at most STEP values, whatever the batch size.
local STEP = 1000
local function each_slice(list, step, fn)
  for i = 1, #list, step do fn(unpack(list, i, math.min(i + step - 1, #list))) end
end
-- One command over many arguments, in slices (`pairs` keeps member/score or field/value pairs whole).
local function call_many(cmd, key, list, pairs)
  local step = STEP
  if pairs then step = STEP * 2 end
  each_slice(list, step, function(...) redis.call(cmd, key, ...) end)
end
local function hmget(key, ids)
  local out = {}
  each_slice(ids, STEP, function(...)
    local got = redis.call('HMGET', key, ...)
    for i = 1, #got do out[#out + 1] = got[i] end
  end)
  return out
end

-- A job's record in K.rec: "state|lease|started|attempts|max|created|worker|kind".
--   lease: the fencing token of the current lease ('' when not leased);
--   started: 1 once the current lease's run has started (it will be charged);
--   attempts: runs that ended (failed, lost, succeeded). A started run is charged when it ends,
--   so the run under way is attempt attempts + 1, and a run that never started (prefetched),
--   was handed back or snoozed is simply never charged.
-- The lease and started flag come first: starting a run rewrites only that prefix.
-- (Plain `[^|]*` captures: a pattern with `%a+`/`%d+` classes and a greedy tail costs Redis
-- ten times as much per call, and every move parses a record.)
local function parse(v)
  if not v then return nil end
  local s, l, sd, a, m, c, w, k = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if not s or a == '' or m == '' or k == '' then return nil end
  -- Attempts and max stay text (they are rewritten as they came); `tonumber` where counted.
  return { s = s, l = l, sd = sd, a = a, m = m, c = c, w = w, k = k }
end
local function pack(r)
  return r.s .. '|' .. r.l .. '|' .. r.sd .. '|' .. r.a .. '|' .. r.m .. '|' .. r.c .. '|' .. r.w .. '|' .. r.k
end
local function unlease(r) r.l = ''; r.sd = '0'; r.w = '' end
local function leased(r, tok)
  return r and r.s == 'running' and r.l == tok and tok ~= ''
end

-- Count changes per "<state>:<kind>", applied once per script.
local delta = {}
local function move(kind, from, to)
  if from then delta[from .. ':' .. kind] = (delta[from .. ':' .. kind] or 0) - 1 end
  if to then delta[to .. ':' .. kind] = (delta[to .. ':' .. kind] or 0) + 1 end
end
local function flush_counts()
  for field, n in pairs(delta) do
    if n ~= 0 then redis.call('HINCRBY', K.counts, field, int(n)) end
  end
end

-- K.info: id -> JSON with what only the slow paths need: `e` last error, `r` dead reason,
-- `u` unique key, `zt` ms snoozed in all, `zn` snoozes, `zr` last snooze reason. The history
-- of failed attempts is apart (K.hist), so listing jobs never reads it.
local function info_get(id)
  local raw = redis.call('HGET', K.info, id)
  if raw then
    local ok, v = pcall(cjson.decode, raw)
    if ok and type(v) == 'table' then return v end
  end
  return {}
end
local function info_set(id, v) redis.call('HSET', K.info, id, cjson.encode(v)) end
-- Appends one failed attempt to the job's history (K.hist: id -> JSON array, last 20 kept).
local function add_history(id, worker, attempt, err)
  local h = {}
  local raw = redis.call('HGET', K.hist, id)
  if raw then
    local ok, v = pcall(cjson.decode, raw)
    if ok and type(v) == 'table' then h = v end
  end
  h[#h + 1] = { t = now, w = worker or '', a = attempt or 0, e = err }
  while #h > 20 do table.remove(h, 1) end
  redis.call('HSET', K.hist, id, cjson.encode(h))
end

-- Removes jobs for good (retention, purge, discard): record, payload, info and history.
local function forget(ids)
  if #ids == 0 then return end
  call_many('HDEL', K.rec, ids)
  call_many('HDEL', K.payload, ids)
  call_many('HDEL', K.info, ids)
  call_many('HDEL', K.hist, ids)
end
-- Drops members of a retention zset (done or dead): the oldest beyond `cap`, then those older than
-- `age` ms (a negative age: none by age); at most `limit` in all per call, so every call is bounded
-- and a backlog shrinks call by call.
local function trim(zkey, state, cap, age, limit)
  local old = {}
  local excess = redis.call('ZCARD', zkey) - cap
  if excess > 0 then
    if excess > limit then excess = limit end
    old = redis.call('ZRANGE', zkey, 0, excess - 1)
  end
  if #old < limit and age >= 0 then
    local aged = redis.call('ZRANGEBYSCORE', zkey, '-inf', int(now - age), 'LIMIT', #old, limit - #old)
    for i = 1, #aged do old[#old + 1] = aged[i] end
  end
  if #old == 0 then return 0 end
  local recs = hmget(K.rec, old)
  for i = 1, #old do
    -- Only the kind is needed (the record's last field; kinds hold no `|`): no full parse.
    local kind = recs[i] and string.match(recs[i], '([^|]*)$')
    if kind and kind ~= '' then move(kind, state, nil) end
  end
  call_many('ZREM', zkey, old)
  forget(old)
  return #old
end

-- Puts ids back at the reserving end of ready, next in line, in their given order (reserve
-- pops from the right, so they are pushed reversed).
local function push_front(ids)
  if #ids == 0 then return end
  local rev = {}
  for i = #ids, 1, -1 do rev[#rev + 1] = ids[i] end
  call_many('RPUSH', K.ready, rev)
end

-- `(id, token)` pairs from ARGV starting at `from`, as two lists.
local function lease_pairs(from)
  local ids, toks = {}, {}
  for i = from, #ARGV, 2 do
    ids[#ids + 1] = ARGV[i]
    toks[#toks + 1] = ARGV[i + 1]
  end
  return ids, toks
end

-- Hands the leases still held under their tokens back to the front of ready (release,
-- reclaim), uncharged: a started run that is handed back (cut by a shutdown) is not counted;
-- with `unstarted_only`, started runs are left alone. Returns how many went back.
local function hand_back(ids, toks, unstarted_only)
  local recs = hmget(K.rec, ids)
  local sets, back = {}, {}
  for i = 1, #ids do
    local r = parse(recs[i])
    if leased(r, toks[i]) and not (unstarted_only and r.sd == '1') then
      unlease(r)
      r.s = 'ready'
      sets[#sets + 1] = ids[i]
      sets[#sets + 1] = pack(r)
      back[#back + 1] = ids[i]
      move(r.k, 'running', 'ready')
    end
  end
  if #back > 0 then
    call_many('HSET', K.rec, sets, true)
    call_many('ZREM', K.running, back)
    push_front(back)
  end
  return #back
end

local function wake(n)
  if n <= 0 then return end
  if n > 16 then n = 16 end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  redis.call('LPUSH', K.wake, unpack(tokens))
  redis.call('LTRIM', K.wake, 0, 63)
end


-- Charges the run of a leased job that ended without success (it failed, or its worker was
-- lost): counts the attempt, adds `err` to the history and ends the lease. Returns the attempt
-- number and the job's info with `e` set (the caller writes it back with info_set).
local function charge_failed(id, r, err)
  local attempt = tonumber(r.a) + 1
  r.a = int(attempt)
  add_history(id, r.w, attempt, err)
  local v = info_get(id)
  v.e = err
  unlease(r)
  return attempt, v
end
-- Moves a job from its state (`r.s`) to dead, for `reason`. The caller writes the record.
local function bury(id, r, v, reason)
  v.r = reason
  move(r.k, r.s, 'dead')
  r.s = 'dead'
  redis.call('ZADD', K.dead, now_s, id)
end

-- A run that failed: it is charged, goes into the history, then the job is dead (permanent, or
-- attempts used up) or scheduled again at now + delay. `r` is the job's parsed record, still
-- leased; returns 0 dead, 1 scheduled.
local function fail_run(id, r, err, delay, permanent, dead_cap, dead_age)
  local attempt, v = charge_failed(id, r, err)
  redis.call('ZREM', K.running, id)
  if permanent or attempt >= tonumber(r.m) then
    bury(id, r, v, permanent and 'permanent error' or 'max attempts reached')
    redis.call('HSET', K.rec, id, pack(r))
    info_set(id, v)
    trim(K.dead, 'dead', dead_cap, dead_age, 100)
    return 0
  end
  move(r.k, r.s, 'scheduled')
  r.s = 'scheduled'
  redis.call('ZADD', K.scheduled, int(now + delay), id)
  redis.call('HSET', K.rec, id, pack(r))
  info_set(id, v)
  -- An idle worker re-reads the next due time (this retry may be due before what it waits for).
  wake(1)
  return 1
end

-- Shared helpers, prepended to every script. `tag` is the queue's hash-tagged key prefix;
-- every key a script touches starts with it, so all live in one Redis Cluster slot.
local tag = ARGV[1]
-- Redis's clock, not the caller's: leases and due times mean the same on every machine.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function jobkey(id) return tag .. ':job:' .. id end
-- Count changes per "<state>:<kind>", applied once per script (HINCRBY per field, not per job).
local delta = {}
local function move(kind, from, to)
  if from then delta[from .. ':' .. kind] = (delta[from .. ':' .. kind] or 0) - 1 end
  if to then delta[to .. ':' .. kind] = (delta[to .. ':' .. kind] or 0) + 1 end
end
local function flush_counts()
  local counts = tag .. ':counts'
  for field, n in pairs(delta) do
    if n ~= 0 then redis.call('HINCRBY', counts, field, n) end
  end
end
-- Appends one attempt to a job's history (JSON array, last 20 kept).
local function add_history(jk, worker, attempt, err)
  local raw = redis.call('HGET', jk, 'h')
  local h = {}
  if raw then h = cjson.decode(raw) end
  h[#h + 1] = { t = now, w = worker or '', a = tonumber(attempt) or 0, e = err }
  while #h > 20 do table.remove(h, 1) end
  redis.call('HSET', jk, 'h', cjson.encode(h))
end
-- Drops the oldest members of a retention zset beyond `cap`, at most `limit` per call, with their
-- hashes. Callers pass a limit above what the call itself added, so the set cannot outgrow the cap
-- under batches larger than 100 and a backlog beyond it shrinks call by call.
local function trim_oldest(zkey, state, cap, limit)
  local excess = redis.call('ZCARD', zkey) - cap
  if excess <= 0 then return end
  if excess > limit then excess = limit end
  local old = redis.call('ZRANGE', zkey, 0, excess - 1)
  for _, id in ipairs(old) do
    local jk = jobkey(id)
    local kind = redis.call('HGET', jk, 'k')
    if kind then move(kind, state, nil) end
    redis.call('DEL', jk)
  end
  redis.call('ZREM', zkey, unpack(old))
end
local function wake(n)
  if n <= 0 then return end
  if n > 16 then n = 16 end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  local w = tag .. ':wake'
  redis.call('LPUSH', w, unpack(tokens))
  redis.call('LTRIM', w, 0, 63)
end

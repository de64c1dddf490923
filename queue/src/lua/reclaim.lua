-- ARGV: receipt
-- KEYS[NK + 1]: the worker's receipt key, written by its last reserve.
-- After a reserve whose reply was lost (a timeout, a dropped connection): when that reserve ran,
-- its receipt names the leases it made, which nobody would heartbeat. Hands back those never
-- started, uncharged, to the front of ready. Returns how many (0 when that reserve never ran).
local v = redis.call('GET', KEYS[NK + 1])
if not v then return 0 end
local parts = {}
for p in string.gmatch(v, '%S+') do parts[#parts + 1] = p end
if parts[1] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[NK + 1])
local ids, toks = {}, {}
for i = 2, #parts do
  local id, tok = string.match(parts[i], '^(.+):(%d+)$')
  if id then
    ids[#ids + 1] = id
    toks[#toks + 1] = tok
  end
end
local recs = hmget(K.rec, ids)
local sets, back = {}, {}
for i = 1, #ids do
  local r = parse(recs[i])
  if leased(r, toks[i]) and r.sd == '0' then
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
flush_counts()
wake(#back)
return #back

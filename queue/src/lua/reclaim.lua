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
local n = hand_back(ids, toks, true)
flush_counts()
wake(n)
return n

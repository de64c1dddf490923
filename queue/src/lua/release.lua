-- ARGV: pairs: id, lease token
-- Hands leased jobs back to the front of ready without charging them: prefetched jobs a
-- stopping worker never started, and runs a shutdown interrupted (their attempt is given
-- back: a deploy is not the job's failure). Returns the number released (a lease no longer
-- held under its token is left alone).
local ids, toks = {}, {}
for i = 1, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  toks[#toks + 1] = ARGV[i + 1]
end
local recs = hmget(K.rec, ids)
local sets, back = {}, {}
for i = 1, #ids do
  local r = parse(recs[i])
  if leased(r, toks[i]) then
    if r.sd == '1' and r.a > 0 then r.a = r.a - 1 end
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

-- ARGV: pairs: id, lease token
-- A leased job's run begins: it is charged an attempt now (attempts count runs, not
-- reservations), so a job that kills its worker every time still ends dead after max attempts
-- while its prefetch-mates, never started, are not charged.
-- Returns per pair the attempt number of this run, or 0 when the lease is no longer held (the
-- job must not run). Starting twice under one lease is harmless (the same number again).
local out, sets = {}, {}
local ids, toks = lease_pairs(1)
local recs = hmget(K.rec, ids)
for i = 1, #ids do
  local r = parse(recs[i])
  if leased(r, toks[i]) then
    if r.sd == '0' then
      r.a = r.a + 1
      r.sd = '1'
      sets[#sets + 1] = ids[i]
      sets[#sets + 1] = pack(r)
    end
    out[i] = r.a
  else
    out[i] = 0
  end
end
if #sets > 0 then call_many('HSET', K.rec, sets, true) end
return out

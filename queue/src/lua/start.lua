-- ARGV: pairs: id, lease token
-- A leased job's run begins: it is marked started, so it will be charged an attempt when it
-- ends however it ends — failed, succeeded, or lost with its worker (attempts count runs, not
-- reservations: a job that kills its worker every time still ends dead after max attempts,
-- while its prefetch-mates, never started, are not charged). This must be in Redis before the
-- handler runs. Only the record's prefix ("running|<lease>|<started>|") is read and rewritten.
-- Returns per pair the attempt number of this run, or 0 when the lease is no longer held (the
-- job must not run). Starting twice under one lease is harmless (the same number again).
local ids, toks = lease_pairs(1)
local out, sets = {}, {}
local recs = hmget(K.rec, ids)
for i = 1, #ids do
  local v, tok = recs[i], toks[i]
  local head = 'running|' .. tok .. '|'
  local n = #head
  if v and tok ~= '' and string.sub(v, 1, n) == head then
    local flag = string.sub(v, n + 1, n + 1)
    local attempts = tonumber(string.match(v, '^(%d+)', n + 3)) or 0
    if flag == '0' then
      sets[#sets + 1] = ids[i]
      sets[#sets + 1] = head .. '1' .. string.sub(v, n + 2)
    end
    out[i] = attempts + 1
  else
    out[i] = 0
  end
end
if #sets > 0 then call_many('HSET', K.rec, sets, true) end
return out

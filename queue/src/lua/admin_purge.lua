-- ARGV: state ('done' or 'dead'), age_ms, limit
-- Removes at most `limit` jobs of that state that got there more than age_ms ago (the oldest
-- first). Returns how many it removed; the caller calls again while that equals the limit.
local state, age, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if state ~= 'done' and state ~= 'dead' then return redis.error_reply('purge: state must be done or dead') end
-- Retention's own trim with no count cap: by age only.
local n = trim(K[state], state, math.huge, age, limit)
flush_counts()
return n

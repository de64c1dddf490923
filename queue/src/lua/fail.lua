-- ARGV: id, lease token, error, delay_ms, permanent (0/1), dead_cap, dead_keep_age_ms
-- Records a failed run of the lease presented (a stale one changes nothing).
-- Returns: -1 not leased under this token; 0 dead; 1 scheduled for retry.
local id, tok, err = ARGV[1], ARGV[2], ARGV[3]
local delay, permanent = tonumber(ARGV[4]), ARGV[5] == '1'
local r = parse(redis.call('HGET', K.rec, id))
if not leased(r, tok) then return -1 end
local n = fail_run(id, r, err, delay, permanent, tonumber(ARGV[6]), tonumber(ARGV[7]))
flush_counts()
return n

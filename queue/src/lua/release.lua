-- ARGV: pairs: id, lease token
-- Hands leased jobs back to the front of ready without charging them: prefetched jobs a
-- stopping worker never started, and runs a shutdown interrupted (their attempt is given
-- back: a deploy is not the job's failure). Returns the number released (a lease no longer
-- held under its token is left alone).
local ids, toks = lease_pairs(1)
local n = hand_back(ids, toks, false)
flush_counts()
wake(n)
return n

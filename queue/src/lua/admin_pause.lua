-- ARGV: paused (1 = pause, 0 = resume)
-- Pausing stores the time it began. Resuming pushes wake tokens so idle workers, blocked on the
-- wake list, reserve at once rather than at their next timeout.
-- Returns 1 when the state changed, 0 when the queue already was that way.
if ARGV[1] == '1' then
  if redis.call('SET', K.paused, now_s, 'NX') then return 1 end
  return 0
end
if redis.call('DEL', K.paused) == 0 then return 0 end
wake(16)
return 1

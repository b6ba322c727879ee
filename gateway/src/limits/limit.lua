-- GCRA over every limit of one consumer at once (see gcra.rs, which this mirrors).
-- KEYS: one TAT key per limit. ARGV: interval and tolerance (microseconds) per key, in order.
-- Admitted only if every limit admits, and only an admitted request moves the TATs: a refused
-- request never extends a lockout. Redis's own clock is the one clock all gateways share.
-- Returns {admitted, retryAfterUs, remaining1, usedUs1, remaining2, usedUs2, ...}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local admitted = 1
local retry = 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local stored = redis.call('GET', KEYS[i])
  local tat = now
  if stored then
    tat = math.max(tonumber(stored), now)
  end
  tats[i] = tat
  local ahead = tat + interval - now
  if ahead > tolerance then
    admitted = 0
    retry = math.max(retry, ahead - tolerance)
  end
end
local out = {admitted, retry}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tats[i]
  if admitted == 1 then
    tat = tat + interval
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
  end
  local used = tat - now
  out[#out + 1] = math.floor((tolerance - math.min(used, tolerance)) / interval)
  out[#out + 1] = used
end
return out

-- GCRA for a batch of requests (see gcra.rs, which this mirrors), decided in the order given as
-- if each were its own call at the same instant: a gateway sends the checks that arrived while
-- its previous batch was in flight as one call. Redis's own clock is the one all gateways share.
-- KEYS: the batch's distinct TAT keys, one per limit of a subject.
-- ARGV, per request: the number of its limits, then for each limit its key's index in KEYS, its
-- interval and its tolerance (microseconds).
-- A request is admitted only if every one of its limits admits, and only an admitted request
-- moves the TATs: a refused request never extends a lockout. Each key is read once and written
-- once per batch, however many requests of one subject the batch holds.
-- Returns, per request in order: admitted, retryAfterUs, then remaining and usedUs per limit.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local stored = redis.call('MGET', unpack(KEYS))
local tats = {}
local moved = {}
for i = 1, #KEYS do
  tats[i] = now
  if stored[i] then
    tats[i] = math.max(tonumber(stored[i]), now)
  end
end
local out = {}
local at = 1
while at <= #ARGV do
  local count = tonumber(ARGV[at])
  local admitted = 1
  local retry = 0
  for j = 0, count - 1 do
    local base = at + 1 + 3 * j
    local key = tonumber(ARGV[base])
    local interval = tonumber(ARGV[base + 1])
    local tolerance = tonumber(ARGV[base + 2])
    local ahead = tats[key] + interval - now
    if ahead > tolerance then
      admitted = 0
      retry = math.max(retry, ahead - tolerance)
    end
  end
  out[#out + 1] = admitted
  out[#out + 1] = retry
  for j = 0, count - 1 do
    local base = at + 1 + 3 * j
    local key = tonumber(ARGV[base])
    local interval = tonumber(ARGV[base + 1])
    local tolerance = tonumber(ARGV[base + 2])
    if admitted == 1 then
      tats[key] = tats[key] + interval
      moved[key] = true
    end
    local used = tats[key] - now
    out[#out + 1] = math.floor((tolerance - math.min(used, tolerance)) / interval)
    out[#out + 1] = used
  end
  at = at + 1 + 3 * count
end
for i = 1, #KEYS do
  if moved[i] then
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
  end
end
return out

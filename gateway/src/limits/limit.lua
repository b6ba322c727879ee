-- GCRA for a batch of checks (see gcra.rs, which this mirrors), decided as if each were its own
-- call at the same instant: a gateway sends the checks that arrived while its previous call was
-- in flight as one call. Redis's own clock is the one all gateways share.
-- KEYS: the batch's distinct TAT keys, one per limit of a subject.
-- ARGV, per group of identical checks (one subject's, in arrival order): the group's size, the
-- number of its limits, then for each limit its key's index in KEYS, its interval and its
-- tolerance (microseconds).
-- Identical checks at one instant are decided in one step: each admitted one takes a cell of
-- every limit, so the group admits as many as the tightest limit still holds, and the first
-- refusal is followed by refusals only (a refused check moves no TAT, so it never extends a
-- lockout). Each key is read once and written once per batch.
-- Returns, per group in order: how many were admitted, then per limit the TAT's lead over now
-- before the group (the gateway works out each check's answer from these).
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
  local size = tonumber(ARGV[at])
  local count = tonumber(ARGV[at + 1])
  local admitted = size
  for j = 0, count - 1 do
    local base = at + 2 + 3 * j
    local key = tonumber(ARGV[base])
    local interval = tonumber(ARGV[base + 1])
    local tolerance = tonumber(ARGV[base + 2])
    local fits = math.floor((tolerance - (tats[key] - now)) / interval)
    admitted = math.max(0, math.min(admitted, fits))
  end
  out[#out + 1] = admitted
  for j = 0, count - 1 do
    local base = at + 2 + 3 * j
    local key = tonumber(ARGV[base])
    local interval = tonumber(ARGV[base + 1])
    out[#out + 1] = tats[key] - now
    if admitted > 0 then
      tats[key] = tats[key] + admitted * interval
      moved[key] = true
    end
  end
  at = at + 2 + 3 * count
end
for i = 1, #KEYS do
  if moved[i] then
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
  end
end
return out

-- GCRA for a batch of checks (see gcra.rs, which this mirrors), decided as if each were its own
-- call at the same instant: a gateway sends the checks that arrived while its previous call was
-- in flight as one call. Redis's own clock is the one all gateways share.
-- KEYS: the batch's distinct TAT keys, one per limit of a subject.
-- ARGV: the lease floor, then per group of identical checks (one subject's, in arrival order):
-- the group's number of checks, the cells it asks ahead (a lease), the cells it gives back (what an expired lease left),
-- the number of its limits, then for each limit its key's index in KEYS, its interval and its
-- tolerance (microseconds).
-- Given-back cells come off first, as if never taken (never below now: a limit cannot be more
-- than whole). Identical checks at one instant are decided in one step: each admitted one takes
-- a cell of every limit, so the group admits as many as the tightest limit still holds, and the
-- first refusal is followed by refusals only (a refused check moves no TAT, so it never extends
-- a lockout). A lease is granted only when every check was admitted and more than LEASE_FLOOR
-- cells would still remain, and then at most an eighth of those. Each key is read once and
-- written once per batch.
-- Returns, per group in order: how many were admitted, the cells leased, then per limit the
-- TAT's lead over now before the group's checks (the gateway works out each check's answer).
local LEASE_FLOOR = tonumber(ARGV[1])
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
local at = 2
while at <= #ARGV do
  local size = tonumber(ARGV[at])
  local want = tonumber(ARGV[at + 1])
  local back = tonumber(ARGV[at + 2])
  local count = tonumber(ARGV[at + 3])
  local first = at + 4
  local fits = nil
  for j = 0, count - 1 do
    local base = first + 3 * j
    local key = tonumber(ARGV[base])
    local interval = tonumber(ARGV[base + 1])
    local tolerance = tonumber(ARGV[base + 2])
    if back > 0 then
      tats[key] = math.max(now, tats[key] - back * interval)
      moved[key] = true
    end
    local here = math.floor((tolerance - (tats[key] - now)) / interval)
    if fits == nil or here < fits then
      fits = here
    end
  end
  fits = fits or 0
  local admitted = math.max(0, math.min(size, fits))
  local lease = 0
  if want > 0 and admitted == size and fits - size > LEASE_FLOOR then
    lease = math.min(want, math.floor((fits - size) / 8))
  end
  out[#out + 1] = admitted
  out[#out + 1] = lease
  local taken = admitted + lease
  for j = 0, count - 1 do
    local base = first + 3 * j
    local key = tonumber(ARGV[base])
    local interval = tonumber(ARGV[base + 1])
    out[#out + 1] = tats[key] - now
    if taken > 0 then
      tats[key] = tats[key] + taken * interval
      moved[key] = true
    end
  end
  at = first + 3 * count
end
for i = 1, #KEYS do
  if moved[i] then
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
  end
end
return out

// The Lua scripts of RedisTokenStore. Each binds every ARGV to a named local first. Every key a
// script touches carries the email's hash tag (the budget counters of `redeemWithBudget` excepted,
// which is only offered on one server), so on Redis Cluster they all sit in one slot.
//
// Link hash `<prefix>{tag}:l:<id>`, the id being the code's keyed digest: s sealed payload, e email
// key, t "<expires>:<retain until>" (ms in base 36; one field, as every byte counts when a link is
// outstanding), k token check; g and f the email's generation and wrong-code count when it was
// saved (absent while 0); u used at (absent while unused); b who redeemed it (absent unless given).
// Email state `<prefix>{tag}:e:<email key>`, only once there is any: g generation (a sign-in or a
// revoke adds one, burning every link saved before), f wrong codes. It is kept at least as long
// as any link that compares against it can still work, so an outstanding link costs one key.

// `late(deadline)`: true once Redis's own clock is past the request's deadline. A command that sat
// in a socket buffer while Redis was frozen then writes nothing: its caller was already answered 503.
const HELPERS = `
if redis.replicate_commands then redis.replicate_commands() end
local function late(deadline)
  if deadline == '' then return false end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(deadline)
end
local function keep(state, ms)
  if redis.call('PTTL', state) < ms then redis.call('PEXPIRE', state, ms) end
end
-- Burnt by a later sign-in or revoke. State below what the link saw at save was lost (evicted,
-- or evicted and made anew): fail closed, burnt, never fresh.
local function burnt(state, g, f)
  local st = redis.call('HMGET', state, 'g', 'f')
  local sg, sf = tonumber(st[1] or '0'), tonumber(st[2] or '0')
  local lg, lf = tonumber(g or '0'), tonumber(f or '0')
  return lg ~= sg or sf < lf
end
local function times(t)
  local sep = string.find(t, ':', 1, true)
  return tonumber(string.sub(t, 1, sep - 1), 36), tonumber(string.sub(t, sep + 1), 36)
end
local function matches(k, checks)
  return k ~= false and k ~= nil and string.find(',' .. checks .. ',', ',' .. k .. ',', 1, true) ~= nil
end
`;

// KEYS: link, state. 0 when the id is taken by a record still retained, -1 too late, else 1.
export const SAVE_SCRIPT = `${HELPERS}
local sealed, emailKey, linkTimes, retainMs, check = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local revoke, now, validMs, deadline = ARGV[6], tonumber(ARGV[7], 36), tonumber(ARGV[8]), ARGV[9]
if late(deadline) then return -1 end
local t = redis.call('HGET', KEYS[1], 't')
if t then
  local _, retain = times(t)
  if now < retain then return 0 end
  redis.call('DEL', KEYS[1])
end
local st = redis.call('HMGET', KEYS[2], 'g', 'f')
local g, f = st[1], st[2]
if revoke == '1' then g = tostring(redis.call('HINCRBY', KEYS[2], 'g', 1)) end
local fields = {'s', sealed, 'e', emailKey, 't', linkTimes, 'k', check}
if g then table.insert(fields, 'g'); table.insert(fields, g) end
if f then table.insert(fields, 'f'); table.insert(fields, f) end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], retainMs)
if g or f then keep(KEYS[2], validMs) end
return 1`;

// KEYS: link. {} when absent, else {s, e, t, u or '', burnt}.
export const PEEK_SCRIPT = `${HELPERS}
local now, statePrefix, checks = tonumber(ARGV[1], 36), ARGV[2], ARGV[3]
local v = redis.call('HMGET', KEYS[1], 's', 'e', 't', 'u', 'k', 'g', 'f')
if not v[1] or not matches(v[5], checks) then return {} end
local _, retain = times(v[3])
if now >= retain then return {} end
return {v[1], v[2], v[3], v[4] or '', burnt(statePrefix .. v[2], v[6], v[7]) and 1 or 0}`;

// KEYS: link, then budget counters. Takes a point of each counter first (as rate-limiter-flexible
// would: window on first use, blocked on the take that goes over); gives them back on success.
// {4, counter index, pttl} over budget (the link is not read), {5} too late, {0} not found,
// {2} already used, {3} expired or burnt, {1, s, e, t, replayed} redeemed.
export const REDEEM_SCRIPT = `${HELPERS}
local now, burn, statePrefix, checks, linkTtlMs = tonumber(ARGV[1], 36), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local bindings, replayMs, deadline = ARGV[6], tonumber(ARGV[7]), ARGV[8]
local counters = #KEYS - 1
if late(deadline) then return {5} end
for i = 1, counters do
  local key, points, windowMs, blockMs = KEYS[i + 1], tonumber(ARGV[6 + i * 3]), tonumber(ARGV[7 + i * 3]), tonumber(ARGV[8 + i * 3])
  redis.call('SET', key, 0, 'PX', windowMs, 'NX')
  local taken = redis.call('INCR', key)
  if taken > points then
    if blockMs > 0 and taken == points + 1 then redis.call('SET', key, taken, 'PX', blockMs) end
    for j = 1, i - 1 do redis.call('DECR', KEYS[j + 1]) end
    return {4, i - 1, redis.call('PTTL', key)}
  end
end
local function giveBack()
  for i = 1, counters do redis.call('DECR', KEYS[i + 1]) end
end
local v = redis.call('HMGET', KEYS[1], 's', 'e', 't', 'u', 'k', 'g', 'f', 'b')
if not v[1] or not matches(v[5], checks) then return {0} end
local expires, retain = times(v[3])
if now >= retain then return {0} end
if v[4] then
  if bindings ~= '' and matches(v[8], bindings) and now - tonumber(v[4], 36) <= replayMs then
    giveBack()
    return {1, v[1], v[2], v[3], 1}
  end
  return {2}
end
local state = statePrefix .. v[2]
if now >= expires or burnt(state, v[6], v[7]) then return {3} end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
if bindings ~= '' then
  local first = string.find(bindings, ',', 1, true)
  redis.call('HSET', KEYS[1], 'b', first and string.sub(bindings, 1, first - 1) or bindings)
end
if burn == '1' then
  redis.call('HINCRBY', state, 'g', 1)
  keep(state, linkTtlMs)
end
giveBack()
return {1, v[1], v[2], v[3], 0}`;

// KEYS: link (by code digest), state. 1 redeemed, 2 already used, 3 dead or expired,
// 0 wrong (counted against all the email's codes), -1 too late.
export const EXCHANGE_SCRIPT = `${HELPERS}
local now, burn, maxFailures, emailKey, linkTtlMs, deadline = tonumber(ARGV[1], 36), ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
if late(deadline) then return -1 end
local v = redis.call('HMGET', KEYS[1], 'e', 't', 'u', 'g', 'f')
local expires, retain = 0, 0
if v[2] then expires, retain = times(v[2]) end
if not v[1] or v[1] ~= emailKey or now >= retain then
  redis.call('HINCRBY', KEYS[2], 'f', 1)
  keep(KEYS[2], linkTtlMs)
  return 0
end
local st = redis.call('HMGET', KEYS[2], 'g', 'f')
if tonumber(st[2] or '0') - tonumber(v[5] or '0') >= maxFailures then return 3 end
if v[3] then return 2 end
if now >= expires or burnt(KEYS[2], v[4], v[5]) then return 3 end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
if burn == '1' then
  redis.call('HINCRBY', KEYS[2], 'g', 1)
  keep(KEYS[2], linkTtlMs)
end
return 1`;

// The Lua scripts of RedisTokenStore, and the contract between them and the TypeScript that calls
// them: each script's keys and arguments are named once here (the caller builds its argument list
// from the same names, and the script binds each to a local of that name), and every script answers
// with a status from one reply table that the decoder reads too, and ends its reply with Redis's
// clock when it ran (ms), which the store strips: how long the answer took to come back.
//
// Every key a script touches carries the email's hash tag (the budget counters of the budgeted
// redeem excepted, which is only offered on one server), so on Redis Cluster they share one slot.
//
// Link hash `<prefix>{tag}:l:<id>`, the id being the code's keyed digest: s sealed payload, e email
// key, t "<expires>:<retain until>" (ms in base 36; one field, as every byte counts when a link is
// outstanding), k token check; g and f the email's generation and wrong-code count when it was
// saved (absent while 0); u used at (absent while unused); b who redeemed it (absent unless given);
// with a cross-device attempt (only then): ac its check, am its match digest, as its sealed payload,
// x its state once it left pending (a approved, d denied, c collected) and xt when it was approved.
// Email state `<prefix>{tag}:e:<email key>`, only once there is any: g generation (a sign-in or a
// revoke adds one, burning every link saved before), f wrong codes, r and rt after a revoke (links
// saved under a generation below r read as used at rt). It is kept at least as long
// as any link that compares against it can still work, so an outstanding link costs one key.

/** Every status a script answers with, first in its reply. */
export const REPLY = {
  not_found: 0,
  redeemed: 1,
  already_used: 2,
  expired: 3,
  over_budget: 4,
  too_late: 5,
  saved: 6,
  id_taken: 7,
  wrong_code: 8,
  found: 9,
  revoked: 10,
  approved: 11,
  denied: 12,
  attempt_changed: 13,
} as const;
export type ReplyStatus = keyof typeof REPLY;
const STATUS_OF = new Map<number, ReplyStatus>(Object.entries(REPLY).map(([name, value]) => [value, name as ReplyStatus]));

/** The status a script answered with; an unknown number is a contract break, not a fact about a link. */
export function replyStatus(reply: unknown): ReplyStatus {
  const status = STATUS_OF.get(Number(Array.isArray(reply) ? reply[0] : reply));
  if (status === undefined) throw new Error(`unexpected reply from a token script: ${String(reply)}`);
  return status;
}

/** One script: its keys and arguments by name, in the order they are sent. */
export interface ScriptContract<K extends string, A extends string> {
  readonly name: string;
  readonly keys: readonly K[];
  readonly args: readonly A[];
  readonly lua: string;
}

function script<K extends string, A extends string>(name: string, keys: readonly K[], args: readonly A[], body: string): ScriptContract<K, A> {
  const bindKeys = keys.map((key, index) => `local ${key} = KEYS[${index + 1}]`).join('\n');
  const bindArgs = args.map((arg, index) => `local ${arg} = ARGV[${index + 1}]`).join('\n');
  const replies = Object.entries(REPLY)
    .map(([status, value]) => `${status} = ${value}`)
    .join(', ');
  // Budget counters, where a script takes any, ride behind its named keys and arguments.
  const counted = `local NAMED_KEYS, NAMED_ARGS = ${keys.length}, ${args.length}`;
  const lua = `local REPLY = {${replies}}\n${HELPERS}\n${bindKeys}\n${bindArgs}\n${counted}\nlocal function main()\n${body}\nend\nlocal reply = main()\nreply[#reply + 1] = nowMs()\nreturn reply`;
  return { name, keys, args, lua };
}

/** A script's reply without the clock reading it ends with, and that reading (Redis's ms). */
export function withoutClock(reply: unknown): { reply: unknown[]; ranAt: number } {
  if (!Array.isArray(reply) || reply.length < 2) throw new Error(`unexpected reply from a token script: ${String(reply)}`);
  return { reply: reply.slice(0, -1), ranAt: Number(reply.at(-1)) };
}

/** The key and argument values of one call, in the contract's order. */
export function callArgs<K extends string, A extends string>(contract: ScriptContract<K, A>, keys: Record<K, string>, args: Record<A, string>): string[] {
  return [...contract.keys.map((key) => keys[key]), ...contract.args.map((arg) => args[arg])];
}

// `late(deadline)`: true once Redis's own clock is past the request's deadline. A command that sat
// in a socket buffer while Redis was frozen then writes nothing: its caller was already answered 503.
// The clock is read once per script (`nowMs`), for the deadline and for the reply.
const HELPERS = `
if redis.replicate_commands then redis.replicate_commands() end
local clockMs
local function nowMs()
  if not clockMs then
    local t = redis.call('TIME')
    clockMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clockMs
end
local function late(deadline)
  if deadline == '' then return false end
  return nowMs() > tonumber(deadline)
end
local function keep(state, ms)
  if redis.call('PTTL', state) < ms then redis.call('PEXPIRE', state, ms) end
end
-- Whether the state read (stateOf) found none: a state made since has no TTL to compare with.
local function absent(st)
  return not (st[1] or st[2] or st[3] or st[4])
end
local function keepMade(state, st, ms)
  if absent(st) then redis.call('PEXPIRE', state, ms) else keep(state, ms) end
end
-- A sign-in (a redeem, an exchange, an approval) with burnOthers: a new generation burns every
-- other link of the email; the state outlives every link it burns.
local function burnOthersOf(state, st, burnOthers, linkTtlMs)
  if burnOthers ~= '1' then return end
  redis.call('HINCRBY', state, 'g', 1)
  keepMade(state, st, tonumber(linkTtlMs))
end
-- The email's state, read once per script: {generation, wrong codes, revoked below, revoked at}.
local function stateOf(state)
  return redis.call('HMGET', state, 'g', 'f', 'r', 'rt')
end
-- Burnt by a later sign-in or revoke. State below what the link saw at save was lost (evicted,
-- or evicted and made anew): fail closed, burnt, never fresh.
local function burnt(st, g, f)
  local sg, sf = tonumber(st[1] or '0'), tonumber(st[2] or '0')
  local lg, lf = tonumber(g or '0'), tonumber(f or '0')
  return lg ~= sg or sf < lf
end
-- When the link was revoked (base 36), or false: saved under a generation below the revoke's mark.
local function revokedAt(st, g)
  if st[3] and tonumber(g or '0') < tonumber(st[3]) then return st[4] end
  return false
end
local function times(t)
  local sep = string.find(t, ':', 1, true)
  return tonumber(string.sub(t, 1, sep - 1), 36), tonumber(string.sub(t, sep + 1), 36)
end
local function listed(value, list)
  return value ~= false and value ~= nil and string.find(',' .. list .. ',', ',' .. value .. ',', 1, true) ~= nil
end
-- Budget counters ride behind a script's named keys and arguments: KEYS[keyBase + i], with
-- ARGV[argBase + i] = "points:windowMs:blockMs". Kept as rate-limiter-flexible keeps them (a count
-- that expires with its window, set on first use; blocked for blockMs on the first take that goes
-- over), so its limiters read and reward the same keys.
local function counterAt(keyBase, argBase, i)
  local spec = ARGV[argBase + i]
  local first = string.find(spec, ':', 1, true)
  local second = string.find(spec, ':', first + 1, true)
  return KEYS[keyBase + i], tonumber(string.sub(spec, 1, first - 1)), tonumber(string.sub(spec, first + 1, second - 1)), tonumber(string.sub(spec, second + 1))
end
local function refusal(key, points, blockMs, taken, i)
  if blockMs > 0 and taken == points + 1 then redis.call('SET', key, taken, 'PX', blockMs) end
  return {REPLY.over_budget, i - 1, redis.call('PTTL', key)}
end
-- Takes a point of every counter, or none: {over_budget, index, pttl} for the first over, else nil.
local function takeAll(keyBase, argBase)
  for i = 1, #KEYS - keyBase do
    local key, points, windowMs, blockMs = counterAt(keyBase, argBase, i)
    redis.call('SET', key, 0, 'PX', windowMs, 'NX')
    local taken = redis.call('INCR', key)
    if taken > points then
      for j = 1, i - 1 do redis.call('DECR', KEYS[keyBase + j]) end
      return refusal(key, points, blockMs, taken, i)
    end
  end
  return nil
end
local function giveAll(keyBase)
  for i = 1, #KEYS - keyBase do redis.call('DECR', KEYS[keyBase + i]) end
end
-- For steps that mostly succeed and cost a point only when they fail: the refusal a take would
-- give (blocking as it would), without taking.
local function wouldRefuse(keyBase, argBase)
  for i = 1, #KEYS - keyBase do
    local key, points, _, blockMs = counterAt(keyBase, argBase, i)
    local taken = tonumber(redis.call('GET', key) or '0')
    if taken >= points then return refusal(key, points, blockMs, taken + 1, i) end
  end
  return nil
end
local function takeEach(keyBase, argBase)
  for i = 1, #KEYS - keyBase do
    local key, _, windowMs = counterAt(keyBase, argBase, i)
    redis.call('SET', key, 0, 'PX', windowMs, 'NX')
    redis.call('INCR', key)
  end
end
`;

// Keys: the link, its email's state, then any budget counters (specs after the named arguments):
// a save takes a point of each. {saved}, {id_taken} when the id belongs to a record still retained
// (no point taken), {over_budget, counter index, pttl} (nothing saved), or {too_late}.
export const SAVE = script(
  'expressMagicLinkSave10',
  ['linkKey', 'stateKey'],
  ['sealed', 'emailKey', 'linkTimes', 'retainMs', 'check', 'revokeOthers', 'nowB36', 'validMs', 'deadline', 'attemptCheck', 'attemptMatch', 'attemptSealed'],
  `
if late(deadline) then return {REPLY.too_late} end
local refused = takeAll(NAMED_KEYS, NAMED_ARGS)
if refused then return refused end
local now = tonumber(nowB36, 36)
local existing = redis.call('HGET', linkKey, 't')
if existing then
  local _, retain = times(existing)
  if now < retain then
    giveAll(NAMED_KEYS)
    return {REPLY.id_taken}
  end
  redis.call('DEL', linkKey)
end
local st = redis.call('HMGET', stateKey, 'g', 'f')
local generation, failures = st[1], st[2]
if revokeOthers == '1' then generation = tostring(redis.call('HINCRBY', stateKey, 'g', 1)) end
local fields = {'s', sealed, 'e', emailKey, 't', linkTimes, 'k', check}
if attemptCheck ~= '' then
  for _, field in ipairs({'ac', attemptCheck, 'am', attemptMatch, 'as', attemptSealed}) do table.insert(fields, field) end
end
if generation then table.insert(fields, 'g'); table.insert(fields, generation) end
if failures then table.insert(fields, 'f'); table.insert(fields, failures) end
redis.call('HSET', linkKey, unpack(fields))
redis.call('PEXPIRE', linkKey, retainMs)
if generation or failures then keep(stateKey, tonumber(validMs)) end
return {REPLY.saved}`,
);

// {not_found}, or {found, sealed, emailKey, times, usedAt or '', burnt 0/1, attempt check, match,
// sealed (each '' without an attempt)}: a read, nothing written.
export const PEEK = script(
  'expressMagicLinkPeek10',
  ['linkKey'],
  ['nowB36', 'statePrefix', 'checks'],
  `
local now = tonumber(nowB36, 36)
local v = redis.call('HMGET', linkKey, 's', 'e', 't', 'u', 'k', 'g', 'f', 'ac', 'am', 'as')
local sealed, emailKey, linkTimes, usedAt, check, generation, failures = v[1], v[2], v[3], v[4], v[5], v[6], v[7]
local attemptCheck, attemptMatch, attemptSealed = v[8], v[9], v[10]
if not sealed or not listed(check, checks) then return {REPLY.not_found} end
local _, retain = times(linkTimes)
if now >= retain then return {REPLY.not_found} end
local st = stateOf(statePrefix .. emailKey)
return {REPLY.found, sealed, emailKey, linkTimes, usedAt or revokedAt(st, generation) or '', burnt(st, generation, failures) and 1 or 0,
  attemptCheck or '', attemptMatch or '', attemptSealed or ''}`,
);

// Keys: the link, then any budget counters (specs after the named arguments). A counter with no
// point left refuses before the link is read; a redeem that fails takes a point of each. One
// script, so nothing is evaluated in between: reading first and taking only on failure counts
// exactly what taking first and giving back on success would, in fewer commands.
// {over_budget, counter index, pttl} (the link is not read), {too_late}, {not_found},
// {already_used}, {expired} (or burnt), or {redeemed, sealed, emailKey, times, replayed 0/1}.
export const REDEEM = script(
  'expressMagicLinkRedeem9',
  ['linkKey'],
  ['nowB36', 'burnOthers', 'statePrefix', 'checks', 'linkTtlMs', 'bindings', 'replayMs', 'deadline'],
  `
if late(deadline) then return {REPLY.too_late} end
local refused = wouldRefuse(NAMED_KEYS, NAMED_ARGS)
if refused then return refused end
local now = tonumber(nowB36, 36)
local function failed(status)
  takeEach(NAMED_KEYS, NAMED_ARGS)
  return {status}
end
local v = redis.call('HMGET', linkKey, 's', 'e', 't', 'u', 'k', 'g', 'f', 'b')
local sealed, emailKey, linkTimes, usedAt, check, generation, failures, boundTo = v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
if not sealed or not listed(check, checks) then return failed(REPLY.not_found) end
local expires, retain = times(linkTimes)
if now >= retain then return failed(REPLY.not_found) end
if usedAt then
  if bindings ~= '' and listed(boundTo, bindings) and now - tonumber(usedAt, 36) <= tonumber(replayMs) then
    return {REPLY.redeemed, sealed, emailKey, linkTimes, 1}
  end
  return failed(REPLY.already_used)
end
local stateKey = statePrefix .. emailKey
local st = stateOf(stateKey)
if revokedAt(st, generation) then return failed(REPLY.already_used) end
if now >= expires or burnt(st, generation, failures) then return failed(REPLY.expired) end
if bindings ~= '' then
  local comma = string.find(bindings, ',', 1, true)
  redis.call('HSET', linkKey, 'u', nowB36, 'b', comma and string.sub(bindings, 1, comma - 1) or bindings)
else
  redis.call('HSET', linkKey, 'u', nowB36)
end
burnOthersOf(stateKey, st, burnOthers, linkTtlMs)
return {REPLY.redeemed, sealed, emailKey, linkTimes, 0}`,
);

// {redeemed}, {already_used}, {expired} (dead after too many wrong tries, or expired), {wrong_code}
// (counted against every code the email has), or {too_late}.
export const EXCHANGE = script(
  'expressMagicLinkExchange9',
  ['linkKey', 'stateKey'],
  ['nowB36', 'burnOthers', 'maxFailures', 'emailKey', 'linkTtlMs', 'deadline'],
  `
if late(deadline) then return {REPLY.too_late} end
local now = tonumber(nowB36, 36)
local v = redis.call('HMGET', linkKey, 'e', 't', 'u', 'g', 'f')
local linkEmail, linkTimes, usedAt, generation, failures = v[1], v[2], v[3], v[4], v[5]
local expires, retain = 0, 0
if linkTimes then expires, retain = times(linkTimes) end
if not linkEmail or linkEmail ~= emailKey or now >= retain then
  redis.call('HINCRBY', stateKey, 'f', 1)
  keep(stateKey, tonumber(linkTtlMs))
  return {REPLY.wrong_code}
end
local st = stateOf(stateKey)
if tonumber(st[2] or '0') - tonumber(failures or '0') >= tonumber(maxFailures) then return {REPLY.expired} end
if usedAt or revokedAt(st, generation) then return {REPLY.already_used} end
if now >= expires or burnt(st, generation, failures) then return {REPLY.expired} end
redis.call('HSET', linkKey, 'u', nowB36)
burnOthersOf(stateKey, st, burnOthers, linkTtlMs)
return {REPLY.redeemed}`,
);

// {revoked}, or {too_late}: a new generation burns every link saved before, and the mark says they
// were revoked (used), not expired. Kept as long as any link it burns could still work.
export const REVOKE = script(
  'expressMagicLinkRevoke8',
  ['stateKey'],
  ['nowB36', 'linkTtlMs', 'deadline'],
  `
if late(deadline) then return {REPLY.too_late} end
local generation = redis.call('HINCRBY', stateKey, 'g', 1)
redis.call('HSET', stateKey, 'r', generation, 'rt', nowB36)
keep(stateKey, tonumber(linkTtlMs))
return {REPLY.revoked}`,
);

// A cross-device approval from another browser, as one redeem of the link: {approved} (the number
// matched: used, approvable, and the email's other links burnt as a sign-in burns them), {denied}
// (a wrong number, or none: "Not me"; used, and the attempt dead), {not_found} (no such link, or
// one without an attempt), {already_used}, {expired}, or {too_late}.
export const APPROVE = script(
  'expressMagicLinkApprove1',
  ['linkKey'],
  ['nowB36', 'burnOthers', 'statePrefix', 'checks', 'linkTtlMs', 'match', 'deadline'],
  `
if late(deadline) then return {REPLY.too_late} end
local now = tonumber(nowB36, 36)
local v = redis.call('HMGET', linkKey, 'e', 't', 'u', 'k', 'g', 'f', 'am')
local emailKey, linkTimes, usedAt, check, generation, failures, attemptMatch = v[1], v[2], v[3], v[4], v[5], v[6], v[7]
if not linkTimes or not attemptMatch or not listed(check, checks) then return {REPLY.not_found} end
local expires, retain = times(linkTimes)
if now >= retain then return {REPLY.not_found} end
if usedAt then return {REPLY.already_used} end
local stateKey = statePrefix .. emailKey
local st = stateOf(stateKey)
if revokedAt(st, generation) then return {REPLY.already_used} end
if now >= expires or burnt(st, generation, failures) then return {REPLY.expired} end
if match == '' or match ~= attemptMatch then
  redis.call('HSET', linkKey, 'u', nowB36, 'x', 'd')
  return {REPLY.denied}
end
redis.call('HSET', linkKey, 'u', nowB36, 'x', 'a', 'xt', nowB36)
burnOthersOf(stateKey, st, burnOthers, linkTtlMs)
return {REPLY.approved}`,
);

// The asking browser's view of its attempt, found by its link's key and answering only to its own
// check: {not_found}, or {found or attempt_changed, sealed, times, usedAt or '', state ('' pending,
// a, d, c), approvedAt or '', revoked 0/1, burnt 0/1, taken 0/1}. step collect: an approved attempt
// within windowMs of its approval becomes collected (taken 1); release: a collected one approved again.
export const ATTEMPT = script(
  'expressMagicLinkAttempt1',
  ['linkKey'],
  ['nowB36', 'statePrefix', 'attemptCheck', 'step', 'windowMs', 'deadline'],
  `
if step ~= 'read' and late(deadline) then return {REPLY.too_late} end
local now = tonumber(nowB36, 36)
local v = redis.call('HMGET', linkKey, 'e', 't', 'u', 'g', 'f', 'ac', 'as', 'x', 'xt')
local emailKey, linkTimes, usedAt, generation, failures, check, sealed, state, approvedAt = v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]
if not linkTimes or not check or check ~= attemptCheck then return {REPLY.not_found} end
local _, retain = times(linkTimes)
if now >= retain then return {REPLY.not_found} end
local st = stateOf(statePrefix .. emailKey)
local revoked = revokedAt(st, generation) and 1 or 0
local status, taken = REPLY.found, 0
if step == 'collect' and state == 'a' and revoked == 0 and now - tonumber(approvedAt, 36) < tonumber(windowMs) then
  redis.call('HSET', linkKey, 'x', 'c')
  state, status, taken = 'c', REPLY.attempt_changed, 1
elseif step == 'release' and state == 'c' then
  redis.call('HSET', linkKey, 'x', 'a')
  state, status = 'a', REPLY.attempt_changed
end
return {status, sealed, linkTimes, usedAt or '', state or '', approvedAt or '', revoked, burnt(st, generation, failures) and 1 or 0, taken}`,
);

export const SCRIPTS = [SAVE, PEEK, REDEEM, EXCHANGE, REVOKE, APPROVE, ATTEMPT] as const;

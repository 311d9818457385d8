import { defineScript } from './redis-script.js';

/**
 * The Lua scripts of the Redis store. Each one touches the keys of ONE entity (one hash tag), so
 * each is atomic on a single node and on a Redis Cluster alike. Numbers cross into Lua as strings
 * and are written back with `%d`, so that large integers never turn into `1e+15`.
 */

// ---------------------------------------------------------------------------------------------
// Push subscriptions. KEYS: endpoint pointer, record, registration set (see redis-keys.ts).

/**
 * Extends a subscription's keys to `until` (never shortens), from inside a script whose KEYS are
 * pointer, record and set (in that order, at `base`).
 */
const EXTEND = (base: number, until: string, id: string) => `
if tonumber(redis.call('HGET', KEYS[${base + 1}], 'x') or '0') < tonumber(${until}) then
  redis.call('HSET', KEYS[${base + 1}], 'x', ${until})
  redis.call('PEXPIREAT', KEYS[${base + 1}], ${until})
  redis.call('PEXPIREAT', KEYS[${base + 2}], ${until})
  if redis.call('GET', KEYS[${base}]) == ${id} then redis.call('PEXPIREAT', KEYS[${base}], ${until}) end
end`;

/**
 * KEYS: endpoint pointer, current record, current set, new record, new set. ARGV: expected
 * current id ('' = none), new id, p256dh, auth, expiresAt, then the new record's hash fields.
 *
 * Saves a push subscription for an endpoint in one step. Returns { 'retry' } when the pointer no
 * longer names the expected id (another put won: read again); { 'same', record fields } when the
 * current record has the same keys (it is extended to expiresAt); else stores the new record and
 * points the endpoint at it, both expiring at expiresAt, deletes the replaced record and its set,
 * and returns { 'created', ids of the replaced record's registrations }.
 */
export const putSubscription = defineScript(
  'putSubscription',
  5,
  `local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return {'retry'} end
if current then
  local keys = redis.call('HMGET', KEYS[2], 'p', 'a')
  if keys[1] == ARGV[3] and keys[2] == ARGV[4] then
    ${EXTEND(1, 'ARGV[5]', 'current')}
    return {'same', redis.call('HGETALL', KEYS[2])}
  end
end
redis.call('HSET', KEYS[4], unpack(ARGV, 6))
redis.call('PEXPIREAT', KEYS[4], ARGV[5])
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[5])
local replaced = {}
if current then
  replaced = redis.call('SMEMBERS', KEYS[3])
  redis.call('DEL', KEYS[2], KEYS[3])
end
return {'created', replaced}`,
);

/** KEYS: pointer, record, set. ARGV: id, until. Extends the subscription to `until`. */
export const extendSubscription = defineScript(
  'extendSubscription',
  3,
  `if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
${EXTEND(1, 'ARGV[2]', 'ARGV[1]')}
return 1`,
);

/** KEYS: pointer, record, set. ARGV: id. Returns the record's hash fields (empty when gone). */
export const readSubscription = defineScript(
  'readSubscription',
  3,
  `return redis.call('HGETALL', KEYS[2])`,
);

/**
 * KEYS: pointer, record, set. ARGV: id. Deletes the subscription: its record, its set, and the
 * endpoint's pointer if it still names this id. Returns { ids its set held, client key or '' }.
 */
export const dropSubscription = defineScript(
  'dropSubscription',
  3,
  `local ids = redis.call('SMEMBERS', KEYS[3])
local client = redis.call('HGET', KEYS[2], 'k') or ''
redis.call('DEL', KEYS[2], KEYS[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return {ids, client}`,
);

/**
 * KEYS: pointer, record, set. ARGV: id, until, limit, then registration ids.
 * Adds the ids to the subscription's set, all or none: 'unknown' when the subscription does not
 * exist, 'full' when the set would hold more than `limit`; else adds them, extends the
 * subscription to `until`, and returns { 'added', ids that were not members yet }.
 */
export const attachToSubscription = defineScript(
  'attachToSubscription',
  3,
  `if redis.call('EXISTS', KEYS[2]) == 0 then return {'unknown'} end
local arriving = {}
for i = 4, #ARGV do
  if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 0 then table.insert(arriving, ARGV[i]) end
end
if redis.call('SCARD', KEYS[3]) + #arriving > tonumber(ARGV[3]) then return {'full'} end
if #arriving > 0 then redis.call('SADD', KEYS[3], unpack(arriving)) end
redis.call('PEXPIREAT', KEYS[3], redis.call('HGET', KEYS[2], 'x'))
${EXTEND(1, 'ARGV[2]', 'ARGV[1]')}
return {'added', arriving}`,
);

/** KEYS: tab set. ARGV: registration id, limit. Returns 'added', 'member' or 'full'. */
export const attachToTab = defineScript(
  'attachToTab',
  1,
  `if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'member' end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'full' end
redis.call('SADD', KEYS[1], ARGV[1])
return 'added'`,
);

// ---------------------------------------------------------------------------------------------
// Registrations. KEYS: hash, data. A hash without `b` is one being created, or one retired (`z`:
// being deleted, kept until its group and sets let go of it): every script that serves readers
// treats it as missing.

/** KEYS: hash, data. ARGV: data JSON, then hash field/value pairs (no `b` yet). */
export const putRegistration = defineScript(
  'putRegistration',
  2,
  `redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SET', KEYS[2], ARGV[1])
return 1`,
);

/**
 * KEYS: hash, data. ARGV: the subscription id it was created on ('' = the stream), base.
 * Completes a registration being created by setting its base, unless it is gone or retired
 * (taken as expired meanwhile: { 'gone' }) or no longer on the subscription it was created on
 * (the subscription was deleted meanwhile and put it on the stream: { 'moved' }). Returns
 * { 'ok', base }.
 */
export const commitRegistration = defineScript(
  'commitRegistration',
  2,
  `local state = redis.call('HMGET', KEYS[1], 't', 's', 'b', 'z')
if not state[1] or state[4] then return {'gone'} end
if (state[2] or '') ~= ARGV[1] then return {'moved'} end
if state[3] then return {'ok', tonumber(state[3])} end
redis.call('HSET', KEYS[1], 'b', ARGV[2])
return {'ok', tonumber(ARGV[2])}`,
);

/** KEYS: hash, data. Returns { hash fields, data } or nil. */
export const readRegistration = defineScript(
  'readRegistration',
  2,
  `local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
return {fields, redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: hash, data. ARGV: tab id, expiresAt, hidden ('1' hold, '0' release, '' keep). Renews the
 * tab's registration: sets the expiry and holds or releases its pushes (a background
 * registration is never held), and counts its route version up (its group's copy follows, see
 * `ackMembers`, as does its acknowledgement). Returns { hash fields, data }, or nil when the
 * registration is gone, being created, or not this tab's.
 */
export const renewRegistration = defineScript(
  'renewRegistration',
  2,
  `local state = redis.call('HMGET', KEYS[1], 't', 'b')
if state[1] ~= ARGV[1] or not state[2] then return false end
redis.call('HSET', KEYS[1], 'x', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'v', 1)
if ARGV[3] == '1' and redis.call('HEXISTS', KEYS[1], 'bg') == 0 then
  redis.call('HSET', KEYS[1], 'h', '1')
elseif ARGV[3] == '0' then
  redis.call('HDEL', KEYS[1], 'h')
end
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: hash, data. ARGV: tab id ('' = any), subscription id ('' = the stream), expected current
 * subscription id (only with tab ''; '' = any). Sets where the registration is delivered: a
 * tab's move applies only to its complete registrations; a subscription's removal (tab '') also
 * to one being created, whose completion then fails. Counts the route version up (the group's
 * copy follows, see `updateRoutes`). Returns { previous subscription id or '', hash fields,
 * data }, or nil when the registration is gone, not this tab's, or no longer on the expected
 * subscription.
 */
export const setDelivery = defineScript(
  'setDelivery',
  2,
  `local owner = redis.call('HMGET', KEYS[1], 't', 's', 'b')
if not owner[1] then return false end
if ARGV[1] ~= '' and (owner[1] ~= ARGV[1] or not owner[3]) then return false end
if ARGV[3] ~= '' and owner[2] ~= ARGV[3] then return false end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 's') else redis.call('HSET', KEYS[1], 's', ARGV[2]) end
redis.call('HINCRBY', KEYS[1], 'v', 1)
return {owner[2] or '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

/** Retires a registration: gone for every reader, its hash kept for whoever finishes. */
const RETIRE = `
redis.call('HDEL', KEYS[1], 'b')
redis.call('HSET', KEYS[1], 'z', '1')
redis.call('DEL', KEYS[2])`;

/**
 * KEYS: hash, data. Retires a complete registration (the caller then takes it out of its group
 * and sets, and deletes the hash). Returns { tab id, subscription id or '', client key or '',
 * group id }, or nil when it is gone, being created or already retired.
 */
export const retireRegistration = defineScript(
  'retireRegistration',
  2,
  `local owner = redis.call('HMGET', KEYS[1], 't', 's', 'ck', 'g', 'b')
if not owner[1] or not owner[5] then return false end
${RETIRE}
return {owner[1], owner[2] or '', owner[3] or '', owner[4] or ''}`,
);

/**
 * KEYS: hash, data. ARGV: now. Retires the registration if it is still expired at `now` (one
 * being created too: what a creation cut short leaves), or if it was retired already (what a
 * deletion cut short leaves). Returns { 'taken', hash fields and data as they were },
 * { 'live', expiresAt } or { 'gone' }.
 */
export const takeIfExpired = defineScript(
  'takeIfExpired',
  2,
  `local state = redis.call('HMGET', KEYS[1], 'x', 'z')
if not state[1] then return {'gone'} end
if not state[2] and tonumber(state[1]) > tonumber(ARGV[1]) then return {'live', state[1]} end
local fields = redis.call('HGETALL', KEYS[1])
local data = redis.call('GET', KEYS[2]) or ''
${RETIRE}
return {'taken', fields, data}`,
);

// ---------------------------------------------------------------------------------------------
// Groups. KEYS: hash, data, log, members, routes. The log's first entry has group seq
// `seq - length + 1`; members are scored by the group seq each acknowledged (its base until it
// acknowledges); routes hold a copy of how each member is reached (see redis-records.ts), one
// field per member, added and removed with it.

/**
 * Takes a member's route copy (registration id, version, base or '' when not known, tail) unless
 * the group's copy is as new or newer, from inside a group script. Never adds a member: a copy
 * goes only to a member, whose base is kept from the copy it had (it never changes), or comes
 * with the copy for a member stored without one.
 */
const SET_ROUTE = `
local function setRoute(id, version, base, tail)
  local copy = redis.call('HGET', KEYS[5], id)
  if copy then
    local copyVersion, copyBase = string.match(copy, '^(%d+):(%d+):')
    if tonumber(copyVersion) >= tonumber(version) then return end
    base = copyBase
  elseif base == '' or not redis.call('ZSCORE', KEYS[4], id) then
    return
  end
  redis.call('HSET', KEYS[5], id, version .. ':' .. base .. ':' .. tail)
end`;

/**
 * Drops the log entries every member acknowledged or joined after (all of them when no member is
 * left), from inside a group script.
 */
const TRIM_ACKED = `
local function trimAcked(seq)
  local length = redis.call('LLEN', KEYS[3])
  if length == 0 then return end
  local lowest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  local acked = seq
  if #lowest > 0 then acked = tonumber(lowest[2]) end
  local first = seq - length + 1
  if acked >= seq then
    redis.call('DEL', KEYS[3])
  elseif acked >= first then
    redis.call('LTRIM', KEYS[3], string.format('%d', acked - first + 1), -1)
  end
end`;

/** ARGV: data JSON, then hash field/value pairs. Writes a group with no member and no log. */
export const putGroup = defineScript(
  'putGroup',
  5,
  `redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SET', KEYS[2], ARGV[1])
return 1`,
);

/** Returns { hash fields, data } or nil. */
export const readGroup = defineScript(
  'readGroup',
  5,
  `local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
return {fields, redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * ARGV: registration id, route version, route tail. Adds a member at the group's seq (its base,
 * also its first acknowledgement) with its route copy, and returns that seq; nil when the group
 * is gone or done.
 */
export const joinGroup = defineScript(
  'joinGroup',
  5,
  `local state = redis.call('HMGET', KEYS[1], 'n', 'd')
if not state[1] or state[2] then return false end
redis.call('ZADD', KEYS[4], state[1], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2] .. ':' .. state[1] .. ':' .. ARGV[3])
return tonumber(state[1])`,
);

/**
 * ARGV: registration id. Removes a member and its route copy; deletes a done group with its last member, else drops
 * what nobody left needs. Returns { seq, done ('1' or ''), the member's score ('' when it was
 * none), owner when the group was deleted ('' otherwise) }, or nil when the group is gone.
 */
export const leaveGroup = defineScript(
  'leaveGroup',
  5,
  `${TRIM_ACKED}
local state = redis.call('HMGET', KEYS[1], 'n', 'd', 'o')
if not state[1] then return false end
local score = redis.call('ZSCORE', KEYS[4], ARGV[1])
if score then redis.call('ZREM', KEYS[4], ARGV[1]) end
redis.call('HDEL', KEYS[5], ARGV[1])
if state[2] and redis.call('ZCARD', KEYS[4]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  return {state[1], '1', score or '', state[3] or ''}
end
trimAcked(tonumber(state[1]))
return {state[1], state[2] or '', score or '', ''}`,
);

/**
 * ARGV: per member five values: registration id, the group seq it acknowledges, then its route
 * version, base and tail (see `SET_ROUTE`). Raises each member's score (never lowers it, never
 * past the group's seq, never adds a member) and takes its route copy if newer, then drops what
 * every member acknowledged. Returns { seq, done ('1' or ''), { each member's score or '' } }, or
 * nil when the group is gone.
 */
export const ackMembers = defineScript(
  'ackMembers',
  5,
  `${TRIM_ACKED}
${SET_ROUTE}
local state = redis.call('HMGET', KEYS[1], 'n', 'd')
if not state[1] then return false end
local seq = tonumber(state[1])
local scores = {}
for i = 1, #ARGV, 5 do
  local target = math.min(tonumber(ARGV[i + 1]), seq)
  redis.call('ZADD', KEYS[4], 'XX', 'GT', string.format('%d', target), ARGV[i])
  setRoute(ARGV[i], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
  scores[#scores + 1] = redis.call('ZSCORE', KEYS[4], ARGV[i]) or ''
end
trimAcked(seq)
return {state[1], state[2] or '', scores}`,
);

/**
 * ARGV: registration ids. Returns { seq, done ('1' or ''), { each one's score or '' } } in one
 * step (a score never exceeds the seq read with it), or nil when the group is gone.
 */
export const viewGroup = defineScript(
  'viewGroup',
  5,
  `local state = redis.call('HMGET', KEYS[1], 'n', 'd')
if not state[1] then return false end
local scores = {}
for i = 1, #ARGV do scores[i] = redis.call('ZSCORE', KEYS[4], ARGV[i]) or '' end
return {state[1], state[2] or '', scores}`,
);

/**
 * ARGV: per member four values: registration id, route version, base and tail (see
 * `SET_ROUTE`). Takes each route copy that is newer than the one held. Returns { seq, done ('1'
 * or ''), { each one's score or '' } } like `viewGroup`, or nil when the group is gone.
 */
export const updateRoutes = defineScript(
  'updateRoutes',
  5,
  `${SET_ROUTE}
local state = redis.call('HMGET', KEYS[1], 'n', 'd')
if not state[1] then return false end
local scores = {}
for i = 1, #ARGV, 4 do
  setRoute(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  scores[#scores + 1] = redis.call('ZSCORE', KEYS[4], ARGV[i]) or ''
end
return {state[1], state[2] or '', scores}`,
);

/**
 * ARGV: log entry, message type, token, cursor mode ('k' keep, 'n' null, 's' set), cursor, now,
 * message TTL, max messages, append id ('' = none).
 *
 * The whole append in one step: answers { 'ok', seq it got } when the last append with an id
 * had this one (a repeat: ioredis resends commands unanswered when a connection drops, and
 * callers retry after errors; appending again would store one result twice); refuses when gone,
 * done or fenced (the token is not the group's); else stores the entry, advances seq and cursor,
 * marks done, and trims the log by count, age and the members' acknowledgements. Returns
 * { 'ok', seq }, { 'gone' }, { 'done' } or { 'fenced' }.
 */
export const appendGroupMessage = defineScript(
  'appendGroupMessage',
  5,
  `${TRIM_ACKED}
local state = redis.call('HMGET', KEYS[1], 'n', 'd', 'k', 'ai', 'as')
if not state[1] then return {'gone'} end
if ARGV[9] ~= '' and state[4] == ARGV[9] then return {'ok', tonumber(state[5])} end
if state[2] then return {'done'} end
if state[3] ~= ARGV[3] then return {'fenced'} end
local seq = tonumber(state[1]) + 1
local seqText = string.format('%d', seq)
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'n', seqText)
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'ai', ARGV[9], 'as', seqText) end
if ARGV[4] == 's' then
  redis.call('HSET', KEYS[1], 'u', ARGV[5])
elseif ARGV[4] == 'n' then
  redis.call('HDEL', KEYS[1], 'u')
end
if ARGV[2] == 'complete' or ARGV[2] == 'error' then redis.call('HSET', KEYS[1], 'd', '1') end
local max = tonumber(ARGV[8])
local length = redis.call('LLEN', KEYS[3])
if length > max then redis.call('LTRIM', KEYS[3], string.format('%d', length - max), -1) end
local oldest = tonumber(ARGV[6]) - tonumber(ARGV[7])
while true do
  local head = redis.call('LINDEX', KEYS[3], 0)
  if not head or tonumber(string.match(head, '^(%d+):')) > oldest then break end
  redis.call('LPOP', KEYS[3])
end
trimAcked(seq)
return {'ok', seq}`,
);

/**
 * ARGV: registration id, after (a group seq), limit. Returns { group seq of the first entry
 * returned, entries with group seq > after, at most limit }, or nil when the registration is not
 * a member (deleted, or not joined yet).
 */
export const readGroupMessages = defineScript(
  'readGroupMessages',
  5,
  `if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then return false end
local seq = redis.call('HGET', KEYS[1], 'n')
local limit = tonumber(ARGV[3])
if not seq or limit <= 0 then return {0, {}} end
local first = tonumber(seq) - redis.call('LLEN', KEYS[3]) + 1
local start = math.max(0, tonumber(ARGV[2]) + 1 - first)
local stop = string.format('%d', start + limit - 1)
return {first + start, redis.call('LRANGE', KEYS[3], string.format('%d', start), stop)}`,
);

/** Deletes a group with no member. Returns its owner, or nil when it has members or is gone. */
export const deleteGroup = defineScript(
  'deleteGroup',
  5,
  `if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('ZCARD', KEYS[4]) > 0 then return false end
local owner = redis.call('HGET', KEYS[1], 'o') or ''
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return owner`,
);

/**
 * ARGV: token it must be owned under, new owner, new token. Compare-and-set of the owner.
 * Returns { previous owner, hash fields, data }, or nil when the token is not (or no longer)
 * the group's, or the group is gone.
 */
export const claimGroup = defineScript(
  'claimGroup',
  5,
  `local state = redis.call('HMGET', KEYS[1], 'k', 'o')
if state[1] ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'o', ARGV[2], 'k', ARGV[3])
return {state[2] or '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

// ---------------------------------------------------------------------------------------------
// Instance leases, all under the tag {i}: leases (sorted set: instance id by lease end), tokens
// (hash: instance id to token), counter, and one set of owned group ids per instance.

/**
 * KEYS: leases, tokens, counter. ARGV: instance id, lease end. Extends the instance's lease;
 * an instance not known gets the next token. Returns its token.
 */
export const heartbeat = defineScript(
  'heartbeat',
  3,
  `local token = redis.call('HGET', KEYS[2], ARGV[1])
if not token then
  token = redis.call('INCR', KEYS[3])
  redis.call('HSET', KEYS[2], ARGV[1], token)
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return tonumber(token)`,
);

/**
 * KEYS: tokens, the instance's owned set. ARGV: instance id, group id. Adds the group to what a
 * known instance owns (an unknown one has no set: nothing would ever read it). Returns 1 when
 * added.
 */
export const addOwned = defineScript(
  'addOwned',
  2,
  `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
return 1`,
);

/**
 * KEYS: leases, tokens, the instance's owned set. ARGV: instance id, now, count. For an instance
 * whose lease ended at `now`: returns { its token, up to `count` of its owned group ids }; nil
 * while its lease runs or when it is not known.
 */
export const sampleOwned = defineScript(
  'sampleOwned',
  3,
  `local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not ends or tonumber(ends) > tonumber(ARGV[2]) then return false end
local token = redis.call('HGET', KEYS[2], ARGV[1])
if not token then return false end
return {token, redis.call('SRANDMEMBER', KEYS[3], ARGV[3])}`,
);

/**
 * KEYS: leases, tokens, the instance's owned set. ARGV: instance id, now. Forgets an instance
 * whose lease ended at `now` and that owns nothing any more. Returns 1 when forgotten.
 */
export const forgetInstance = defineScript(
  'forgetInstance',
  3,
  `local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not ends or tonumber(ends) > tonumber(ARGV[2]) then return 0 end
if redis.call('SCARD', KEYS[3]) > 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`,
);

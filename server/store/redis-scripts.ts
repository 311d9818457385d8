import { defineScript } from './redis-script.js';

/**
 * The Lua scripts of the Redis store. Each one touches the keys of ONE entity (one hash tag), so
 * each is atomic on a single node and on a Redis Cluster alike. Numbers cross into Lua as strings
 * and are written back with `%d`, so that large integers never turn into `1e+15`.
 */

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

/** KEYS: registration hash, data. ARGV: data JSON, then hash field/value pairs. */
export const putRegistration = defineScript(
  'putRegistration',
  2,
  `redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SET', KEYS[2], ARGV[1])
return 1`,
);

/** KEYS: registration hash, data. Returns { hash fields, data } or nil. */
export const readRegistration = defineScript(
  'readRegistration',
  2,
  `local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
return {fields, redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: registration hash, data, log. ARGV: tab id, acked seq, expiresAt, hidden ('1' hold,
 * '0' release, '' keep). Renews the tab's registration: sets the expiry, moves the ack forward
 * (never past seq), drops acknowledged messages and holds or releases its pushes (a background
 * registration is never held). Returns { hash fields, data }, or nil when the registration is gone
 * or not this tab's.
 */
export const renewRegistration = defineScript(
  'renewRegistration',
  3,
  `if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return false end
local seq = tonumber(redis.call('HGET', KEYS[1], 'n'))
local acked = tonumber(redis.call('HGET', KEYS[1], 'a'))
local ack = math.min(tonumber(ARGV[2]), seq)
if ack > acked then
  acked = ack
  redis.call('HSET', KEYS[1], 'a', string.format('%d', acked))
end
local first = seq - redis.call('LLEN', KEYS[3]) + 1
if acked >= first then redis.call('LTRIM', KEYS[3], acked - first + 1, -1) end
redis.call('HSET', KEYS[1], 'x', ARGV[3])
if ARGV[4] == '1' and redis.call('HEXISTS', KEYS[1], 'b') == 0 then
  redis.call('HSET', KEYS[1], 'h', '1')
elseif ARGV[4] == '0' then
  redis.call('HDEL', KEYS[1], 'h')
end
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: registration hash, data. ARGV: tab id ('' = any), subscription id ('' = the stream),
 * expected current subscription id (only with tab ''; '' = any). Sets where the registration is
 * delivered. Returns { previous subscription id or '', hash fields, data }, or nil when the
 * registration is gone, not this tab's, or no longer on the expected subscription.
 */
export const setDelivery = defineScript(
  'setDelivery',
  2,
  `local owner = redis.call('HMGET', KEYS[1], 't', 's')
if not owner[1] then return false end
if ARGV[1] ~= '' and owner[1] ~= ARGV[1] then return false end
if ARGV[3] ~= '' and owner[2] ~= ARGV[3] then return false end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 's') else redis.call('HSET', KEYS[1], 's', ARGV[2]) end
return {owner[2] or '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: registration hash, data, log. Deletes them. Returns { tab id, subscription id or '',
 * client key or '' }, or nil when nothing was deleted.
 */
export const deleteRegistration = defineScript(
  'deleteRegistration',
  3,
  `local owner = redis.call('HMGET', KEYS[1], 't', 's', 'ck')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if not owner[1] then return false end
return {owner[1], owner[2] or '', owner[3] or ''}`,
);

/**
 * KEYS: registration hash, data, log. ARGV: now. Deletes the registration only if it is still
 * expired at `now`. Returns { 'taken', hash fields, data }, { 'live', expiresAt } or { 'gone' }.
 */
export const takeIfExpired = defineScript(
  'takeIfExpired',
  3,
  `local expiresAt = redis.call('HGET', KEYS[1], 'x')
if not expiresAt then return {'gone'} end
if tonumber(expiresAt) > tonumber(ARGV[1]) then return {'live', expiresAt} end
local fields = redis.call('HGETALL', KEYS[1])
local data = redis.call('GET', KEYS[2]) or ''
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'taken', fields, data}`,
);

/**
 * KEYS: registration hash, log. ARGV: expected seq, envelope JSON, envelope type, fencing token
 * ('' = none), cursor mode ('k' keep, 'n' null, 's' set), cursor, now, message TTL, max messages,
 * append id ('' = none).
 *
 * The whole append in one step: answers { 'dup', seq } when the last append applied had this
 * append id (a repeat: ioredis resends commands unanswered when a connection drops, and callers
 * retry after errors; appending again would store one result twice); refuses when gone, done or
 * fenced by a newer lease; refuses with
 * the actual seq when it is not `expected` (the envelope was built for another seq, so the caller
 * rebuilds and retries); else stores the envelope, advances seq and cursor, marks done, and trims
 * the log by count and age. Returns { 'ok', seq }, { 'dup', seq }, { 'seq', actual }, { 'gone' },
 * { 'done' } or { 'fenced' }.
 */
export const appendMessage = defineScript(
  'appendMessage',
  2,
  `local state = redis.call('HMGET', KEYS[1], 'n', 'd', 'lt', 'ai')
if not state[1] then return {'gone'} end
if ARGV[10] ~= '' and state[4] == ARGV[10] then return {'dup', state[1]} end
if state[2] then return {'done'} end
if ARGV[4] ~= '' and tonumber(ARGV[4]) < tonumber(state[3] or '0') then return {'fenced'} end
if state[1] ~= ARGV[1] then return {'seq', state[1]} end
local seq = tonumber(state[1]) + 1
redis.call('RPUSH', KEYS[2], ARGV[7] .. ':' .. ARGV[2])
redis.call('HSET', KEYS[1], 'n', string.format('%d', seq))
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'ai', ARGV[10]) end
if ARGV[5] == 's' then
  redis.call('HSET', KEYS[1], 'u', ARGV[6])
elseif ARGV[5] == 'n' then
  redis.call('HDEL', KEYS[1], 'u')
end
if ARGV[3] == 'complete' or ARGV[3] == 'error' then redis.call('HSET', KEYS[1], 'd', '1') end
local max = tonumber(ARGV[9])
local length = redis.call('LLEN', KEYS[2])
if length > max then redis.call('LTRIM', KEYS[2], length - max, -1) end
local oldest = tonumber(ARGV[7]) - tonumber(ARGV[8])
while true do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head or tonumber(string.match(head, '^(%d+):')) > oldest then break end
  redis.call('LPOP', KEYS[2])
end
return {'ok', seq}`,
);

/** KEYS: registration hash, log. ARGV: after seq, limit. Returns the log entries with seq > after, at most limit. */
export const readMessages = defineScript(
  'readMessages',
  2,
  `local seq = redis.call('HGET', KEYS[1], 'n')
local limit = tonumber(ARGV[2])
if not seq or limit <= 0 then return {} end
local first = tonumber(seq) - redis.call('LLEN', KEYS[2]) + 1
local start = math.max(0, tonumber(ARGV[1]) + 1 - first)
return redis.call('LRANGE', KEYS[2], start, start + limit - 1)`,
);

/**
 * KEYS: registration hash. ARGV: owner, now, lease end. Extends the owner's unexpired lease with
 * the same token; else, unless another owner holds an unexpired lease, issues the next token.
 * Returns the token, or nil.
 */
export const acquireLease = defineScript(
  'acquireLease',
  1,
  `if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local lease = redis.call('HMGET', KEYS[1], 'lo', 'le', 'lt')
if lease[1] and tonumber(lease[2]) > tonumber(ARGV[2]) then
  if lease[1] ~= ARGV[1] then return false end
  redis.call('HSET', KEYS[1], 'le', ARGV[3])
  return tonumber(lease[3])
end
local token = redis.call('HINCRBY', KEYS[1], 'lt', 1)
redis.call('HSET', KEYS[1], 'lo', ARGV[1], 'le', ARGV[3])
return token`,
);

/**
 * KEYS: registration hash. ARGV: owner. Ends the lease if `owner` holds it; the token counter
 * stays. Returns 1 when it ended a lease, else 0.
 */
export const releaseLease = defineScript(
  'releaseLease',
  1,
  `if redis.call('HGET', KEYS[1], 'lo') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'lo', 'le')
return 1`,
);

import { defineScript } from './redis-script.js';

/**
 * The Lua scripts of the Redis store. Each one touches the keys of ONE entity (one hash tag), so
 * each is atomic on a single node and on a Redis Cluster alike. Numbers cross into Lua as strings
 * and are written back with `%d`, so that large integers never turn into `1e+15`.
 */

/** KEYS: endpoint. ARGV: expected id ('' = none), new id. Points the endpoint at a new id when it is still unset or at `expected`. Returns 1, or 0 when another id won. */
export const claimEndpoint = defineScript(
  'claimEndpoint',
  1,
  `local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`,
);

/** KEYS: endpoint. ARGV: id. Deletes the endpoint's pointer only if it still points at `id`. */
export const releaseEndpoint = defineScript(
  'releaseEndpoint',
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`,
);

/** KEYS: subscription, its registration set. Deletes both; returns { record JSON or '', registration ids }. */
export const dropSubscription = defineScript(
  'dropSubscription',
  2,
  `local record = redis.call('GET', KEYS[1])
local ids = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return {record or '', ids}`,
);

/**
 * KEYS: subscription, its registration set. ARGV: registration id, limit ('' = none).
 * Adds the id to the set if the subscription exists and the set is below the limit.
 * Returns 'added', 'member' (already there), 'full' or 'unknown'.
 */
export const attachToSubscription = defineScript(
  'attachToSubscription',
  2,
  `if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'member' end
if ARGV[2] ~= '' and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'full' end
redis.call('SADD', KEYS[2], ARGV[1])
return 'added'`,
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
 * KEYS: registration hash, data, log. ARGV: tab id, acked seq, expiresAt, subscription id to move
 * to ('' = stay). Renews the tab's registration: sets the expiry, moves the ack forward (never past
 * seq) and drops acknowledged messages. Returns { previous subscription id if moved else '', hash
 * fields, data }, or nil when the registration is gone or not this tab's.
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
local previous = ''
if ARGV[4] ~= '' then
  local current = redis.call('HGET', KEYS[1], 's')
  if current ~= ARGV[4] then
    previous = current
    redis.call('HSET', KEYS[1], 's', ARGV[4])
  end
end
return {previous, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: registration hash, data, log. ARGV: subscription id ('' = any). Deletes them, unless the
 * registration is on another subscription than the one given (it moved: not this deletion's).
 * Returns { tab id, subscription id }, or nil when nothing was deleted.
 */
export const deleteRegistration = defineScript(
  'deleteRegistration',
  3,
  `local owner = redis.call('HMGET', KEYS[1], 't', 's')
if owner[1] and ARGV[1] ~= '' and owner[2] ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if not owner[1] then return false end
return {owner[1], owner[2]}`,
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

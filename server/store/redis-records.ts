import type { RegistrationRecord, SubscriptionRecord } from './types.js';

/**
 * How records look in Redis. Field names are one or two letters because every byte is paid once
 * per registration.
 *
 * Registration hash (small values only, so Redis keeps it as a compact listpack):
 * `t` tab id, `s` subscription id (absent: delivered over the stream), `c` createdAt,
 * `x` expiresAt, `n` seq, `a` ackedSeq, `d` present when done, `h` present while held,
 * `b` present for a background registration, `ck` the client key, `u` cursor (absent for null),
 * `lo`/`le` lease owner
 * and expiry, `lt` last fencing token issued, `ai` id of the last append (to answer a repeated
 * one).
 *
 * Registration data string (never changes): JSON `{ k, q, o, v, h }` = operationKey, query,
 * operationName, variables, headers. Long values (documents, bearer tokens) would turn the hash
 * into a hashtable, which costs about twice the bytes; a separate string does not.
 */
interface RegistrationData {
  k: string;
  q: string;
  o: string | null;
  v: Record<string, unknown> | null;
  h: Record<string, string>;
}

/** A registration split into its hash fields (flat name/value pairs) and its data JSON. */
export interface EncodedRegistration {
  fields: string[];
  data: string;
}

/**
 * Splits a registration into what the store writes.
 * @param record - the registration
 * @returns hash fields and the data JSON
 */
export function encodeRegistration(record: RegistrationRecord): EncodedRegistration {
  const fields = [
    't',
    record.tabId,
    'c',
    String(record.createdAt),
    'x',
    String(record.expiresAt),
    'n',
    String(record.seq),
    'a',
    String(record.ackedSeq),
  ];
  if (record.subscriptionId !== null) fields.push('s', record.subscriptionId);
  if (record.clientKey !== null) fields.push('ck', record.clientKey);
  if (record.done) fields.push('d', '1');
  if (record.held) fields.push('h', '1');
  if (record.background) fields.push('b', '1');
  if (record.cursor !== null) fields.push('u', record.cursor);
  const data: RegistrationData = {
    k: record.operationKey,
    q: record.query,
    o: record.operationName,
    v: record.variables,
    h: record.headers,
  };
  return { fields, data: JSON.stringify(data) };
}

/**
 * Rebuilds a registration from a script's reply.
 * @param id - the registration id (not stored in its own hash: it is in the key)
 * @param fields - `HGETALL` of the hash, flat name/value pairs
 * @param data - the data JSON
 * @returns a fresh record
 */
export function decodeRegistration(id: string, fields: string[], data: string): RegistrationRecord {
  const hash = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2)
    hash.set(fields[i] as string, fields[i + 1] as string);
  const parsed = JSON.parse(data || '{}') as Partial<RegistrationData>;
  return {
    id,
    tabId: hash.get('t') ?? '',
    subscriptionId: hash.get('s') ?? null,
    held: hash.has('h'),
    background: hash.has('b'),
    clientKey: hash.get('ck') ?? null,
    operationKey: parsed.k ?? '',
    query: parsed.q ?? '',
    operationName: parsed.o ?? null,
    variables: parsed.v ?? null,
    headers: parsed.h ?? {},
    createdAt: Number(hash.get('c') ?? 0),
    expiresAt: Number(hash.get('x') ?? 0),
    seq: Number(hash.get('n') ?? 0),
    ackedSeq: Number(hash.get('a') ?? 0),
    done: hash.has('d'),
    cursor: hash.get('u') ?? null,
  };
}

/**
 * The hash fields a push subscription is stored as.
 * @param record - the subscription
 * @returns flat name/value pairs: `e` endpoint, `p` p256dh, `a` auth, `c` createdAt,
 * `x` expiresAt, `k` client key (when there is one)
 */
export function encodeSubscription(record: SubscriptionRecord): string[] {
  const client = record.clientKey === null ? [] : ['k', record.clientKey];
  return [
    ...client,
    'e',
    record.endpoint,
    'p',
    record.keys.p256dh,
    'a',
    record.keys.auth,
    'c',
    String(record.createdAt),
    'x',
    String(record.expiresAt),
  ];
}

/**
 * Reads a stored push subscription.
 * @param id - its id (in the key, not in the hash)
 * @param fields - `HGETALL` of its hash, flat name/value pairs
 * @returns the record, or `null` for an empty hash
 */
export function decodeSubscription(id: string, fields: string[]): SubscriptionRecord | null {
  const hash = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    hash.set(fields[i] as string, fields[i + 1] as string);
  }
  const endpoint = hash.get('e');
  if (endpoint === undefined) return null;
  return {
    id,
    endpoint,
    keys: { p256dh: hash.get('p') ?? '', auth: hash.get('a') ?? '' },
    createdAt: Number(hash.get('c') ?? 0),
    expiresAt: Number(hash.get('x') ?? 0),
    clientKey: hash.get('k') ?? null,
  };
}

import type {
  GroupMessage,
  GroupRecord,
  MemberRoute,
  RegistrationRecord,
  SubscriptionRecord,
} from './types.js';

/**
 * How records look in Redis. Field names are one or two letters because every byte is paid once
 * per registration or per group.
 *
 * Registration hash (small values only, so Redis keeps it as a compact listpack): `t` tab id,
 * `s` subscription id (absent: delivered over the stream), `c` createdAt, `x` expiresAt, `g` group
 * id, `b` base (absent while the registration is being created: readers skip it), `h` present
 * while held, `bg` present for a background registration, `ck` the client key, `v` the version
 * of its route (see the group routes hash below). Its seq, done and ackedSeq are its group's: the
 * group's seq and done, and its score in the group's members.
 *
 * Registration data string (never changes): JSON `{ k, h }` = operationKey, headers. Long values
 * (bearer tokens, cookies) would turn the hash into a hashtable, which costs about twice the
 * bytes; a separate string does not.
 *
 * Group hash: `n` seq, `d` present when done, `u` cursor (absent for null), `o` owner, `k` token,
 * `ai`/`as` id and seq of the last append that had an id. Group data string: JSON
 * `{ k, q, o, v, h, c }` = key, query, operationName, variables, headers, createdAt.
 *
 * Group log entry: `<appendedAtMs>:<type letter><payload JSON>` (`n` next, `e` error,
 * `c` complete; nothing after the letter when there is no payload).
 *
 * Group routes hash: one field per member, its registration id, holding a copy of how it is
 * reached, `<version>:<base>:<flags>:<expiresAt>:<subscription id or nothing>:<tab id>` (flags:
 * 1 held, 2 background; ids never contain `:`). The version is the registration's `v` when the
 * copy was taken: 1 when it joins, one more with each script that changes its delivery, expiry
 * or hold, so that the group keeps the newest copy whatever order copies arrive in.
 */
interface RegistrationData {
  k: string;
  h: Record<string, string>;
}

interface GroupData {
  k: string;
  q: string;
  o: string | null;
  v: Record<string, unknown> | null;
  h: Record<string, string>;
  c: number;
}

/** A registration as its own keys hold it; what comes from its group is not there. */
export interface StoredRegistration
  extends Omit<RegistrationRecord, 'seq' | 'done' | 'ackedSeq' | 'base'> {
  /** `null` while it is being created: not a registration yet for any reader. */
  base: number | null;
}

/** What a registration's record takes from its group. */
export interface GroupState {
  seq: number;
  done: boolean;
}

/** A record split into its hash fields (flat name/value pairs) and its data JSON. */
export interface EncodedRecord {
  fields: string[];
  data: string;
}

const hashOf = (fields: string[]): Map<string, string> => {
  const hash = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    hash.set(fields[i] as string, fields[i + 1] as string);
  }
  return hash;
};

/** The version of a registration's route when it joins its group (its `v` as created). */
export const FIRST_ROUTE_VERSION = 1;

/**
 * Splits a registration into what the store writes when it creates one: everything but its
 * base, which the group gives when it joins.
 * @param record - the registration
 * @returns hash fields and the data JSON
 */
export function encodeRegistration(record: RegistrationRecord): EncodedRecord {
  const fields = [
    't',
    record.tabId,
    'c',
    String(record.createdAt),
    'x',
    String(record.expiresAt),
    'g',
    record.groupId,
  ];
  if (record.subscriptionId !== null) fields.push('s', record.subscriptionId);
  if (record.clientKey !== null) fields.push('ck', record.clientKey);
  if (record.held) fields.push('h', '1');
  if (record.background) fields.push('bg', '1');
  fields.push('v', String(FIRST_ROUTE_VERSION));
  const data: RegistrationData = { k: record.operationKey, h: record.headers };
  return { fields, data: JSON.stringify(data) };
}

/**
 * Reads a registration's own keys from a script's reply.
 * @param id - the registration id (not stored in its own hash: it is in the key)
 * @param fields - `HGETALL` of the hash, flat name/value pairs
 * @param data - the data JSON
 * @returns a fresh record, without what its group holds
 */
export function decodeRegistration(id: string, fields: string[], data: string): StoredRegistration {
  const hash = hashOf(fields);
  const parsed = JSON.parse(data || '{}') as Partial<RegistrationData>;
  const base = hash.get('b');
  return {
    id,
    tabId: hash.get('t') ?? '',
    subscriptionId: hash.get('s') ?? null,
    held: hash.has('h'),
    background: hash.has('bg'),
    clientKey: hash.get('ck') ?? null,
    operationKey: parsed.k ?? '',
    groupId: hash.get('g') ?? '',
    base: base === undefined ? null : Number(base),
    headers: parsed.h ?? {},
    createdAt: Number(hash.get('c') ?? 0),
    expiresAt: Number(hash.get('x') ?? 0),
  };
}

/**
 * A registration as handed out.
 * @param stored - its own keys, decoded
 * @param group - its group's seq and done (`null`: the group is gone)
 * @param acked - its score in the group's members: the group seq it acknowledged
 * @returns the record, with seq, done and ackedSeq in its own numbering
 */
export function registrationView(
  stored: StoredRegistration,
  group: GroupState | null,
  acked: number | null,
): RegistrationRecord {
  const base = stored.base ?? 0;
  const seq = group ? Math.max(0, group.seq - base) : 0;
  return {
    ...stored,
    base,
    seq,
    done: group?.done ?? false,
    ackedSeq: acked === null ? 0 : Math.min(seq, Math.max(0, acked - base)),
  };
}

const HELD = 1;
const BACKGROUND = 2;

/** The part of a route copy after its version and base: what changes over a member's life. */
const routeTail = (
  held: boolean,
  background: boolean,
  expiresAt: string,
  subscriptionId: string,
  tabId: string,
): string =>
  `${(held ? HELD : 0) | (background ? BACKGROUND : 0)}:${expiresAt}:${subscriptionId}:${tabId}`;

/**
 * What a group's join script writes of a registration being created: its first route version
 * and the tail of its route copy (the script puts the base, its seq, in between).
 * @param record - the registration
 * @returns `[version, tail]`
 */
export function joinRoute(record: RegistrationRecord): [version: string, tail: string] {
  return [
    String(FIRST_ROUTE_VERSION),
    routeTail(
      record.held,
      record.background,
      String(record.expiresAt),
      record.subscriptionId ?? '',
      record.tabId,
    ),
  ];
}

/**
 * A registration's route copy as a group script takes it, from the registration's hash as a
 * route-changing script left it.
 * @param id - the registration id
 * @param fields - `HGETALL` of its hash, flat name/value pairs
 * @returns `[id, version, base ('' while being created), tail]`
 */
export function routeUpdate(
  id: string,
  fields: string[],
): [id: string, version: string, base: string, tail: string] {
  const hash = hashOf(fields);
  return [
    id,
    hash.get('v') ?? '0',
    hash.get('b') ?? '',
    routeTail(
      hash.has('h'),
      hash.has('bg'),
      hash.get('x') ?? '0',
      hash.get('s') ?? '',
      hash.get('t') ?? '',
    ),
  ];
}

/**
 * Reads a group's routes hash.
 * @param copies - `HGETALL` of it: registration id to route copy
 * @returns each member's route
 */
export function decodeRoutes(copies: Record<string, string>): MemberRoute[] {
  const routes: MemberRoute[] = [];
  for (const [id, copy] of Object.entries(copies)) {
    // Split by hand: this runs once per member for every message a group delivers.
    const a = copy.indexOf(':');
    const b = copy.indexOf(':', a + 1);
    const c = copy.indexOf(':', b + 1);
    const d = copy.indexOf(':', c + 1);
    const e = copy.indexOf(':', d + 1);
    const flags = Number(copy.slice(b + 1, c));
    routes.push({
      id,
      tabId: copy.slice(e + 1),
      subscriptionId: e > d + 1 ? copy.slice(d + 1, e) : null,
      held: (flags & HELD) !== 0,
      background: (flags & BACKGROUND) !== 0,
      expiresAt: Number(copy.slice(c + 1, d)),
      base: Number(copy.slice(a + 1, b)),
    });
  }
  return routes;
}

/**
 * Splits a group into what the store writes.
 * @param group - the group
 * @returns hash fields and the data JSON
 */
export function encodeGroup(group: GroupRecord): EncodedRecord {
  const fields = ['n', String(group.seq), 'o', group.owner, 'k', String(group.token)];
  if (group.done) fields.push('d', '1');
  if (group.cursor !== null) fields.push('u', group.cursor);
  const data: GroupData = {
    k: group.key,
    q: group.query,
    o: group.operationName,
    v: group.variables,
    h: group.headers,
    c: group.createdAt,
  };
  return { fields, data: JSON.stringify(data) };
}

/**
 * Reads a group from a script's reply.
 * @param id - the group id (in the key, not in the hash)
 * @param fields - `HGETALL` of its hash
 * @param data - its data JSON
 * @returns a fresh record
 */
export function decodeGroup(id: string, fields: string[], data: string): GroupRecord {
  const hash = hashOf(fields);
  const parsed = JSON.parse(data || '{}') as Partial<GroupData>;
  return {
    id,
    key: parsed.k ?? '',
    query: parsed.q ?? '',
    operationName: parsed.o ?? null,
    variables: parsed.v ?? null,
    headers: parsed.h ?? {},
    createdAt: parsed.c ?? 0,
    seq: Number(hash.get('n') ?? 0),
    done: hash.has('d'),
    cursor: hash.get('u') ?? null,
    owner: hash.get('o') ?? '',
    token: Number(hash.get('k') ?? 0),
  };
}

const TYPE_LETTERS = { next: 'n', error: 'e', complete: 'c' } as const;
const LETTER_TYPES: Record<string, GroupMessage['type']> = {
  n: 'next',
  e: 'error',
  c: 'complete',
};

/**
 * A group log entry.
 * @param at - when it is appended (epoch ms): the log drops it once older than the TTL
 * @param message - the message
 * @returns the entry's text
 */
export function encodeLogEntry(at: number, message: GroupMessage): string {
  const payload = message.payload === undefined ? '' : JSON.stringify(message.payload);
  return `${Math.floor(at)}:${TYPE_LETTERS[message.type]}${payload}`;
}

/**
 * Reads a group log entry.
 * @param entry - its text
 * @returns the message
 */
export function decodeLogEntry(entry: string): GroupMessage {
  const at = entry.indexOf(':');
  const type = LETTER_TYPES[entry.charAt(at + 1)] ?? 'next';
  const payload = entry.slice(at + 2);
  return payload === '' ? { type } : { type, payload: JSON.parse(payload) };
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
  const hash = hashOf(fields);
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

import { randomId } from '../ids.js';
import type { GroupMessage, GroupRecord, RegistrationRecord } from './types.js';

/** The clock the store suites' records are stamped with. */
export const NOW = Date.now();

/** A stored registration of group `groupId`, alive for a minute from {@link NOW}. */
export function testRegistration(
  subscriptionId: string | null,
  groupId: string,
  overrides: Partial<RegistrationRecord> = {},
): RegistrationRecord {
  return {
    id: randomId(),
    tabId: `tab-${randomId()}`,
    subscriptionId,
    held: false,
    background: false,
    clientKey: null,
    operationKey: '7',
    groupId,
    base: 0,
    headers: { authorization: 'Bearer abc' },
    createdAt: NOW,
    expiresAt: NOW + 60_000,
    seq: 0,
    ackedSeq: 0,
    done: false,
    ...overrides,
  };
}

/** An execution group owned by `owner` under its lease's `token`, with nothing appended. */
export function testGroup(
  owner: string,
  token: number,
  overrides: Partial<GroupRecord> = {},
): GroupRecord {
  return {
    id: randomId(),
    key: randomId(),
    query: 'subscription OnStock($id: ID!) { stock(productId: $id) { id count } }',
    operationName: 'OnStock',
    variables: { id: 'p-1' },
    headers: { authorization: 'Bearer abc' },
    createdAt: NOW,
    seq: 0,
    done: false,
    cursor: null,
    owner,
    token,
    ...overrides,
  };
}

/** A `next` group message carrying `data`. */
export const next = (data: unknown): GroupMessage => ({ type: 'next', payload: { data } });

import { createLogger } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createLeaseKeeper } from './lease.js';
import { createMemoryStore } from './store/memory.js';
import type { RegistrationRecord } from './store/types.js';
import { createBrowserKeys } from './test-support.js';

const NOW = 1_700_000_000_000;

async function setup() {
  const store = createMemoryStore();
  const subscription = await store.putSubscription(
    { endpoint: 'http://127.0.0.1:9999/push/1', keys: createBrowserKeys() },
    'S'.repeat(32),
    Date.now(),
    60_000,
  );
  const record: RegistrationRecord = {
    id: 'R'.repeat(32),
    tabId: 'T'.repeat(22),
    subscriptionId: subscription.id,
    held: false,
    background: false,
    clientKey: null,
    operationKey: '1',
    query: 'subscription { n }',
    operationName: null,
    variables: null,
    headers: {},
    createdAt: NOW,
    expiresAt: NOW + 600_000,
    seq: 0,
    ackedSeq: 0,
    done: false,
    cursor: null,
  };
  await store.createRegistration(record, { maxPerTab: 10, maxPerSubscription: 10 });
  const clock = { now: NOW };
  const running = new Set<string>([record.id]);
  const lost: [string, number | null][] = [];
  const keeper = createLeaseKeeper({
    store,
    owner: 'a',
    ttlMs: 3_000,
    isRunning: (id) => running.has(id),
    onLost: (id, token) => lost.push([id, token]),
    logger: createLogger('silent'),
    now: () => clock.now,
  });
  return { store, record, clock, running, lost, keeper };
}

describe('lease keeper', () => {
  it('renews a held lease under the same token, so that no other owner can take it', async () => {
    const { store, record, clock, lost, keeper } = await setup();
    const token = (await keeper.acquire(record.id)) as number;
    keeper.hold(record.id, token);

    clock.now += 2_000;
    await keeper.renew();
    clock.now += 2_000;

    expect(await store.acquireLease(record.id, 'b', 3_000, clock.now)).toBeNull();
    expect(lost).toEqual([]);
    expect(keeper.held()).toEqual([record.id]);
  });

  it('releases the lease of a stream that stopped running here', async () => {
    const { store, record, clock, running, keeper } = await setup();
    keeper.hold(record.id, (await keeper.acquire(record.id)) as number);

    running.delete(record.id);
    await keeper.renew();

    expect(keeper.held()).toEqual([]);
    expect(await store.listUnowned(clock.now, 10)).toEqual([record.id]);
  });

  it('reports a lease another owner took as lost, and one that lapsed and came back with its new token', async () => {
    const { store, record, clock, lost, keeper } = await setup();
    const first = (await keeper.acquire(record.id)) as number;
    keeper.hold(record.id, first);

    // Lapsed, nobody else took it: renewal takes it again under a new token.
    clock.now += 3_000;
    await keeper.renew();
    const second = lost[0]?.[1] as number;
    expect(lost).toEqual([[record.id, expect.any(Number)]]);
    expect(second).toBeGreaterThan(first);

    // Held again, then lapsed and taken by another owner: lost for good.
    keeper.hold(record.id, second);
    clock.now += 3_000;
    await store.acquireLease(record.id, 'b', 3_000, clock.now);
    await keeper.renew();
    expect(lost).toEqual([
      [record.id, second],
      [record.id, null],
    ]);
    expect(keeper.held()).toEqual([]);
  });

  it('does not renew a mere claim, and a claim blocks a second one', async () => {
    const { record, keeper } = await setup();
    expect(keeper.reserve(record.id)).toBe(true);
    expect(keeper.reserve(record.id)).toBe(false);
    await keeper.renew();
    expect(keeper.held()).toEqual([]);
    expect(keeper.holds(record.id)).toBe(true);
    keeper.forget(record.id);
    expect(keeper.holds(record.id)).toBe(false);
  });
});

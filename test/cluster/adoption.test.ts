import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCluster, partitionable } from './in-process.js';

const waitFor = <T>(check: () => T | Promise<T>) =>
  vi.waitFor(check, { timeout: 5_000, interval: 5 });

let cluster: ReturnType<typeof createCluster> | undefined;
const c = () => {
  if (!cluster) throw new Error('no cluster');
  return cluster;
};

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** `[seq, stock]` of every envelope of a registration, in the order they were sent. */
const sequence = (registrationId: string) =>
  c()
    .envelopesOf(registrationId)
    .map((e) => [
      e.seq,
      (e.payload as { data: { stockChanged: { stock: number } } }).data.stockChanged.stock,
    ]);

describe('instance leases and adoption: two Yoga instances sharing one store and one replayable pubsub', () => {
  it('hands a group over on dispose; the other resumes right after the last event that became a message', async () => {
    cluster = createCluster();
    const a = c().start('a');
    const b = c().start('b');
    const { registrationId } = await c().register(a.yoga, 'p1', { authorization: 'Bearer alice' });
    await c().publish('p1', 1);
    await c().publish('p1', 2);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(2));

    const group = await c().groupOf(registrationId);
    await a.yoga.dispose();
    // Released at once, not left to expire.
    expect(await c().orphans()).toEqual([group?.id]);
    await c().publish('p1', 3);
    await c().publish('p1', 4);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(4));
    await c().publish('p1', 5);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(5));

    expect(sequence(registrationId)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect(c().stocksSentBy(a.sender, registrationId)).toEqual([1, 2]);
    expect(c().stocksSentBy(b.sender, registrationId)).toEqual([3, 4, 5]);
    // The adopter ran the operation through Yoga again, with the kept header.
    expect(c().observed.authorizations).toEqual(['Bearer alice', 'Bearer alice']);
  });

  it('stores where a new stream starts before answering, so an owner that dies at once loses nothing published after the answer', async () => {
    cluster = createCluster();
    const cutOff = partitionable(c().store);
    const a = c().start('a', cutOff.store);
    const { registrationId } = await c().register(a.yoga, 'p1');
    expect((await c().groupOf(registrationId))?.cursor).toMatch(/^\d+-\d+$/);

    // From here on, the owner cannot reach the store: as good as dead.
    cutOff.cut = true;
    const b = c().start('b');
    await c().publish('p1', 1);
    await c().publish('p1', 2);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(2));

    expect(sequence(registrationId)).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(c().stocksSentBy(b.sender, registrationId)).toEqual([1, 2]);
  });

  it('takes a group from an owner cut off from the store; the old owner stops and every event is pushed once', async () => {
    cluster = createCluster();
    const cutOff = partitionable(c().store);
    const a = c().start('a', cutOff.store);
    const b = c().start('b');
    const { registrationId } = await c().register(a.yoga, 'p1');
    await c().publish('p1', 1);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(1));

    cutOff.cut = true;
    // The owner pulls event 2 and keeps retrying its append; its instance lease runs out
    // meanwhile.
    await c().publish('p1', 2);
    await waitFor(() => expect(c().stocksSentBy(b.sender, registrationId)).toEqual([2]));
    cutOff.cut = false;
    // Back in touch, its append is refused (fenced) and it closes its stream.
    await waitFor(() => expect(c().observed.returned).toBe(1));
    await c().publish('p1', 3);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(3));

    expect(sequence(registrationId)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(c().stocksSentBy(a.sender, registrationId)).toEqual([1]);
    expect(c().stocksSentBy(b.sender, registrationId)).toEqual([2, 3]);
  });

  it('keeps its own group when its lease lapsed while the store was away and nobody claimed it', async () => {
    cluster = createCluster();
    const cutOff = partitionable(c().store);
    const a = c().start('a', cutOff.store);
    const { registrationId } = await c().register(a.yoga, 'p1');
    await c().publish('p1', 1);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(1));

    cutOff.cut = true;
    await c().publish('p1', 2);
    await c().publish('p1', 3);
    const group = await c().groupOf(registrationId);
    await waitFor(async () => expect(await c().orphans()).toEqual([group?.id]));
    cutOff.cut = false;
    await c().publish('p1', 4);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(4));
    await c().publish('p1', 5);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(5));

    expect(sequence(registrationId)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect(c().stocksSentBy(a.sender, registrationId)).toEqual([1, 2, 3, 4, 5]);
  });

  it('ends an adopted group with an error message when its kept credentials are refused now', async () => {
    cluster = createCluster();
    const a = c().start('a');
    c().start('b');
    const { registrationId, tabId } = await c().register(a.yoga, 'p1', {
      authorization: 'Bearer bob',
    });
    await c().publish('p1', 1);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(1));

    c().observed.revoked.add('Bearer bob');
    await a.yoga.dispose();
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(2));

    expect(c().envelopesOf(registrationId)[1]).toEqual({
      v: 1,
      id: `${registrationId}:2`,
      tab: tabId,
      reg: registrationId,
      seq: 2,
      type: 'error',
      payload: {
        errors: [
          {
            message: 'Not signed in',
            locations: [{ line: 1, column: 25 }],
            path: ['stockChanged'],
            extensions: { code: 'UNAUTHENTICATED' },
          },
        ],
      },
    });
    expect((await c().store.getRegistration(registrationId))?.done).toBe(true);
    expect(await c().groupOf(registrationId)).toMatchObject({ done: true, owner: 'b' });
  });

  it('tries an adoption Yoga failed with a 5xx again later, and loses no event meanwhile', async () => {
    cluster = createCluster();
    const a = c().start('a');
    const b = c().start('b');
    const { registrationId } = await c().register(a.yoga, 'p1');
    await c().publish('p1', 1);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(1));

    c().observed.contextDown = true;
    await a.yoga.dispose();
    await waitFor(() => expect(c().observed.contextFailures).toBeGreaterThanOrEqual(1));
    await c().publish('p1', 2);
    // Claimed by b, which tries again after a backoff.
    expect(await c().groupOf(registrationId)).toMatchObject({ owner: 'b' });
    c().observed.contextDown = false;
    await c().publish('p1', 3);
    await waitFor(() => expect(c().envelopesOf(registrationId)).toHaveLength(3));

    expect(sequence(registrationId)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(c().stocksSentBy(b.sender, registrationId)).toEqual([2, 3]);
  });

  it('gives each orphan to exactly one of two instances that both look for orphans', async () => {
    cluster = createCluster({ leaseTtlMs: 200, adoptIntervalMs: 10 });
    const a = c().start('a');
    const b = c().start('b');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await c().register(i % 2 ? a.yoga : b.yoga, 'p1')).registrationId);
    }
    await a.yoga.dispose();
    const survivor = c().start('c');
    for (let stock = 1; stock <= 5; stock++) await c().publish('p1', stock);
    await waitFor(() => {
      for (const id of ids) expect(c().envelopesOf(id)).toHaveLength(5);
    });
    await c().publish('p1', 6);
    await waitFor(() => {
      for (const id of ids) expect(c().envelopesOf(id)).toHaveLength(6);
    });

    for (const id of ids) {
      expect(sequence(id)).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, n]));
    }
    // b kept its own five; the disposed instance's five went to b or c, never to both.
    const adoptedBy = (sender: typeof b.sender) =>
      ids.filter((id) => c().stocksSentBy(sender, id).length > 0).length;
    expect(adoptedBy(b.sender) + adoptedBy(survivor.sender)).toBe(10);
  });
});

import { describe, expect, it } from 'vitest';
import { encryptPushMessage, parseSubscriptionKeys } from './encrypt.js';
import type { EncryptionJob, EncryptionPool } from './encrypt-pool.js';
import { createEncryptionQueue } from './encrypt-queue.js';
import { EncryptionPoolClosedError } from './errors.js';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const ua = createUserAgentKeys();
const keys = parseSubscriptionKeys(ua.keys);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A pool on the calling thread that records its batches and answers when told to. */
function recordingPool(workers = 1) {
  const batches: number[] = [];
  const held: (() => void)[] = [];
  let failWith: unknown;
  const pool: EncryptionPool = {
    encrypt(batch: readonly EncryptionJob[]) {
      batches.push(batch.length);
      return new Promise<Buffer[]>((resolve, reject) => {
        held.push(() =>
          failWith === undefined
            ? resolve(batch.map((job) => encryptPushMessage(job.keys, job.plaintext)))
            : reject(failWith),
        );
      });
    },
    workers,
    queued: 0,
    close: async () => {},
  };
  return {
    pool,
    batches,
    answerAll: () => {
      for (const answer of held.splice(0)) answer();
    },
    fail: (error: unknown) => {
      failWith = error;
    },
  };
}

const plaintext = (i: number) => Buffer.from(`message ${i}`);

describe('createEncryptionQueue', () => {
  it('encrypts a lone message at once, on the event loop', () => {
    const { pool, batches } = recordingPool();
    const queue = createEncryptionQueue({ pool, inlineLimit: 16, batchSize: 32 });

    const body = queue.encrypt(keys, plaintext(1));

    expect(Buffer.isBuffer(body)).toBe(true);
    expect(decryptPushMessage(body as Buffer, ua).toString()).toBe('message 1');
    expect(batches).toEqual([]);
  });

  it('sends what one turn brings past the inline limit to the pool in full batches, the rest at the end of the turn', async () => {
    const { pool, batches, answerAll } = recordingPool();
    const queue = createEncryptionQueue({ pool, inlineLimit: 16, batchSize: 32 });

    const results = Array.from({ length: 100 }, (_, i) => queue.encrypt(keys, plaintext(i)));

    expect(results.filter((r) => Buffer.isBuffer(r)).length).toBe(16);
    expect(batches).toEqual([32, 32]);
    await nextTurn();
    expect(batches).toEqual([32, 32, 20]);
    answerAll();
    const bodies = await Promise.all(results);
    expect(bodies.map((b) => decryptPushMessage(b, ua).toString())).toEqual(
      Array.from({ length: 100 }, (_, i) => `message ${i}`),
    );
  });

  it('queues behind the pool while it still holds messages, then goes inline again', async () => {
    const { pool, batches, answerAll } = recordingPool();
    const queue = createEncryptionQueue({ pool, inlineLimit: 1, batchSize: 32 });
    const first = [queue.encrypt(keys, plaintext(0)), queue.encrypt(keys, plaintext(1))];
    await nextTurn();
    expect(batches).toEqual([1]);

    const behind = queue.encrypt(keys, plaintext(2));
    expect(Buffer.isBuffer(behind)).toBe(false);
    answerAll();
    await Promise.all(first);
    await nextTurn();
    answerAll();
    expect(decryptPushMessage(await behind, ua).toString()).toBe('message 2');

    await nextTurn();
    expect(Buffer.isBuffer(queue.encrypt(keys, plaintext(3)))).toBe(true);
  });

  it('encrypts everything inline when the pool has no workers', () => {
    const { pool, batches } = recordingPool(0);
    const queue = createEncryptionQueue({ pool, inlineLimit: 0, batchSize: 2 });
    const results = Array.from({ length: 5 }, (_, i) => queue.encrypt(keys, plaintext(i)));
    expect(results.every((r) => Buffer.isBuffer(r))).toBe(true);
    expect(batches).toEqual([]);
  });

  it('rejects the messages of a batch the pool refuses', async () => {
    const { pool, answerAll, fail } = recordingPool();
    const queue = createEncryptionQueue({ pool, inlineLimit: 0, batchSize: 2 });
    fail(new EncryptionPoolClosedError());
    const results = [queue.encrypt(keys, plaintext(0)), queue.encrypt(keys, plaintext(1))];
    answerAll();
    for (const result of results) {
      await expect(result).rejects.toBeInstanceOf(EncryptionPoolClosedError);
    }
  });
});

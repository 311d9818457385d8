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

interface Job extends EncryptionJob {
  readonly index: number;
}

const job = (index: number): Job => ({ keys, plaintext: Buffer.from(`message ${index}`), index });

/** A queue whose listener settles one promise per job it hears of. */
function queueWith(pool: EncryptionPool, inlineLimit: number, batchSize: number) {
  const heard = new Map<Job, { resolve(body: Buffer): void; reject(error: unknown): void }>();
  const queue = createEncryptionQueue<Job>({
    pool,
    inlineLimit,
    batchSize,
    listener: {
      encrypted: (job, body) => heard.get(job)?.resolve(body),
      failed: (job, error) => heard.get(job)?.reject(error),
    },
  });
  /** The body at once when encrypted inline, else a promise of what the listener hears. */
  const encrypt = (index: number): Buffer | Promise<Buffer> => {
    const message = job(index);
    const later = new Promise<Buffer>((resolve, reject) => heard.set(message, { resolve, reject }));
    const body = queue.encrypt(message);
    if (body === undefined) return later;
    heard.delete(message);
    return body;
  };
  return { encrypt, waiting: () => heard.size };
}

describe('createEncryptionQueue', () => {
  it('encrypts a lone message at once, on the event loop', () => {
    const { pool, batches } = recordingPool();
    const { encrypt } = queueWith(pool, 16, 32);

    const body = encrypt(1);

    expect(Buffer.isBuffer(body)).toBe(true);
    expect(decryptPushMessage(body as Buffer, ua).toString()).toBe('message 1');
    expect(batches).toEqual([]);
  });

  it('sends what one turn brings past the inline limit to the pool in full batches, the rest at the end of the turn', async () => {
    const { pool, batches, answerAll } = recordingPool();
    const { encrypt } = queueWith(pool, 16, 32);

    const results = Array.from({ length: 100 }, (_, i) => encrypt(i));

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
    const { encrypt } = queueWith(pool, 1, 32);
    const first = [encrypt(0), encrypt(1)];
    await nextTurn();
    expect(batches).toEqual([1]);

    const behind = encrypt(2);
    expect(Buffer.isBuffer(behind)).toBe(false);
    answerAll();
    await Promise.all(first);
    await nextTurn();
    answerAll();
    expect(decryptPushMessage(await behind, ua).toString()).toBe('message 2');

    await nextTurn();
    expect(Buffer.isBuffer(encrypt(3))).toBe(true);
  });

  it('encrypts everything inline when the pool has no workers', () => {
    const { pool, batches } = recordingPool(0);
    const { encrypt } = queueWith(pool, 0, 2);
    const results = Array.from({ length: 5 }, (_, i) => encrypt(i));
    expect(results.every((r) => Buffer.isBuffer(r))).toBe(true);
    expect(batches).toEqual([]);
  });

  it('tells the listener of each message of a batch the pool refuses', async () => {
    const { pool, answerAll, fail } = recordingPool();
    const { encrypt, waiting } = queueWith(pool, 0, 2);
    fail(new EncryptionPoolClosedError());
    const results = [encrypt(0), encrypt(1)];
    expect(waiting()).toBe(2);
    answerAll();
    for (const result of results) {
      await expect(result).rejects.toBeInstanceOf(EncryptionPoolClosedError);
    }
  });
});

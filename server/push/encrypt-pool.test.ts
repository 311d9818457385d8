import { createECDH } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import { encryptPushMessage, parseSubscriptionKeys } from './encrypt.js';
import {
  createEncryptionPool,
  createEncryptionPoolWith,
  type EncryptionJob,
  type EncryptionPool,
} from './encrypt-pool.js';
import { EncryptionPoolClosedError, PushPayloadTooLargeError } from './errors.js';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const pools: EncryptionPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function track(pool: EncryptionPool): EncryptionPool {
  pools.push(pool);
  return pool;
}

const b64 = (text: string) => Buffer.from(text, 'base64url');
// RFC 8291 Appendix A.
const RFC = {
  plaintext: 'When I grow up, I want to be a watermelon',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  uaPublic:
    'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  auth: 'BTBZMqHH6r4Tts7J_aSIgg',
  body:
    'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6Tlz' +
    'AC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

const uas = Array.from({ length: 5 }, () => createUserAgentKeys());
/** `count` jobs over five subscriptions, with plaintexts of different sizes. */
function jobs(count: number): (EncryptionJob & { ua: (typeof uas)[number] })[] {
  return Array.from({ length: count }, (_, i) => {
    const ua = uas[i % uas.length] as (typeof uas)[number];
    const size = i % 7 === 0 ? MAX_PUSH_PLAINTEXT_BYTES : (i * 37) % 600;
    const plaintext = Buffer.alloc(size, i & 0xff);
    if (size > 0) plaintext.write(`message ${i}`);
    return { ua, keys: parseSubscriptionKeys(ua.keys), plaintext };
  });
}

function expectDecrypts(batch: ReturnType<typeof jobs>, bodies: Buffer[]): void {
  expect(bodies.length).toBe(batch.length);
  batch.forEach((job, i) => {
    const body = bodies[i] as Buffer;
    expect(body.length).toBe(86 + job.plaintext.byteLength + 17);
    expect(body.readUInt32BE(16)).toBe(4096);
    expect(decryptPushMessage(body, job.ua).equals(job.plaintext)).toBe(true);
  });
}

describe('createEncryptionPool', () => {
  it('encrypts a batch on two workers, in order, into bodies the browser side decrypts', async () => {
    const pool = track(createEncryptionPool({ workers: 2, batchSize: 8 }));
    const batch = jobs(100);

    const bodies = await pool.encrypt(batch);

    expectDecrypts(batch, bodies);
    expect(pool.queued).toBe(0);
    expect(pool.workers).toBe(2);
  });

  it('reproduces the RFC 8291 Appendix A body byte for byte on a worker', async () => {
    const pool = track(createEncryptionPool({ workers: 1 }));
    const keys = parseSubscriptionKeys({ p256dh: RFC.uaPublic, auth: RFC.auth });
    const entropy = { salt: b64(RFC.salt), ephemeralPrivateKey: b64(RFC.asPrivate) };
    const plaintext = Buffer.from(RFC.plaintext);

    const [body, fresh] = await pool.encrypt([
      { keys, plaintext, entropy },
      { keys, plaintext },
    ]);

    expect(body?.toString('base64url')).toBe(RFC.body);
    // The next message of the same worker gets a fresh key and salt again.
    expect(fresh?.subarray(0, 86).equals((body as Buffer).subarray(0, 86))).toBe(false);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(b64(RFC.uaPrivate));
    expect(
      decryptPushMessage(fresh as Buffer, { ecdh, authSecret: b64(RFC.auth) }).toString(),
    ).toBe(RFC.plaintext);
  });

  it('gives a fresh salt and ephemeral key to every message', async () => {
    const pool = track(createEncryptionPool({ workers: 2, batchSize: 4 }));
    const bodies = await pool.encrypt(jobs(40));
    expect(new Set(bodies.map((b) => b.subarray(0, 16).toString('hex'))).size).toBe(40);
    expect(new Set(bodies.map((b) => b.subarray(21, 86).toString('hex'))).size).toBe(40);
  });

  it('with 0 workers encrypts on the calling thread, in the same format', async () => {
    const pool = track(createEncryptionPool({ workers: 0 }));
    const batch = jobs(10);
    expectDecrypts(batch, await pool.encrypt(batch));
    expect(pool.workers).toBe(0);
  });

  it('refuses a plaintext over 3993 bytes', async () => {
    const pool = track(createEncryptionPool({ workers: 1 }));
    const keys = parseSubscriptionKeys(createUserAgentKeys().keys);
    await expect(
      pool.encrypt([...jobs(3), { keys, plaintext: Buffer.alloc(MAX_PUSH_PLAINTEXT_BYTES + 1) }]),
    ).rejects.toBeInstanceOf(PushPayloadTooLargeError);
    expect(pool.queued).toBe(0);
  });

  it('close() rejects batches not answered yet, and every batch after', async () => {
    const pool = createEncryptionPool({ workers: 1 });
    const pending = expect(pool.encrypt(jobs(64))).rejects.toBeInstanceOf(
      EncryptionPoolClosedError,
    );
    await pool.close();
    await pending;
    await expect(pool.encrypt(jobs(1))).rejects.toBeInstanceOf(EncryptionPoolClosedError);
    expect(pool.workers).toBe(0);
  });
});

describe('createEncryptionPool: sharing a large fan-out', () => {
  it('gives a worker that is slowed down fewer batches, and every body still comes back', async () => {
    const batchesSeen: number[] = [];
    let spawnedCount = 0;
    // The first worker blocks 40 ms before each batch (its core shared with something else).
    const spawn = (source: string) => {
      const index = spawnedCount;
      spawnedCount += 1;
      batchesSeen[index] = 0;
      const worker = new Worker(
        `${
          index === 0
            ? `require('node:worker_threads').parentPort.on('message', () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 40);
});
`
            : ''
        }${source}`,
        { eval: true, execArgv: [] },
      );
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (value, transfer) => {
        batchesSeen[index] = (batchesSeen[index] ?? 0) + 1;
        post(value, transfer);
      };
      return worker;
    };
    const pool = track(createEncryptionPoolWith(spawn, { workers: 2, batchSize: 8 }));
    const fanout = jobs(320);

    expectDecrypts(fanout, await pool.encrypt(fanout));

    // 40 batches: handed out all at once they would split 20/20, and the slow worker would
    // hold the fan-out up for 20 × 40 ms.
    const [slow, fast] = batchesSeen as [number, number];
    expect(slow + fast).toBe(40);
    expect(slow).toBeLessThan(fast);
    expect(pool.queued).toBe(0);
  });
});

describe('createEncryptionPool: failing workers', () => {
  /** Workers on the real program, plus a listener (run first) that exits at the n-th batch. */
  function exitingAt(batch: number) {
    const spawned: Worker[] = [];
    const spawn = (source: string) => {
      const worker = new Worker(
        `let seen = 0;
require('node:worker_threads').parentPort.on('message', () => {
  seen += 1;
  if (seen === ${batch}) process.exit(1);
});
${source}`,
        { eval: true, execArgv: [] },
      );
      spawned.push(worker);
      return worker;
    };
    return { spawn, spawned };
  }

  it('encrypts the batches of a crashed worker on the calling thread and replaces the worker', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { spawn, spawned } = exitingAt(2);
      const pool = track(createEncryptionPoolWith(spawn, { workers: 1 }));
      const [first, second, third] = [jobs(10), jobs(10), jobs(10)];

      expectDecrypts(first, await pool.encrypt(first));
      expectDecrypts(second, await pool.encrypt(second));
      expectDecrypts(third, await pool.encrypt(third));

      expect(spawned.length).toBe(2);
      expect(pool.workers).toBe(1);
      expect(pool.queued).toBe(0);
      expect(warnings.map((w) => w.message)).toEqual([
        expect.stringContaining('an encryption worker exited'),
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('stops starting workers after three exit before their first answer, and still encrypts', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { spawn, spawned } = exitingAt(1);
      const pool = track(createEncryptionPoolWith(spawn, { workers: 1 }));
      for (let i = 0; i < 4; i += 1) {
        const batch = jobs(5);
        expectDecrypts(batch, await pool.encrypt(batch));
      }
      expect(spawned.length).toBe(3);
      expect(pool.workers).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual([
        'GRAPHQL_WEB_PUSH_ENCRYPTION_WORKER',
        'GRAPHQL_WEB_PUSH_ENCRYPTION_WORKER',
      ]);
      expect(warnings[1]?.message).toContain('keep exiting');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('encrypts on the calling thread when workers cannot start', async () => {
    const pool = track(
      createEncryptionPoolWith(
        () => {
          throw new Error('no threads here');
        },
        { workers: 2 },
      ),
    );
    const onWarning = () => {};
    process.on('warning', onWarning);
    try {
      const batch = jobs(5);
      expectDecrypts(batch, await pool.encrypt(batch));
      expect(pool.workers).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('encryptPushMessage and the pool', () => {
  it('produce the same layout for the same plaintext', async () => {
    const pool = track(createEncryptionPool({ workers: 1 }));
    const [job] = jobs(1);
    if (job === undefined) throw new Error('no job');
    const [pooled] = await pool.encrypt([job]);
    const inline = encryptPushMessage(job.keys, job.plaintext);
    expect(pooled?.length).toBe(inline.length);
    expect(pooled?.subarray(16, 21).equals(inline.subarray(16, 21))).toBe(true);
  });
});

import { createECDH, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  createEncryptionPool,
  type EncryptionJob,
  type EncryptionPool,
  encryptPushMessage,
  parseSubscriptionKeys,
} from '../server/push/index.js';
import { compare, measurement, type SuiteResult } from './harness.js';

const ROUNDS = 7;
const SUBSCRIPTIONS = 100;
/** One fan-out: an event to this many registrations, handed over in one `encrypt` call. */
const FANOUT = 500;
const FANOUTS = 8;

/**
 * Throughput of RFC 8291 encryption on worker threads against the event loop alone: the same
 * jobs (real P-256 subscription keys, a ≈180-byte envelope each) encrypted one by one with
 * `encryptPushMessage`, and by `createEncryptionPool` with 1 and with 2 workers. The pools get
 * `FANOUTS` fan-outs of `FANOUT` jobs at once, as the sender does when several events fan out
 * together; a round ends when the last body is back. Candidates alternate round by round.
 */
export async function run(): Promise<SuiteResult> {
  const jobs = createJobs(FANOUT * FANOUTS);
  const fanouts = Array.from({ length: FANOUTS }, (_, i) =>
    jobs.slice(i * FANOUT, (i + 1) * FANOUT),
  );
  const pools = {
    1: createEncryptionPool({ workers: 1 }),
    2: createEncryptionPool({ workers: 2 }),
  };

  const inline = async () => {
    for (const job of jobs) encryptPushMessage(job.keys, job.plaintext);
  };
  const pooled = (pool: EncryptionPool) => async () => {
    const bodies = await Promise.all(fanouts.map((batch) => pool.encrypt(batch)));
    if (bodies.flat().length !== jobs.length) throw new Error('bench: the pool lost bodies');
  };
  const candidates = {
    'one-thread': inline,
    'pool-1': pooled(pools[1]),
    'pool-2': pooled(pools[2]),
  };

  const empty = () =>
    Object.fromEntries(Object.keys(candidates).map((name) => [name, [] as number[]]));
  const samples = empty();
  /** CPU time of the whole process (every thread) per second of the round. */
  const cores = empty();
  try {
    // Starts the workers and warms every path, outside the measurement.
    for (const candidate of Object.values(candidates)) await candidate();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, candidate] of Object.entries(candidates)) {
        const cpu = process.cpuUsage();
        const start = performance.now();
        await candidate();
        const seconds = (performance.now() - start) / 1000;
        const used = process.cpuUsage(cpu);
        samples[name]?.push(jobs.length / seconds);
        cores[name]?.push((used.user + used.system) / 1e6 / seconds);
      }
    }
  } finally {
    await Promise.all(Object.values(pools).map((pool) => pool.close()));
  }

  const one = measurement('encryption.one-thread', 'messages/s', samples['one-thread'] ?? []);
  const pool1 = measurement('encryption.pool-1-worker', 'messages/s', samples['pool-1'] ?? []);
  const pool2 = measurement('encryption.pool-2-workers', 'messages/s', samples['pool-2'] ?? []);
  // Paired by round too: a burst of load on the shared machine moves both sides of a round.
  const perRound = measurement(
    'encryption.pool-2-workers-over-one-thread.per-round',
    'ratio',
    pool2.samples.map((rate, round) => rate / (one.samples[round] as number)),
  );
  return {
    suite: 'encryption-pool',
    measurements: [
      one,
      pool1,
      pool2,
      perRound,
      measurement('encryption.one-thread.cores-used', 'cores', cores['one-thread'] ?? []),
      measurement('encryption.pool-2-workers.cores-used', 'cores', cores['pool-2'] ?? []),
    ],
    comparisons: [
      compare('throughput, pool of 2 workers / one thread (target ≥ 1.6)', pool2, one),
      compare('throughput, pool of 1 worker / one thread', pool1, one),
      compare('throughput, pool of 2 workers / pool of 1', pool2, pool1),
    ],
    notes: [
      `${ROUNDS} rounds of ${jobs.length} messages (${FANOUTS} × ${FANOUT} at once for the pools, batches of 32 per worker message) to ${SUBSCRIPTIONS} subscriptions; workers started and warmed before the first round; ${availableParallelism()} cores.`,
      'cores-used: CPU time of every thread of this process per second of the round. The machine is shared: when other work holds a core, two workers get less than two cores, and the pool ratios fall with them; read them together.',
    ],
  };
}

/** Jobs for `count` messages spread over {@link SUBSCRIPTIONS} real subscriptions. */
function createJobs(count: number): EncryptionJob[] {
  // A browser's subscription keys: a P-256 public key and a 16-byte auth secret.
  const keys = Array.from({ length: SUBSCRIPTIONS }, () => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return parseSubscriptionKeys({
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    });
  });
  return Array.from({ length: count }, (_, i) => ({
    keys: keys[i % SUBSCRIPTIONS] as EncryptionJob['keys'],
    plaintext: Buffer.from(
      JSON.stringify({
        v: 1,
        id: `r${i % SUBSCRIPTIONS}:${i}`,
        tab: 'tab-0123456789abcdef',
        reg: `r${i % SUBSCRIPTIONS}`,
        seq: i + 1,
        type: 'next',
        payload: { data: { stockChanged: { id: `p${i % 7}`, stock: i % 50 } } },
      }),
    ),
  }));
}

/**
 * Encryption off the event loop: a pool of worker threads running the RFC 8291 kernel on
 * batches of messages.
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import { encryptPushMessage } from './encrypt.js';
import { type EncryptionJob, packBatch, unpackBodies } from './encrypt-batch.js';
import { encryptionWorkerSource } from './encrypt-worker-source.js';
import {
  EncryptionPoolClosedError,
  InvalidPushArgumentError,
  PushPayloadTooLargeError,
} from './errors.js';
import { createFifo } from './fifo.js';

export type { EncryptionJob } from './encrypt-batch.js';

/** Options of {@link createEncryptionPool}. */
export interface EncryptionPoolOptions {
  /**
   * Worker threads, started on first use; 0 encrypts every batch on the calling thread.
   * @defaultValue {@link defaultEncryptionWorkers}: `Math.min(4, os.availableParallelism() - 1)`
   */
  workers?: number;
  /**
   * Most jobs in one message to a worker; a larger batch is split and spread over the workers.
   * @defaultValue 32
   */
  batchSize?: number;
}

/** Encrypts batches of push messages on worker threads. */
export interface EncryptionPool {
  /**
   * Encrypts every job of `batch`.
   * @param batch - the messages; each plaintext at most `MAX_PUSH_PLAINTEXT_BYTES`
   * @returns the bodies, in the order of `batch`, byte for byte what `encryptPushMessage`
   * produces (views into one buffer per worker answer)
   * @throws (rejects) `PushPayloadTooLargeError` for an oversized plaintext,
   * {@link EncryptionPoolClosedError} after {@link EncryptionPool.close}
   */
  encrypt(batch: readonly EncryptionJob[]): Promise<Buffer[]>;
  /**
   * Threads the pool may use: `workers` as created, 0 after `close()` or once workers kept
   * failing before their first answer (it then encrypts on the calling thread).
   */
  readonly workers: number;
  /** Jobs given to the pool and not answered yet (on a worker or waiting for one). */
  readonly queued: number;
  /** Terminates the workers; batches not answered yet reject. Resolves once they are gone. */
  close(): Promise<void>;
}

/**
 * The default number of encryption workers: one core is left to the event loop.
 * @returns `Math.min(4, os.availableParallelism() - 1)`, at least 0
 */
export function defaultEncryptionWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}

interface Chunk {
  readonly jobs: readonly EncryptionJob[];
  resolve(bodies: Buffer[]): void;
  reject(error: unknown): void;
}

interface Thread {
  readonly worker: Worker;
  readonly chunks: Map<number, Chunk>;
  answered: number;
  /** What the worker threw, if it did, for the warning. */
  error?: unknown;
}

interface Answer {
  id: number;
  output?: ArrayBuffer;
  error?: string;
}

/** Workers lost before their first answer, in a row, before the pool stops starting them. */
const MAX_FAILED_STARTS = 3;

/**
 * Batches a worker holds at once. Enough that it does not run dry while the event loop is busy
 * for a while (a fan-out's first turn hands over a thousand messages; four batches of 32 are
 * about 20 ms of work), few enough that at the end of a large fan-out one worker is not left
 * with a queue while the other idles: the rest wait here for whichever worker answers first.
 */
const BATCHES_PER_WORKER = 4;

function encryptInline(chunk: Chunk): void {
  try {
    chunk.resolve(
      chunk.jobs.map((job) => encryptPushMessage(job.keys, job.plaintext, job.entropy)),
    );
  } catch (error) {
    chunk.reject(error);
  }
}

/** Starts one worker on the given program. */
export type SpawnEncryptionWorker = (source: string) => Worker;

const spawnEvalWorker: SpawnEncryptionWorker = (source) =>
  new Worker(source, { eval: true, execArgv: [] });

type Trouble = 'start' | 'batch' | 'exit' | 'stopped';

/** Reports each kind of trouble once per pool: a crash loop must not flood the log. */
function createWarner(): (kind: Trouble, message: string) => void {
  const reported = new Set<Trouble>();
  return (kind, message) => {
    if (reported.has(kind)) return;
    reported.add(kind);
    process.emitWarning(message, { code: 'GRAPHQL_WEB_PUSH_ENCRYPTION_WORKER' });
  };
}

/**
 * Creates a pool of encryption workers.
 * @param options - thread count and batch size
 * @returns the pool
 * @throws `InvalidPushArgumentError` for a negative or fractional count
 * @remarks
 * - Each batch goes to a worker as one transferred `ArrayBuffer` (keys and plaintexts packed)
 *   and comes back as one (the bodies back to back), so the cost of message passing is paid
 *   per batch, not per message, and nothing is structured-cloned byte by byte.
 * - A batch goes to an idle worker, to a new one while fewer than `workers` run, or else to
 *   the one with the fewest batches outstanding. With more than one worker, each holds at most
 *   four: the others wait in the pool and go to whichever worker answers first, so a worker
 *   slowed down (its core shared with the event loop or another process) takes less of a
 *   large fan-out instead of holding up its end. A single worker gets every batch at once.
 * - Workers are `unref`'d while idle (they never keep a process alive) and `ref`'d while they
 *   hold work (so an awaited batch is not cut short by the process exiting).
 * - A worker that exits or whose batch throws has its batches encrypted on the calling thread,
 *   and is replaced on the next batch; after three workers in a row are lost before their
 *   first answer, the pool stops starting workers and encrypts on the calling thread. Each
 *   kind of trouble (cannot start, failed batch, exit, stopped) is reported once per pool as a
 *   process warning with code `GRAPHQL_WEB_PUSH_ENCRYPTION_WORKER`: the messages still go
 *   out, only slower.
 * - The worker runs the same kernel as `encryptPushMessage`, from its source text (see
 *   `encryptionWorkerSource`), with no `execArgv`: it needs no loader and starts lean.
 */
export function createEncryptionPool(options: EncryptionPoolOptions = {}): EncryptionPool {
  return createEncryptionPoolWith(spawnEvalWorker, options);
}

/**
 * {@link createEncryptionPool} with another way to start workers: the seam through which tests
 * make workers fail.
 * @param spawnWorker - starts a worker on the program it is given
 * @param options - thread count and batch size
 * @returns the pool
 * @internal
 */
export function createEncryptionPoolWith(
  spawnWorker: SpawnEncryptionWorker,
  { workers = defaultEncryptionWorkers(), batchSize = 32 }: EncryptionPoolOptions = {},
): EncryptionPool {
  if (!Number.isSafeInteger(workers) || workers < 0) {
    throw new InvalidPushArgumentError('workers must be an integer ≥ 0');
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new InvalidPushArgumentError('batchSize must be an integer ≥ 1');
  }
  let limit = workers;
  let threads: Thread[] = [];
  /** Batches no worker holds yet, in arrival order. */
  const waiting = createFifo<Chunk>();
  let nextId = 0;
  let queued = 0;
  let failedStarts = 0;
  let closed = false;
  const warn = createWarner();

  function spawn(): Thread | undefined {
    let worker: Worker;
    try {
      worker = spawnWorker(encryptionWorkerSource());
    } catch (error) {
      limit = 0;
      warn('start', `cannot start encryption workers, encrypting on the event loop: ${error}`);
      return undefined;
    }
    worker.unref();
    const thread: Thread = { worker, chunks: new Map(), answered: 0 };
    worker.on('message', (answer: Answer) => onAnswer(thread, answer));
    // The 'exit' that follows recovers the batches; without a listener an error would throw.
    worker.on('error', (error) => {
      thread.error = error;
    });
    worker.on('exit', () => onLost(thread));
    threads.push(thread);
    return thread;
  }

  function pick(): Thread | undefined {
    let best: Thread | undefined;
    for (const thread of threads) {
      if (best === undefined || thread.chunks.size < best.chunks.size) best = thread;
    }
    if ((best === undefined || best.chunks.size > 0) && threads.length < limit) {
      return spawn() ?? best;
    }
    return best;
  }

  /** Hands waiting batches to workers with room for them; without workers, encrypts here. */
  function pump(): void {
    while (waiting.length > 0) {
      const thread = pick();
      if (thread === undefined) {
        for (const chunk of waiting.drain()) {
          queued -= chunk.jobs.length;
          encryptInline(chunk);
        }
        return;
      }
      // One worker has nobody to share with: it gets everything at once and never runs dry.
      if (limit > 1 && thread.chunks.size >= BATCHES_PER_WORKER) return;
      send(thread, waiting.shift() as Chunk);
    }
  }

  function send(thread: Thread, chunk: Chunk): void {
    const id = nextId;
    nextId += 1;
    if (thread.chunks.size === 0) thread.worker.ref();
    thread.chunks.set(id, chunk);
    const input = packBatch(chunk.jobs);
    thread.worker.postMessage({ id, input }, [input]);
  }

  function dispatch(chunk: Chunk): void {
    queued += chunk.jobs.length;
    waiting.push(chunk);
    pump();
  }

  function settle(thread: Thread, id: number): Chunk | undefined {
    const chunk = thread.chunks.get(id);
    if (chunk === undefined) return undefined;
    thread.chunks.delete(id);
    queued -= chunk.jobs.length;
    if (thread.chunks.size === 0) thread.worker.unref();
    return chunk;
  }

  function onAnswer(thread: Thread, { id, output, error }: Answer): void {
    const chunk = settle(thread, id);
    if (chunk === undefined) return;
    thread.answered += 1;
    failedStarts = 0;
    // Its next batch first: the worker is free now.
    pump();
    if (output !== undefined && error === undefined) {
      chunk.resolve(unpackBodies(chunk.jobs, output));
      return;
    }
    warn('batch', `an encryption worker failed a batch, encrypted on the event loop: ${error}`);
    encryptInline(chunk);
  }

  function onLost(thread: Thread): void {
    threads = threads.filter((other) => other !== thread);
    if (!closed) {
      warn(
        'exit',
        `an encryption worker exited (${thread.error ?? 'no error'}); its batches were ` +
          'encrypted on the event loop, and it is replaced',
      );
      if (thread.answered === 0) failedStarts += 1;
      if (failedStarts >= MAX_FAILED_STARTS && limit > 0) {
        limit = 0;
        warn('stopped', 'encryption workers keep exiting at start; encrypting on the event loop');
      }
    }
    for (const id of [...thread.chunks.keys()]) {
      const chunk = settle(thread, id);
      if (chunk === undefined) continue;
      if (closed) chunk.reject(new EncryptionPoolClosedError());
      else encryptInline(chunk);
    }
    // The batches still waiting go to the others, or to its replacement.
    if (!closed) pump();
  }

  function encryptChunk(jobs: readonly EncryptionJob[]): Promise<Buffer[]> {
    return new Promise((resolve, reject) => dispatch({ jobs, resolve, reject }));
  }

  return {
    encrypt(batch) {
      if (closed) return Promise.reject(new EncryptionPoolClosedError());
      for (const job of batch) {
        const size = job.plaintext.byteLength;
        if (size > MAX_PUSH_PLAINTEXT_BYTES) {
          return Promise.reject(new PushPayloadTooLargeError(size, MAX_PUSH_PLAINTEXT_BYTES));
        }
      }
      if (batch.length <= batchSize) return encryptChunk(batch);
      const chunks: Promise<Buffer[]>[] = [];
      for (let at = 0; at < batch.length; at += batchSize) {
        chunks.push(encryptChunk(batch.slice(at, at + batchSize)));
      }
      return Promise.all(chunks).then((parts) => parts.flat());
    },
    get workers() {
      return limit;
    },
    get queued() {
      return queued;
    },
    async close() {
      if (closed) return;
      closed = true;
      limit = 0;
      const stopping = threads;
      threads = [];
      for (const chunk of waiting.drain()) {
        queued -= chunk.jobs.length;
        chunk.reject(new EncryptionPoolClosedError());
      }
      for (const thread of stopping) {
        for (const id of [...thread.chunks.keys()]) {
          settle(thread, id)?.reject(new EncryptionPoolClosedError());
        }
      }
      await Promise.all(stopping.map((thread) => thread.worker.terminate()));
    },
  };
}

/**
 * Where the sender encrypts a message: on the event loop when few arrive, on the encryption
 * pool when a fan-out brings many at once.
 * @packageDocumentation
 */

import { encryptPushMessage } from './encrypt.js';
import type { EncryptionJob, EncryptionPool } from './encrypt-pool.js';

/** Hears the messages the pool encrypted. */
export interface EncryptionListener<J extends EncryptionJob> {
  /**
   * A message's body is ready.
   * @param job - the message
   * @param body - its `aes128gcm` body
   */
  encrypted(job: J, body: Buffer): void;
  /**
   * A message could not be encrypted.
   * @param job - the message
   * @param error - `EncryptionPoolClosedError` once the pool is closed, else what went wrong
   */
  failed(job: J, error: unknown): void;
}

/** Options of {@link createEncryptionQueue}. */
export interface EncryptionQueueOptions<J extends EncryptionJob> {
  /** The workers; without one (or with one of 0 workers) every message is encrypted inline. */
  pool?: EncryptionPool | undefined;
  /** Messages encrypted inline per event-loop turn before the rest go to the pool. */
  inlineLimit: number;
  /** Messages sent to the pool together. */
  batchSize: number;
  /** Hears every message that went to the pool. */
  listener: EncryptionListener<J>;
}

/** Encrypts the sender's messages. */
export interface EncryptionQueue<J extends EncryptionJob> {
  /**
   * Encrypts one message.
   * @param job - the message: the subscription's parsed keys and at most
   * `MAX_PUSH_PLAINTEXT_BYTES` bytes of plaintext (checked by the caller)
   * @returns the body when it was encrypted at once, on the event loop; else `undefined`, and
   * the listener hears of it later (never before `encrypt` returned)
   */
  encrypt(job: J): Buffer | undefined;
}

/**
 * Creates the sender's encryption queue.
 * @param options - pool, inline limit, batch size and listener
 * @returns the queue
 * @remarks The first `inlineLimit` messages of an event-loop turn are encrypted at once on
 * the event loop, so a single push keeps the latency it has without workers. Past that, and
 * while the pool still holds earlier messages, messages wait in a batch that goes to the pool
 * when it is full or when the turn ends (`setImmediate`), whichever comes first: a fan-out
 * that hands the sender thousands of messages in one turn is encrypted on the workers in
 * batches, while the event loop goes on with HTTP. The messages themselves are the pool's jobs
 * and the listener's arguments: nothing is made per message.
 */
export function createEncryptionQueue<J extends EncryptionJob>({
  pool,
  inlineLimit,
  batchSize,
  listener,
}: EncryptionQueueOptions<J>): EncryptionQueue<J> {
  let turn = 0;
  let turnEnding = false;
  let waiting: J[] = [];
  let inPool = 0;

  function flush(): void {
    const jobs = waiting;
    waiting = [];
    if (pool === undefined || jobs.length === 0) return;
    inPool += jobs.length;
    pool.encrypt(jobs).then(
      (bodies) => {
        inPool -= jobs.length;
        for (let i = 0; i < jobs.length; i += 1) {
          listener.encrypted(jobs[i] as J, bodies[i] as Buffer);
        }
      },
      (error: unknown) => {
        inPool -= jobs.length;
        for (const job of jobs) listener.failed(job, error);
      },
    );
  }

  function endTurn(): void {
    turnEnding = false;
    turn = 0;
    flush();
  }

  return {
    encrypt(job) {
      if (pool === undefined || pool.workers === 0) {
        return encryptPushMessage(job.keys, job.plaintext);
      }
      if (!turnEnding) {
        turnEnding = true;
        setImmediate(endTurn);
      }
      turn += 1;
      if (turn <= inlineLimit && inPool === 0 && waiting.length === 0) {
        return encryptPushMessage(job.keys, job.plaintext);
      }
      waiting.push(job);
      if (waiting.length >= batchSize) flush();
      return undefined;
    },
  };
}

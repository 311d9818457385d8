/**
 * Where the sender encrypts a message: on the event loop when few arrive, on the encryption
 * pool when a fan-out brings many at once.
 * @packageDocumentation
 */

import { encryptPushMessage, type ParsedSubscriptionKeys } from './encrypt.js';
import type { EncryptionPool } from './encrypt-pool.js';

/** Options of {@link createEncryptionQueue}. */
export interface EncryptionQueueOptions {
  /** The workers; without one (or with one of 0 workers) every message is encrypted inline. */
  pool?: EncryptionPool | undefined;
  /** Messages encrypted inline per event-loop turn before the rest go to the pool. */
  inlineLimit: number;
  /** Messages sent to the pool together. */
  batchSize: number;
}

/** Encrypts the sender's messages. */
export interface EncryptionQueue {
  /**
   * Encrypts one message.
   * @param keys - the subscription's parsed keys
   * @param plaintext - at most `MAX_PUSH_PLAINTEXT_BYTES` bytes (checked by the caller)
   * @returns the body at once when encrypted inline, else a promise of it
   */
  encrypt(keys: ParsedSubscriptionKeys, plaintext: Uint8Array): Buffer | Promise<Buffer>;
}

interface Waiting {
  readonly keys: ParsedSubscriptionKeys;
  readonly plaintext: Uint8Array;
  resolve(body: Buffer): void;
  reject(error: unknown): void;
}

/**
 * Creates the sender's encryption queue.
 * @param options - pool, inline limit and batch size
 * @returns the queue
 * @remarks The first `inlineLimit` messages of an event-loop turn are encrypted at once on
 * the event loop, so a single push keeps the latency it has without workers. Past that, and
 * while the pool still holds earlier messages, messages wait in a batch that goes to the pool
 * when it is full or when the turn ends (`setImmediate`), whichever comes first: a fan-out
 * that hands the sender thousands of messages in one turn is encrypted on the workers in
 * batches, while the event loop goes on with HTTP.
 */
export function createEncryptionQueue({
  pool,
  inlineLimit,
  batchSize,
}: EncryptionQueueOptions): EncryptionQueue {
  let turn = 0;
  let turnEnding = false;
  let waiting: Waiting[] = [];
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
          (jobs[i] as Waiting).resolve(bodies[i] as Buffer);
        }
      },
      (error: unknown) => {
        inPool -= jobs.length;
        for (const job of jobs) job.reject(error);
      },
    );
  }

  function endTurn(): void {
    turnEnding = false;
    turn = 0;
    flush();
  }

  return {
    encrypt(keys, plaintext) {
      if (pool === undefined || pool.workers === 0) return encryptPushMessage(keys, plaintext);
      if (!turnEnding) {
        turnEnding = true;
        setImmediate(endTurn);
      }
      turn += 1;
      if (turn <= inlineLimit && inPool === 0 && waiting.length === 0) {
        return encryptPushMessage(keys, plaintext);
      }
      return new Promise<Buffer>((resolve, reject) => {
        waiting.push({ keys, plaintext, resolve, reject });
        if (waiting.length >= batchSize) flush();
      });
    },
  };
}

/**
 * Fault injection: what an unreliable push service does to messages, decided with a seeded
 * random source so that a failing run can be repeated.
 */
import type { Random } from './prng.js';

/** Faults to inject. Every rate is a probability in `[0, 1]`; absent means never. */
export interface Faults {
  /** Answer 201 but never store or deliver the message. */
  drop?: number;
  /** Store a second copy of the message under a new version id (both are delivered). */
  duplicate?: number;
  /**
   * Hold deliveries and release each group of this many in shuffled order. A partial group is
   * released after {@link Faults.reorderFlushMs}.
   */
  reorderWindow?: number;
  /**
   * How long a partial reorder group waits for more messages.
   * @defaultValue 50
   */
  reorderFlushMs?: number;
  /** Delay before each delivery: a fixed number of milliseconds or a `[min, max]` range. */
  delayMs?: number | [number, number];
  /** Answer 429 with `Retry-After: retryAfterSeconds` at this rate; nothing is stored. */
  status429?: { rate: number; retryAfterSeconds: number };
  /** Answer 500 at this rate; nothing is stored. */
  status500?: number;
  /** Answer 503 at this rate; nothing is stored. */
  status503?: number;
  /** Close the user agent's socket after every this many notifications sent on it. */
  disconnectEvery?: number;
  /**
   * Seed of the random source; setting faults restarts the sequence.
   * @defaultValue 1
   */
  seed?: number;
}

/** Default wait before a partial reorder group is released. */
export const DEFAULT_REORDER_FLUSH_MS = 50;

/** Default seed of the fault random source. */
export const DEFAULT_FAULT_SEED = 1;

/** Thrown by {@link validateFaults} for a rate outside `[0, 1]` or a negative count. */
export class InvalidFaultsError extends Error {
  override name = 'InvalidFaultsError';
}

/**
 * Checks that rates are in `[0, 1]` and counts and delays are non-negative.
 * @param faults - the faults to check
 * @returns the same faults
 * @throws {@link InvalidFaultsError} naming the first bad field
 */
export function validateFaults(faults: Faults): Faults {
  const rate = (name: string, value: number | undefined) => {
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new InvalidFaultsError(`faults.${name} must be in [0, 1], got ${value}`);
    }
  };
  const count = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new InvalidFaultsError(`faults.${name} must be a non-negative number, got ${value}`);
    }
  };
  rate('drop', faults.drop);
  rate('duplicate', faults.duplicate);
  rate('status429.rate', faults.status429?.rate);
  rate('status500', faults.status500);
  rate('status503', faults.status503);
  count('status429.retryAfterSeconds', faults.status429?.retryAfterSeconds);
  count('reorderWindow', faults.reorderWindow);
  count('reorderFlushMs', faults.reorderFlushMs);
  count('disconnectEvery', faults.disconnectEvery);
  const delays = Array.isArray(faults.delayMs) ? faults.delayMs : [faults.delayMs];
  for (const delay of delays) count('delayMs', delay);
  return faults;
}

/** An injected refusal of an incoming message. */
export interface InjectedRefusal {
  status: 429 | 500 | 503;
  retryAfterSeconds?: number;
}

/**
 * Draws whether an acceptable message is refused instead. Each configured rate takes one draw,
 * in the order 429, 500, 503, so that a seed gives the same answers for the same requests.
 * @returns the refusal, or `null` to accept
 */
export function drawRefusal(faults: Faults, random: Random): InjectedRefusal | null {
  const { status429, status500, status503 } = faults;
  if (status429 && status429.rate > 0 && random() < status429.rate) {
    return { status: 429, retryAfterSeconds: status429.retryAfterSeconds };
  }
  if (status500 && random() < status500) return { status: 500 };
  if (status503 && random() < status503) return { status: 503 };
  return null;
}

/**
 * Draws a rate fault.
 * @returns true with probability `rate`; false without a draw when `rate` is 0 or absent
 */
export function drawRate(rate: number | undefined, random: Random): boolean {
  return rate !== undefined && rate > 0 && random() < rate;
}

/**
 * Draws the delay before one delivery.
 * @returns milliseconds, 0 without a draw when no delay is configured
 */
export function drawDelay(faults: Faults, random: Random): number {
  const { delayMs } = faults;
  if (delayMs === undefined) return 0;
  if (typeof delayMs === 'number') return delayMs;
  const [min, max] = delayMs;
  return min + random() * Math.max(0, max - min);
}

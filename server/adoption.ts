import type { YogaLogger } from 'graphql-yoga';
import type { LeaseKeeper } from './lease.js';
import type { Store } from './store/types.js';

/** Options of {@link createAdoptionLoop}. */
export interface AdoptionLoopOptions {
  store: Store;
  leases: LeaseKeeper;
  /** Average time between rounds; each wait is drawn from ±25 % of it so instances spread. */
  intervalMs: number;
  /**
   * Candidates read per round; a full batch starts the next round at once.
   * @defaultValue `100`
   */
  batchSize?: number;
  /**
   * Adoptions under way at once.
   * @defaultValue `8`
   */
  concurrency?: number;
  /**
   * True for a registration not to try now: its stream runs here (a lease that lapsed, which the
   * lease keeper restarts), or its last adoption failed for a passing reason not long ago.
   */
  skip(registrationId: string): boolean;
  /**
   * Runs the registration here under the lease just taken. Must hold the lease (through the
   * keeper) when the stream started, or release it.
   */
  adopt(registrationId: string, token: number): Promise<void>;
  logger: YogaLogger;
  now?: () => number;
}

/** The loop that adopts registrations nobody runs. */
export interface AdoptionLoop {
  /** Starts the timer; the first round runs after one interval. */
  start(): void;
  /** One round: returns how many registrations were adopted. */
  round(): Promise<number>;
  /** Stops the timer and waits for a round under way. */
  close(): Promise<void>;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * Creates the adoption loop of one instance.
 *
 * @param options - store, lease keeper, timing and the adopt callback; see
 * {@link AdoptionLoopOptions}
 * @returns the loop
 * @remarks Each round asks the store for registrations whose lease expired, was released or was
 * never taken (`listUnowned`), tries to take each lease, and adopts those it got. Instances race
 * for the same candidates; `acquireLease` lets exactly one win. Candidates are shuffled so that
 * the survivors of a crash share the orphans instead of one taking them all. Errors are logged;
 * the loop goes on.
 */
export function createAdoptionLoop(options: AdoptionLoopOptions): AdoptionLoop {
  const {
    store,
    leases,
    intervalMs,
    batchSize = 100,
    concurrency = 8,
    skip,
    adopt,
    logger,
    now = Date.now,
  } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> | undefined;
  let closed = false;

  const adoptOne = async (registrationId: string): Promise<boolean> => {
    // A claim keeps a registration being started here from being adopted here too under the
    // same token.
    if (closed || skip(registrationId) || !leases.reserve(registrationId)) return false;
    const token = await leases.acquire(registrationId).catch((error: unknown) => {
      leases.forget(registrationId);
      throw error;
    });
    if (token === null) {
      leases.forget(registrationId);
      return false;
    }
    if (closed) {
      await leases.release(registrationId);
      return false;
    }
    try {
      await adopt(registrationId, token);
      return true;
    } catch (error) {
      logger.error('graphql-web-push: adopting a registration failed', error);
      await leases.release(registrationId);
      return false;
    }
  };

  /** One round; `more` when the batch was full and adopted: more orphans may be waiting. */
  const round = async (): Promise<{ adopted: number; more: boolean }> => {
    const ids = shuffle(await store.listUnowned(now(), batchSize));
    let adopted = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length && !closed) {
        const id = ids[next++] as string;
        try {
          if (await adoptOne(id)) adopted += 1;
        } catch (error) {
          logger.error('graphql-web-push: taking a lease failed', error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    // Only when it got somewhere: a full batch of skipped ones must not spin.
    return { adopted, more: ids.length >= batchSize && adopted > 0 };
  };

  const schedule = (delay: number): void => {
    if (closed) return;
    timer = setTimeout(run, delay);
    timer.unref();
  };

  const run = (): void => {
    timer = undefined;
    current = round()
      .catch((error) => {
        logger.error('graphql-web-push: looking for registrations to adopt failed', error);
        return { adopted: 0, more: false };
      })
      .then(({ more }) => {
        current = undefined;
        // A full batch: go on at once instead of leaving orphans waiting another interval.
        schedule(more ? 0 : intervalMs * (0.75 + Math.random() / 2));
      });
  };

  return {
    start() {
      if (timer || current || closed) return;
      schedule(intervalMs * (0.75 + Math.random() / 2));
    },
    round: async () => (await round()).adopted,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
  };
}

import type { YogaLogger } from 'graphql-yoga';
import type { Store } from '../store/types.js';

/** Options of {@link createHeartbeat}. */
export interface HeartbeatOptions {
  store: Store;
  instanceId: string;
  /** How long the lease lasts without a beat; one beat every third of it. */
  ttlMs: number;
  /** Called when the store handed out a new token: every group owned under the old one is lost. */
  onNewToken(token: number, previous: number): void;
  logger: YogaLogger;
  now?: () => number;
}

/** The one lease of this instance: every group it runs is owned through it. */
export interface Heartbeat {
  /** The lease's fencing token; waits for the first beat (and retries it while the store fails). */
  token(): Promise<number>;
  /** Starts beating every third of the TTL. */
  start(): void;
  /** Stops beating; the lease lapses after its TTL unless released. */
  stop(): Promise<void>;
  /** One beat (the timer's work), for tests. */
  beat(): Promise<void>;
}

/**
 * Creates the heartbeat of one instance.
 * @param options - store, instance id, TTL; see {@link HeartbeatOptions}
 * @returns the heartbeat
 * @remarks Idle cost: one store round trip per `ttlMs / 3`, however many registrations and
 * groups the instance serves. A failed beat is logged and the next one tries again: while the
 * store is away nothing can be appended either, and once it is back the token tells whether the
 * groups are still ours (same token) or were claimed by others meanwhile (a new one).
 */
export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { store, instanceId, ttlMs, onNewToken, logger, now = Date.now } = options;
  let current: number | undefined;
  let first: Promise<number> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let beating: Promise<void> | undefined;

  const take = async (): Promise<number> => {
    const token = await store.heartbeat(instanceId, ttlMs, now());
    if (current !== undefined && token !== current) onNewToken(token, current);
    current = token;
    return token;
  };

  const beat = async (): Promise<void> => {
    try {
      await take();
    } catch (error) {
      logger.error('graphql-web-push: renewing this instance’s lease failed; retrying', error);
    }
  };

  const tick = (): void => {
    if (beating) return;
    beating = beat().finally(() => {
      beating = undefined;
    });
  };

  return {
    token() {
      if (current !== undefined) return Promise.resolve(current);
      // Shared by concurrent callers; a failed first beat is tried again by the next caller.
      first ??= take().catch((error: unknown) => {
        first = undefined;
        throw error;
      });
      return first;
    },
    start() {
      if (timer) return;
      timer = setInterval(tick, Math.max(1, Math.floor(ttlMs / 3)));
      // Beating alone must not keep the process alive.
      timer.unref();
      tick();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await beating;
    },
    beat,
  };
}

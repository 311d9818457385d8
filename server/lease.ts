import type { YogaLogger } from 'graphql-yoga';
import type { Store } from './store/types.js';

/** Options of {@link createLeaseKeeper}. */
export interface LeaseKeeperOptions {
  store: Store;
  /** This instance's id: the lease owner. */
  owner: string;
  /** How long a lease lasts without renewal; renewed every third of it. */
  ttlMs: number;
  /** True while the registration's stream runs here. */
  isRunning(registrationId: string): boolean;
  /**
   * Called when a held lease could not be renewed: `token` is `null` when another owner holds it
   * (or the registration is gone), or a new token when this instance's lease had lapsed and was
   * taken again (another owner may have appended in between: resume from the stored cursor).
   */
  onLost(registrationId: string, token: number | null): void;
  logger: YogaLogger;
  now?: () => number;
}

/** The leases this instance holds on registrations' server-side subscriptions. */
export interface LeaseKeeper {
  /**
   * Claims a registration for this process before taking its lease, so that two paths here (a new
   * registration and the adoption loop, or two adoptions) never run it twice under one token.
   * @returns false when it is already claimed or held here
   */
  reserve(registrationId: string): boolean;
  /** Drops a claim (or a held lease) without releasing anything in the store. */
  forget(registrationId: string): void;
  /** Takes (or extends) the lease; the fencing token, or `null` while another owner holds it. */
  acquire(registrationId: string): Promise<number | null>;
  /** Starts renewing a lease taken with {@link LeaseKeeper.acquire}. */
  hold(registrationId: string, token: number): void;
  /** True while the registration is claimed or its lease held here. */
  holds(registrationId: string): boolean;
  /** Ids of the leases held (not mere claims). */
  held(): string[];
  /** Stops renewing and gives the lease up, so that another instance can adopt at once. */
  release(registrationId: string): Promise<void>;
  /** Starts the renewal timer. */
  start(): void;
  /** Stops the timer and waits for a renewal round under way; keeps the leases. */
  stop(): Promise<void>;
  /** Releases every lease held (after the streams stopped). Never throws. */
  releaseAll(): Promise<void>;
  /** One renewal round (the timer's work), for tests. */
  renew(): Promise<void>;
}

/** Leases renewed at once; a round with more is split so that no burst holds the store long. */
const CHUNK = 256;

/**
 * Creates the {@link LeaseKeeper} of one instance.
 *
 * @param options - store, owner id, TTL and callbacks; see {@link LeaseKeeperOptions}
 * @returns the keeper
 * @remarks Every `ttlMs / 3` each held lease is renewed with `acquireLease`. A lease whose stream
 * no longer runs here (it completed, was fenced, or the registration was deleted) is released
 * instead. Store errors are logged and the round goes on: while the store is away nothing can be
 * appended either, and once it is back a lapsed lease comes back with a new token or not at all.
 */
export function createLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const { store, owner, ttlMs, isRunning, onLost, logger, now = Date.now } = options;
  /** Held leases by registration id; `null` while only claimed. */
  const tokens = new Map<string, number | null>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let round: Promise<void> | undefined;

  const acquire = (registrationId: string) =>
    store.acquireLease(registrationId, owner, ttlMs, now());

  const giveUp = async (registrationId: string): Promise<void> => {
    try {
      await store.releaseLease(registrationId, owner);
    } catch (error) {
      // It lapses by itself within ttlMs.
      logger.warn('graphql-web-push: releasing a lease failed', error);
    }
  };

  const renewOne = async (registrationId: string, token: number): Promise<boolean> => {
    if (!isRunning(registrationId)) {
      tokens.delete(registrationId);
      await giveUp(registrationId);
      return true;
    }
    let renewed: number | null;
    try {
      renewed = await acquire(registrationId);
    } catch {
      return false;
    }
    // Released, or held again under a new token, while this renewal was under way.
    if (tokens.get(registrationId) !== token) return true;
    if (renewed === token) return true;
    tokens.delete(registrationId);
    onLost(registrationId, renewed);
    return true;
  };

  const renew = async (): Promise<void> => {
    const entries = [...tokens].filter((entry): entry is [string, number] => entry[1] !== null);
    let failed = 0;
    for (let i = 0; i < entries.length; i += CHUNK) {
      const results = await Promise.all(
        entries.slice(i, i + CHUNK).map(([id, token]) => renewOne(id, token)),
      );
      failed += results.filter((ok) => !ok).length;
    }
    if (failed > 0) logger.error(`graphql-web-push: renewing ${failed} leases failed; retrying`);
  };

  const tick = (): void => {
    if (round) return;
    round = renew()
      .catch((error) => logger.error('graphql-web-push: lease renewal failed', error))
      .finally(() => {
        round = undefined;
      });
  };

  return {
    reserve(registrationId) {
      if (tokens.has(registrationId)) return false;
      tokens.set(registrationId, null);
      return true;
    },
    forget(registrationId) {
      tokens.delete(registrationId);
    },
    acquire,
    hold(registrationId, token) {
      tokens.set(registrationId, token);
    },
    holds: (registrationId) => tokens.has(registrationId),
    held: () => [...tokens].flatMap(([id, token]) => (token === null ? [] : [id])),
    async release(registrationId) {
      tokens.delete(registrationId);
      await giveUp(registrationId);
    },
    start() {
      if (timer) return;
      timer = setInterval(tick, Math.max(1, Math.floor(ttlMs / 3)));
      // Renewal alone must not keep the process alive.
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await round;
    },
    async releaseAll() {
      const ids = [...tokens.keys()];
      tokens.clear();
      await Promise.all(ids.map(giveUp));
    },
    renew,
  };
}

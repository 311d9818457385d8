import type { YogaLogger } from 'graphql-yoga';
import { type Adopter, type AdoptionTarget, createAdopter } from './adopt.js';
import { type AdoptionLoop, createAdoptionLoop } from './adoption.js';
import { createLeaseKeeper, type LeaseKeeper } from './lease.js';
import type { Runner } from './runner.js';
import type { Store } from './store/types.js';

/** Options of {@link createInstance}. */
export interface InstanceOptions {
  store: Store;
  runner: Runner;
  /** This instance's id (the lease owner). */
  id: string;
  leaseTtlMs: number;
  adoptIntervalMs: number;
  logger: YogaLogger;
}

/** One server instance among several sharing a store: its leases, adoptions and hand-over. */
export interface Instance {
  leases: LeaseKeeper;
  adopter: Adopter;
  loop: AdoptionLoop;
  /** Starts renewing leases and adopting, once Yoga can take adoption requests. */
  start(target: AdoptionTarget): void;
  /**
   * Hands everything over: stops adopting, stops every stream running here (waiting for appends
   * under way, so the stored cursors are final), then releases the leases so that other instances
   * adopt the registrations at their next round.
   */
  handOver(): Promise<void>;
}

/**
 * Creates the {@link Instance}: the lease keeper, the adopter and the adoption loop, wired to the
 * runner.
 * @param options - store, runner, id and timing; see {@link InstanceOptions}
 * @returns the instance
 * @remarks When a lease is lost to another owner, the stream here stops. When this instance's
 * own lease lapsed (the store was away longer than the TTL) and renewal took it again under a new
 * token, another owner may have appended in between, so the stream restarts from the stored
 * cursor under the new token instead of going on.
 */
export function createInstance(options: InstanceOptions): Instance {
  const { store, runner, id, leaseTtlMs, adoptIntervalMs, logger } = options;
  let target: AdoptionTarget | undefined;

  const adoptOrRelease = async (registrationId: string, token: number): Promise<void> => {
    try {
      await adopter.adopt(registrationId, token);
    } catch (error) {
      logger.error('graphql-web-push: adopting a registration failed', error);
      await leases.release(registrationId);
    }
  };

  const leases = createLeaseKeeper({
    store,
    owner: id,
    ttlMs: leaseTtlMs,
    isRunning: (registrationId) => runner.isRunning(registrationId),
    onLost(registrationId, token) {
      void (async () => {
        await runner.stopRegistration(registrationId);
        // Unless the adoption loop here already took it up.
        if (token !== null && leases.reserve(registrationId)) {
          await adoptOrRelease(registrationId, token);
        }
      })();
    },
    logger,
  });
  const adopter = createAdopter({ store, runner, leases, logger, target: () => target });
  const loop = createAdoptionLoop({
    store,
    leases,
    intervalMs: adoptIntervalMs,
    skip: (registrationId) => runner.isRunning(registrationId) || !adopter.ready(registrationId),
    adopt: (registrationId, token) => adopter.adopt(registrationId, token),
    logger,
  });

  return {
    leases,
    adopter,
    loop,
    start(yoga) {
      target = yoga;
      leases.start();
      loop.start();
    },
    async handOver() {
      adopter.close();
      await loop.close();
      await leases.stop();
      await runner.close();
      await leases.releaseAll();
    },
  };
}

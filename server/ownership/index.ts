import type { YogaLogger } from 'graphql-yoga';
import type { GroupRunner } from '../groups/runner.js';
import { type GroupRecord, SIGNALS_RESUMED, type Store } from '../store/types.js';
import { instanceChannel, parseSignal } from '../stream/signals.js';
import { type Adopter, type AdoptionTarget, createAdopter } from './adopt.js';
import { createHeartbeat } from './heartbeat.js';
import { createOrphanLoop, type OrphanLoop } from './orphans.js';

export { ADOPTION_HEADER, type AdoptionTarget, type PendingAdoption } from './adopt.js';

/** Options of {@link createOwnership}. */
export interface OwnershipOptions {
  store: Store;
  runner: GroupRunner;
  /** This instance's id: the owner named on the groups it runs. */
  instanceId: string;
  /** How long the instance's lease lasts without a heartbeat. */
  leaseTtlMs: number;
  /** Average time between looks for orphaned groups. */
  adoptIntervalMs: number;
  logger: YogaLogger;
}

/**
 * Who runs which group, across the instances sharing a store: this instance's lease, the groups
 * it claims from instances that died, and the hand-over when it stops.
 */
export interface Ownership {
  /** This instance's id. */
  readonly instanceId: string;
  /** The fencing token new groups are created under (waits for the first heartbeat). */
  token(): Promise<number>;
  /**
   * For a group whose append was refused as fenced: this instance's current token when the
   * group is still its own under it, else `null`.
   */
  reclaim(group: GroupRecord): Promise<number | null>;
  adopter: Adopter;
  loop: OrphanLoop;
  /** Starts the heartbeat and the orphan loop, once Yoga can take adoption requests. */
  start(target: AdoptionTarget): void;
  /**
   * Hands everything over: stops adopting, stops every group running here (waiting for appends
   * under way, so the stored cursors are final), then ends the lease so that other instances
   * claim the groups at their next round.
   */
  handOver(): Promise<void>;
}

/**
 * Creates the {@link Ownership} of one instance.
 * @param options - store, runner, id and timing; see {@link OwnershipOptions}
 * @returns the ownership
 * @remarks One heartbeat per instance keeps every group it runs: idle store traffic is one
 * round trip per `leaseTtlMs / 3` per instance, whatever the number of registrations. Every
 * append carries the instance's token, and a group claimed by another instance refuses it, so
 * a late write from an instance that lost its lease never lands. When the store hands out a new
 * token (this instance was forgotten: every group it owned was claimed), the groups still
 * running here stop. The owner of a group hears on its instance channel when a member left, and
 * retires the group if none is left.
 */
export function createOwnership(options: OwnershipOptions): Ownership {
  const { store, runner, instanceId, leaseTtlMs, adoptIntervalMs, logger } = options;
  let target: AdoptionTarget | undefined;
  let unlisten: (() => void) | undefined;

  const heartbeat = createHeartbeat({
    store,
    instanceId,
    ttlMs: leaseTtlMs,
    logger,
    onNewToken(token, previous) {
      logger.warn(
        'graphql-web-push: this instance’s lease lapsed; taking back what is still its own',
      );
      // Groups claimed by others stop here; the rest move to the new token, so that they are
      // found again if this instance dies.
      for (const groupId of runner.running()) {
        if (runner.tokenOf(groupId) !== previous) continue;
        void store
          .claimGroup(groupId, previous, instanceId, token)
          .then((group) => (group ? runner.retoken(groupId, token) : runner.stop(groupId)))
          .catch((error) => logger.warn('graphql-web-push: taking a group back failed', error));
      }
    },
  });
  const adopter = createAdopter({ runner, logger, target: () => target });
  const loop = createOrphanLoop({
    store,
    instanceId,
    token: () => heartbeat.token(),
    intervalMs: adoptIntervalMs,
    isRunning: (groupId) => runner.isRunning(groupId),
    adopt: (group) => adopter.adopt(group),
    logger,
  });

  const onSignal = (text: string): void => {
    if (text === SIGNALS_RESUMED) {
      // Signals may have been lost meanwhile: look at every group here.
      for (const groupId of runner.running()) void runner.retire(groupId);
      return;
    }
    const signal = parseSignal(text);
    if (signal?.kind === 'left' && runner.isRunning(signal.groupId)) {
      void runner.retire(signal.groupId);
    }
  };

  return {
    instanceId,
    token: () => heartbeat.token(),
    async reclaim(group) {
      const current = await heartbeat.token();
      if (group.token === current) return null;
      const stored = await store.getGroup(group.id);
      return stored?.owner === instanceId && stored.token === current ? current : null;
    },
    adopter,
    loop,
    start(yoga) {
      target = yoga;
      unlisten ??= store.listen(instanceChannel(instanceId), onSignal);
      heartbeat.start();
      loop.start();
    },
    async handOver() {
      adopter.close();
      await loop.close();
      await heartbeat.stop();
      unlisten?.();
      unlisten = undefined;
      await runner.close();
      try {
        await store.releaseInstance(instanceId);
      } catch (error) {
        // It lapses by itself within the lease's TTL.
        logger.warn('graphql-web-push: releasing this instance’s lease failed', error);
      }
    },
  };
}

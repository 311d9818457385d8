import type { YogaLogger } from 'graphql-yoga';
import type { GroupRecord, OrphanGroup, Store } from '../store/types.js';

/** Options of {@link createOrphanLoop}. */
export interface OrphanLoopOptions {
  store: Store;
  instanceId: string;
  /** This instance's token (waits for its first heartbeat). */
  token(): Promise<number>;
  /** Average time between rounds; each wait is drawn from ±25 % of it so instances spread. */
  intervalMs: number;
  /**
   * Orphans read per round; a full batch starts the next round at once.
   * @defaultValue `100`
   */
  batchSize?: number;
  /**
   * Claims under way at once.
   * @defaultValue `8`
   */
  concurrency?: number;
  /** True while the group runs here (an orphan of this instance's own lapsed lease). */
  isRunning(groupId: string): boolean;
  /** Runs a group just claimed here. */
  adopt(group: GroupRecord): Promise<void>;
  logger: YogaLogger;
  now?: () => number;
}

/** The loop that claims the groups of instances whose lease ended. */
export interface OrphanLoop {
  /** Starts the timer; the first round runs after one interval. */
  start(): void;
  /** One round: how many groups were claimed. */
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
 * Creates the orphan loop of one instance.
 * @param options - store, token, timing and the adopt callback; see {@link OrphanLoopOptions}
 * @returns the loop
 * @remarks Each round lists groups whose owner's lease ended and claims each (a compare-and-set
 * on the group's token: exactly one instance wins). A claimed group with no member left is
 * deleted instead of run; a done one is only kept (its members still read its log). Orphans are
 * shuffled so that the survivors of a crash share them instead of one taking them all. Errors
 * are logged; the loop goes on.
 */
export function createOrphanLoop(options: OrphanLoopOptions): OrphanLoop {
  const {
    store,
    instanceId,
    token,
    intervalMs,
    batchSize = 100,
    concurrency = 8,
    isRunning,
    adopt,
    logger,
    now = Date.now,
  } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> | undefined;
  let closed = false;

  const claim = async ({ groupId, token: from }: OrphanGroup, mine: number): Promise<boolean> => {
    // Its owner's lease lapsed (the store was away) but it still runs here: ours already.
    if (closed || isRunning(groupId)) return false;
    const group = await store.claimGroup(groupId, from, instanceId, mine);
    if (!group || closed) return false;
    if (group.done) return true;
    if (await store.deleteGroup(groupId)) return true;
    await adopt(group);
    return true;
  };

  /** One round; `more` when the batch was full and claimed: more orphans may be waiting. */
  const round = async (): Promise<{ claimed: number; more: boolean }> => {
    const mine = await token();
    const orphans = shuffle(await store.listOrphans(now(), batchSize));
    let claimed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < orphans.length && !closed) {
        const orphan = orphans[next++] as OrphanGroup;
        try {
          if (await claim(orphan, mine)) claimed += 1;
        } catch (error) {
          logger.error('graphql-web-push: claiming a group failed', error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, orphans.length) }, worker));
    // Only when it got somewhere: a full batch of skipped ones must not spin.
    return { claimed, more: orphans.length >= batchSize && claimed > 0 };
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
        logger.error('graphql-web-push: looking for groups to adopt failed', error);
        return { claimed: 0, more: false };
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
    round: async () => (await round()).claimed,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
  };
}

/** Options of {@link createRenewal}. */
export interface RenewalOptions {
  /** Milliseconds until the next periodic renewal. */
  interval(): number;
  /** True while there is something to renew; the timer only runs then. */
  active(): boolean;
  /** One renewal round trip. Must not throw. */
  renewOnce(): Promise<void>;
}

/** The renewal schedule of an exchange. */
export interface Renewal {
  /** Renews now; calls while one runs are folded into one more round. */
  now(): Promise<void>;
  /** Arms the periodic timer if there is something to renew and it is not armed. */
  schedule(): void;
  /** Disarms the timer until the next `schedule` (nothing left to renew). */
  cancel(): void;
  /** Disarms the timer for good. */
  stop(): void;
  /**
   * Forgets a round under way without waiting for it: a page frozen in the back/forward cache
   * may leave its request pending forever, and the rounds after it would wait on it.
   */
  reset(): void;
}

/**
 * Creates a renewal schedule: periodic, plus on demand (page visible again, push subscription
 * changed), never two round trips at once.
 * @param options - see {@link RenewalOptions}.
 * @returns the schedule.
 */
export function createRenewal({ interval, active, renewOnce }: RenewalOptions): Renewal {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  /** Bumped by `reset`, so that an abandoned round's end changes nothing. */
  let generation = 0;

  const clear = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const schedule = (): void => {
    if (stopped || timer !== undefined || running || !active()) return;
    timer = setTimeout(() => {
      timer = undefined;
      void now();
    }, interval());
  };

  const now = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    clear();
    const mine = generation;
    const round = (async () => {
      try {
        do {
          again = false;
          await renewOnce();
        } while (again && !stopped && mine === generation);
      } finally {
        if (mine === generation) {
          running = null;
          schedule();
        }
      }
    })();
    running = round;
    return round;
  };

  return {
    now,
    schedule,
    cancel: clear,
    stop() {
      stopped = true;
      clear();
    },
    reset() {
      generation++;
      running = null;
      again = false;
    },
  };
}

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
    running = (async () => {
      try {
        do {
          again = false;
          await renewOnce();
        } while (again && !stopped);
      } finally {
        running = null;
        schedule();
      }
    })();
    return running;
  };

  return {
    now,
    schedule,
    cancel: clear,
    stop() {
      stopped = true;
      clear();
    },
  };
}

/**
 * A small typed event hub: tests wait on what the push service does instead of sleeping.
 */

/** Subscribes `listener` to `event`; returns a function that unsubscribes it. */
export type On<Events> = <K extends keyof Events>(
  event: K,
  listener: (payload: Events[K]) => void,
) => () => void;

/** An event hub over an event map `{ name: payload }`. */
export interface Emitter<Events> {
  on: On<Events>;
  /** Calls every listener of `event`; a listener that throws does not stop the others. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void;
  /**
   * Whether `event` has a listener: a payload made for every push message is made only when
   * someone listens.
   */
  listening(event: keyof Events): boolean;
}

/**
 * Creates an event hub.
 * @returns `on` and `emit` over the event map `Events`
 */
export function createEmitter<Events>(): Emitter<Events> {
  const listeners = new Map<keyof Events, Set<(payload: never) => void>>();
  return {
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    listening(event) {
      const set = listeners.get(event);
      return set !== undefined && set.size > 0;
    },
    emit(event, payload) {
      const set = listeners.get(event);
      if (!set) return;
      for (const listener of [...set]) {
        try {
          (listener as (p: typeof payload) => void)(payload);
        } catch (error) {
          // A listener's bug must not break delivery; surface it without stopping the loop.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },
  };
}

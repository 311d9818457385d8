/**
 * A first-in first-out queue for waiters.
 * @packageDocumentation
 */

/** Array-backed FIFO with O(1) amortized shift: a fan-out can queue many thousands. */
export interface Fifo<T> {
  /**
   * Adds `item` at the back.
   * @param item - the item
   */
  push(item: T): void;
  /**
   * Takes the front item.
   * @returns the item, or `undefined` when empty
   */
  shift(): T | undefined;
  /**
   * Empties the queue.
   * @returns every item, front first
   */
  drain(): T[];
  /** Items queued. */
  readonly length: number;
}

/**
 * Creates an empty {@link Fifo}.
 * @returns the queue
 * @remarks `Array.prototype.shift` is O(n); this moves a head index instead and compacts once
 * the dead prefix is over half the array.
 */
export function createFifo<T>(): Fifo<T> {
  let items: (T | undefined)[] = [];
  let head = 0;
  return {
    push(item) {
      items.push(item);
    },
    shift() {
      if (head >= items.length) return undefined;
      const item = items[head];
      // Cleared so that a served waiter's closure is not kept until the next compaction.
      items[head] = undefined;
      head += 1;
      if (head === items.length) {
        items = [];
        head = 0;
      } else if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head);
        head = 0;
      }
      return item;
    },
    drain() {
      const rest = items.slice(head) as T[];
      items = [];
      head = 0;
      return rest;
    },
    get length() {
      return items.length - head;
    },
  };
}

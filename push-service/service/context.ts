/**
 * State shared by the two sides of the push service (application-server HTTP and user-agent
 * WebSocket), so that neither imports the other.
 */
import type { Emitter } from './events.js';
import type { Faults } from './faults.js';
import type { Random } from './prng.js';
import type { Registry, StoredMessage } from './registry.js';
import type { AckRecord, PushServiceEvents, PushServiceStats } from './types.js';

/** Counters kept as events happen; `pending` and `connections` are computed on read. */
export type Counters = Omit<PushServiceStats, 'pending' | 'connections'>;

/** What both sides of the service share. */
export interface ServiceContext {
  /** `http://HOST:PORT`. */
  url: string;
  registry: Registry;
  counters: Counters;
  events: Emitter<PushServiceEvents>;
  acks: AckRecord[];
  /** Faults in force now. */
  faults(): Faults;
  /** The fault random source (restarted by `setFaults`). */
  random: Random;
  /** More pending messages than this drop the user agent. */
  maxPendingPerUserAgent: number;
}

/**
 * Creates zeroed counters.
 * @returns the counters
 */
export function createCounters(): Counters {
  return {
    accepted: 0,
    rejected: {},
    delivered: 0,
    duplicated: 0,
    dropped: 0,
    expired: 0,
    replaced: 0,
    deleted: 0,
    acked: {},
    nacked: {},
    disconnects: 0,
    hellos: 0,
    userAgentsDropped: 0,
  };
}

/**
 * Adds one to a per-code counter.
 * @param counts - counts by code
 * @param code - the code to count
 */
export function countCode(counts: Record<number, number>, code: number): void {
  counts[code] = (counts[code] ?? 0) + 1;
}

/**
 * Counts and announces messages that left the store without an ack.
 * @param context - the service
 * @param messages - the removed messages (their `removed` reason is set)
 */
export function reportRemoved(context: ServiceContext, messages: StoredMessage[]): void {
  for (const message of messages) {
    const reason = message.removed;
    if (reason === 'expired') context.counters.expired++;
    else if (reason === 'replaced') context.counters.replaced++;
    else if (reason === 'deleted') context.counters.deleted++;
    if (reason && reason !== 'acked' && context.events.listening('removed')) {
      context.events.emit('removed', { id: message.id, reason });
    }
  }
}

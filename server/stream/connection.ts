import type { YogaLogger } from 'graphql-yoga';
import { formatStreamEvent, type StreamEndReason, type StreamEvent } from '../../protocol/index.js';
import { logId } from '../ids.js';
import { SIGNALS_RESUMED, type Store } from '../store/types.js';
import { parseSignal } from './signals.js';

/** Where a connection writes: the response body of one `GET …/push/stream`. */
export interface StreamOutput {
  /** Queues text for the client; false once the output is closed. */
  write(text: string): boolean;
  /** Bytes queued but not yet taken by the client (a slow or stalled reader). */
  buffered(): number;
  /** Ends the response. */
  close(): void;
}

/** Options of {@link createStreamConnection}. */
export interface StreamConnectionOptions {
  tabId: string;
  /** Last seq the client has, per registration of the tab the stream serves. */
  positions: Map<string, number>;
  /** The group and base of each registration served: group appends are told in group seqs. */
  members: Map<string, { groupId: string; base: number }>;
  /** Starts listening to a group's appends (idempotent per group). */
  watch(groupId: string): void;
  store: Store;
  output: StreamOutput;
  /** Messages read from the log per request. */
  pageSize: number;
  /** Past this many queued bytes the client is too slow: the stream ends (`reconnect`). */
  maxBufferedBytes: number;
  /** Told to the client in `ready`: how often heartbeats come. */
  heartbeatMs: number;
  /** Called once when the connection ended, whoever ended it. */
  onEnd(): void;
  logger: YogaLogger;
}

/** One open stream: the registrations it serves and how far each got. */
export interface StreamConnection {
  readonly tabId: string;
  readonly closed: boolean;
  /** Writes `ready` and every retained message after the client's positions. */
  start(): Promise<void>;
  /** Reacts to one of the tab's signals (see signals.ts). */
  onSignal(text: string): void;
  /** Writes a comment, so proxies keep the connection and the client knows it is alive. */
  heartbeat(text: string): void;
  /** Writes `end` and closes (or only closes, without a reason: the client went away). */
  end(reason?: StreamEndReason): void;
}

/**
 * Creates the state of one stream.
 *
 * @param options - see {@link StreamConnectionOptions}
 * @returns the connection
 * @remarks The log is the truth: a signal only says "look again", so whatever reaches this
 * instance late or twice, or not at all (the next signal, or the client's own renewal, covers
 * it), the connection writes every retained message after its position exactly once and in seq
 * order: one read loop per registration at a time, advancing the position as it writes.
 */
export function createStreamConnection(options: StreamConnectionOptions): StreamConnection {
  const {
    tabId,
    positions,
    members,
    watch,
    store,
    output,
    pageSize,
    maxBufferedBytes,
    heartbeatMs,
    onEnd,
    logger,
  } = options;
  const pumping = new Set<string>();
  const again = new Set<string>();
  /** Registrations a signal named that this stream does not serve yet: checked once each. */
  const checking = new Set<string>();
  let closed = false;

  const write = (event: StreamEvent): void => {
    if (closed) return;
    if (!output.write(formatStreamEvent(event))) {
      finish();
      return;
    }
    if (output.buffered() > maxBufferedBytes) {
      logger.debug(`graphql-web-push: stream of tab ${logId(tabId)} reads too slowly; ended`);
      end('reconnect');
    }
  };

  const finish = (): void => {
    if (closed) return;
    closed = true;
    output.close();
    onEnd();
  };

  const end = (reason?: StreamEndReason): void => {
    if (closed) return;
    if (reason) output.write(formatStreamEvent({ kind: 'end', reason }));
    finish();
  };

  const drop = (registrationId: string): void => {
    members.delete(registrationId);
    if (!positions.delete(registrationId)) return;
    write({ kind: 'gone', registrationId });
    if (positions.size === 0) end('no-registrations');
  };

  /** Writes everything after the registration's position; one loop per registration. */
  const pump = async (registrationId: string): Promise<void> => {
    if (pumping.has(registrationId)) {
      again.add(registrationId);
      return;
    }
    pumping.add(registrationId);
    try {
      do {
        again.delete(registrationId);
        for (;;) {
          const after = positions.get(registrationId);
          if (after === undefined || closed) return;
          const envelopes = await store.getMessages(registrationId, after, pageSize);
          if (closed || positions.get(registrationId) !== after) return;
          for (const envelope of envelopes) {
            if (envelope.seq <= (positions.get(registrationId) ?? Infinity)) continue;
            positions.set(registrationId, envelope.seq);
            write({ kind: 'envelope', envelope });
          }
          if (envelopes.length < pageSize) break;
        }
      } while (again.has(registrationId) && !closed);
    } catch (error) {
      // The store is away: the client's renewal finds the gap, or the next signal retries.
      logger.warn('graphql-web-push: reading a log for a stream failed', error);
    } finally {
      pumping.delete(registrationId);
      again.delete(registrationId);
    }
  };

  /** A signal named a registration this stream does not serve: the tab's newest, perhaps. */
  const adopt = async (registrationId: string): Promise<void> => {
    if (checking.has(registrationId)) return;
    checking.add(registrationId);
    try {
      const record = await store.getRegistration(registrationId);
      if (closed || record?.tabId !== tabId || positions.has(registrationId)) return;
      // New since the stream opened: all of it is the client's to read.
      positions.set(registrationId, 0);
      members.set(registrationId, { groupId: record.groupId, base: record.base });
      watch(record.groupId);
      await pump(registrationId);
    } catch (error) {
      logger.warn('graphql-web-push: checking a registration for a stream failed', error);
    } finally {
      checking.delete(registrationId);
    }
  };

  return {
    tabId,
    get closed() {
      return closed;
    },
    async start() {
      write({ kind: 'ready', registrations: Object.fromEntries(positions), heartbeatMs });
      for (const { groupId } of members.values()) watch(groupId);
      await Promise.all([...positions.keys()].map(pump));
    },
    onSignal(text) {
      if (closed) return;
      if (text === SIGNALS_RESUMED) {
        for (const registrationId of positions.keys()) void pump(registrationId);
        return;
      }
      const signal = parseSignal(text);
      if (!signal) return;
      if (signal.kind === 'gone') return drop(signal.registrationId);
      if (signal.kind === 'group') {
        for (const [registrationId, member] of members) {
          if (member.groupId !== signal.groupId) continue;
          const at = positions.get(registrationId);
          if (at !== undefined && signal.seq - member.base > at) void pump(registrationId);
        }
        return;
      }
      if (signal.kind !== 'append') return;
      const position = positions.get(signal.registrationId);
      if (position === undefined) void adopt(signal.registrationId);
      else if (signal.seq > position) void pump(signal.registrationId);
    },
    heartbeat(text) {
      if (!closed && !output.write(text)) finish();
    },
    end,
  };
}

/**
 * Public types of the local push service.
 */
import type { TlsCertificate } from './certificate.js';
import type { On } from './events.js';
import type { Faults } from './faults.js';
import type { Urgency } from './registry.js';

/** Options of `startPushService`. */
export interface PushServiceOptions {
  /**
   * Port of the plain HTTP server (user agents' WebSockets, and application servers unless
   * `secure`); 0 picks a free one.
   * @defaultValue 0
   */
  port?: number;
  /**
   * Interface to listen on (both servers).
   * @defaultValue '127.0.0.1'
   */
  host?: string;
  /**
   * Serve the application-server side over TLS on its own port, with HTTP/2 and HTTP/1.1 (ALPN
   * `h2` and `http/1.1`): `true` with a self-signed certificate made at start for `localhost`,
   * `127.0.0.1` and `::1` (and `host`, if another), or your own `{ key, cert }` (PEM; it must
   * name `localhost`, or `host` when that is not a loopback address). Endpoints are then
   * `https://localhost:<securePort>/push/<channelID>`, clients trust {@link PushService.ca},
   * and the plain server keeps only the user agents' WebSockets.
   * @defaultValue false
   */
  secure?: boolean | TlsCertificate;
  /**
   * Port of the secure server; 0 picks a free one. Only with `secure`.
   * @defaultValue 0
   */
  securePort?: number;
  /** Faults to inject from the start; change them later with `setFaults`. */
  faults?: Faults;
  /**
   * Largest body accepted, in bytes (RFC 8030 section 7.2: at least 4096).
   * @defaultValue 4096
   */
  maxMessageBytes?: number;
  /**
   * Largest `TTL` kept, in seconds; a larger one is lowered and the answer's `TTL` header says so.
   * @defaultValue 2592000 (30 days)
   */
  maxTtlSeconds?: number;
  /**
   * Most messages kept pending (stored, not yet acknowledged) for one user agent, over all its
   * subscriptions. The message that goes past it is answered 201, and then the user agent is
   * dropped, as Mozilla's autopush does: every subscription of it answers 410 and its next hello
   * gets a new uaid. A positive integer, or `Infinity` for no limit.
   * @defaultValue 150
   */
  maxPendingPerUserAgent?: number;
}

/** One `ack` update or `nack` from a user agent, in arrival order. */
export interface AckRecord {
  /** The channel, or `''` for a nack of a message no longer stored. */
  channelID: string;
  /** The message id (`version` of the notification). */
  version: string;
  /** 100 delivered, 101 decryption failed, 102 not delivered; 301–303 for a nack. */
  code: number;
  kind: 'ack' | 'nack';
  uaid: string;
}

/** Counters since the service started. */
export interface PushServiceStats {
  /** Messages answered 201 (including dropped ones). */
  accepted: number;
  /** Refused requests by HTTP status. */
  rejected: Record<number, number>;
  /** Notification frames sent to user agents (duplicates and redeliveries included). */
  delivered: number;
  /** Extra copies stored by the `duplicate` fault. */
  duplicated: number;
  /** Messages answered 201 but thrown away by the `drop` fault. */
  dropped: number;
  /** Messages whose TTL passed before an ack (TTL 0 with the user agent offline included). */
  expired: number;
  /** Messages replaced by a newer one with the same `Topic`. */
  replaced: number;
  /** Messages removed by `DELETE /m/<id>`. */
  deleted: number;
  /** Ack updates by code. */
  acked: Record<number, number>;
  /** Nacks by code. */
  nacked: Record<number, number>;
  /** Messages stored now, waiting for an ack. */
  pending: number;
  /** Sockets closed by the `disconnectEvery` fault. */
  disconnects: number;
  /** User agents connected now. */
  connections: number;
  /** Hellos answered. */
  hellos: number;
  /** User agents dropped for going past `maxPendingPerUserAgent`. */
  userAgentsDropped: number;
}

/** A message answered 201. */
export interface MessageEvent {
  id: string;
  channelID: string;
  uaid: string;
  /** Body bytes. */
  bytes: number;
  ttl: number;
  urgency: Urgency;
  topic: string | null;
  /** True when the `drop` fault threw it away. */
  dropped: boolean;
  /** Set on the extra copy made by the `duplicate` fault: the id it copies. */
  duplicateOf: string | null;
}

/** Events of the push service, for tests that wait on it. */
export interface PushServiceEvents {
  /** A message was accepted (201), or an extra copy made. */
  message: MessageEvent;
  /** A notification frame was sent. */
  notification: { uaid: string; channelID: string; version: string };
  /** An ack update or nack arrived. */
  ack: AckRecord;
  /** A user agent said hello; `known` is false when a new uaid was assigned. */
  hello: { uaid: string; known: boolean };
  /** A user agent's socket closed (`uaid` is null before hello). */
  disconnect: { uaid: string | null; code: number };
  register: { uaid: string; channelID: string; status: number };
  unregister: { uaid: string; channelID: string; code: number };
  /** A message left the store without an ack. */
  removed: {
    id: string;
    reason: 'replaced' | 'expired' | 'deleted' | 'unsubscribed' | 'user-agent-dropped';
  };
  /**
   * A user agent went past `maxPendingPerUserAgent` and was dropped with every subscription of it;
   * `pending` is how many messages it had, the one that went past included.
   */
  userAgentDropped: { uaid: string; pending: number; channelIDs: string[] };
}

/** A running push service. */
export interface PushService {
  /**
   * The origin of every push endpoint and message location, and the only VAPID `aud` accepted:
   * `http://HOST:PORT`, or `https://localhost:SECURE_PORT` with `secure`.
   */
  url: string;
  /**
   * `ws://HOST:PORT/`: where user agents connect (secure mode too), the value for Firefox's
   * `dom.push.serverURL`.
   */
  wsUrl: string;
  /** Same as `url`. */
  origin: string;
  /** Port of the plain HTTP server, the one of `wsUrl`. */
  port: number;
  /** Port of the secure server, the one of `url`; `null` unless `secure`. */
  securePort: number | null;
  /**
   * The certificate (PEM) of the secure server, for clients to trust as `ca`; `null` unless
   * `secure`.
   */
  ca: string | null;
  /** Replaces the faults in force (and restarts the random sequence from `faults.seed`). */
  setFaults(faults: Faults): void;
  /** Counters now; removes expired messages first so that `pending` and `expired` are current. */
  stats(): PushServiceStats;
  /** Every ack update and nack, in arrival order (kept for the life of the service). */
  acks: AckRecord[];
  /** Subscribes to an event; returns the unsubscribe function. */
  on: On<PushServiceEvents>;
  /** Closes every socket and the server. */
  close(): Promise<void>;
}

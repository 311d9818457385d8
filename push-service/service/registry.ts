/**
 * What the push service remembers: user agents (by uaid), their channels (one per push
 * subscription) and the messages stored for them until acknowledged or expired. In memory only.
 */
import { randomFillSync, randomUUID } from 'node:crypto';
import { equalBytes } from '../wire/keys.js';

/** Values of the `Urgency` header (RFC 8030 section 5.3). */
export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

/** Why a stored message left the store. */
export type RemovalReason =
  | 'acked'
  | 'replaced'
  | 'expired'
  | 'deleted'
  | 'unsubscribed'
  | 'user-agent-dropped';

/** A push message kept for a user agent. */
export interface StoredMessage {
  /** The message id: the `version` of its notification frame and the end of its `Location`. */
  id: string;
  channelID: string;
  uaid: string;
  /** The aes128gcm body as received (empty for a push without payload). */
  body: Uint8Array;
  ttl: number;
  urgency: Urgency;
  topic: string | null;
  /** Epoch milliseconds at and after which the message is expired. */
  expiresAt: number;
  /**
   * The connection this message was handed to for delivery. While it is the user agent's live
   * connection the message waits for an ack there and does not expire.
   */
  connection: Connection | null;
  /** Set once the message left the store; a held delivery checks it before sending. */
  removed: RemovalReason | null;
}

/** A user agent's live socket, as the store sees it. */
export interface Connection {
  /** Hands a stored message to the socket's outbox. */
  push(message: StoredMessage): void;
  /** Closes the socket with a WebSocket close code. */
  close(code: number, reason: string): void;
}

/** A push subscription. */
export interface Channel {
  id: string;
  uaid: string;
  /** The applicationServerKey (raw point) given on register, or `null`. */
  key: Uint8Array | null;
  /** True after unregister, or once its user agent was dropped: the endpoint answers 410. */
  gone: boolean;
}

/** A user agent, known by its uaid for the life of the service. */
export interface UserAgentRecord {
  uaid: string;
  channels: Set<string>;
  /** Stored messages in arrival order. */
  messages: Map<string, StoredMessage>;
  /** The live connection, if any. */
  connection: Connection | null;
}

/** Result of {@link Registry.register}. */
export type RegisterResult = { ok: true; channel: Channel } | { ok: false; status: 409 };

/** The push service's memory. */
export interface Registry {
  /** The user agent with `uaid`, or a new one with a fresh uaid when `uaid` is absent/unknown. */
  hello(uaid: string | undefined): { agent: UserAgentRecord; known: boolean };
  agent(uaid: string): UserAgentRecord | undefined;
  channel(channelID: string): Channel | undefined;
  /**
   * Adds a channel to a user agent. Registering the same channel again for the same user agent
   * is idempotent (retries after a reconnect); a channel of another agent, an unsubscribed one,
   * or the same channel with another key is a conflict.
   */
  register(agent: UserAgentRecord, channelID: string, key: Uint8Array | null): RegisterResult;
  /**
   * Marks a channel gone and drops its stored messages.
   * @returns the dropped messages
   */
  unregister(channelID: string): StoredMessage[];
  /**
   * Forgets a user agent: every channel of it is gone (410), its stored messages are removed and
   * its uaid is unknown from now on (its next hello gets a new one).
   * @returns its channels and removed messages, or `undefined` for an unknown uaid
   */
  drop(uaid: string): { channelIDs: string[]; messages: StoredMessage[] } | undefined;
  /**
   * Stores a message. With `replaceTopic`, first removes every stored message with the same
   * topic on the same channel (RFC 8030 section 5.4).
   * @returns the replaced messages
   */
  store(message: StoredMessage, replaceTopic: boolean): StoredMessage[];
  /** Removes a stored message; returns it, or `undefined` if it was not stored. */
  remove(id: string, reason: RemovalReason): StoredMessage | undefined;
  /**
   * Removes expired messages of one user agent, except those handed to its live connection
   * (they wait for their ack there).
   * @returns the removed messages
   */
  expire(agent: UserAgentRecord, now: number): StoredMessage[];
  /** {@link Registry.expire} for every user agent. */
  expireAll(now: number): StoredMessage[];
  /** Number of stored messages. */
  size(): number;
  /** A new message id. */
  newMessageId(): string;
}

/**
 * Creates an empty registry.
 * @returns the registry
 */
export function createRegistry(): Registry {
  const agents = new Map<string, UserAgentRecord>();
  const channels = new Map<string, Channel>();
  const messages = new Map<string, StoredMessage>();

  const remove = (id: string, reason: RemovalReason) => {
    const message = messages.get(id);
    if (!message) return undefined;
    messages.delete(id);
    agents.get(message.uaid)?.messages.delete(id);
    message.removed = reason;
    return message;
  };

  // Message ids are unguessable (a `DELETE /m/<id>` needs one), drawn 16 bytes at a time from a
  // block of randomness filled once per 256 messages instead of a `randomBytes` call each.
  const idBytes = Buffer.allocUnsafe(4096);
  let idAt = idBytes.length;
  const newMessageId = (): string => {
    if (idAt === idBytes.length) {
      randomFillSync(idBytes);
      idAt = 0;
    }
    idAt += 16;
    return idBytes.toString('base64url', idAt - 16, idAt);
  };

  /**
   * No stored message of an agent expires before this time (a lower bound: removals leave it
   * alone), so that the check on every push request skips the scan of an agent's backlog until
   * something may have expired.
   */
  const nextExpiry = new WeakMap<UserAgentRecord, number>();

  const expire = (agent: UserAgentRecord, now: number) => {
    const expired: StoredMessage[] = [];
    if (now < (nextExpiry.get(agent) ?? Number.POSITIVE_INFINITY)) return expired;
    let next = Number.POSITIVE_INFINITY;
    for (const message of agent.messages.values()) {
      const awaitingAck = message.connection !== null && message.connection === agent.connection;
      if (!awaitingAck && now >= message.expiresAt) {
        remove(message.id, 'expired');
        expired.push(message);
      } else if (message.expiresAt < next) {
        next = message.expiresAt;
      }
    }
    nextExpiry.set(agent, next);
    return expired;
  };

  return {
    hello(uaid) {
      const existing = uaid === undefined ? undefined : agents.get(uaid);
      if (existing) return { agent: existing, known: true };
      // Same shape as Mozilla's: 32 hex digits, well under the 128-character limit.
      const agent: UserAgentRecord = {
        uaid: randomUUID().replaceAll('-', ''),
        channels: new Set(),
        messages: new Map(),
        connection: null,
      };
      agents.set(agent.uaid, agent);
      return { agent, known: false };
    },
    agent: (uaid) => agents.get(uaid),
    channel: (channelID) => channels.get(channelID),
    register(agent, channelID, key) {
      const existing = channels.get(channelID);
      if (existing) {
        const sameKey =
          existing.key === null || key === null
            ? existing.key === key
            : equalBytes(existing.key, key);
        if (existing.uaid === agent.uaid && !existing.gone && sameKey) {
          return { ok: true, channel: existing };
        }
        return { ok: false, status: 409 };
      }
      const channel: Channel = { id: channelID, uaid: agent.uaid, key, gone: false };
      channels.set(channelID, channel);
      agent.channels.add(channelID);
      return { ok: true, channel };
    },
    unregister(channelID) {
      const channel = channels.get(channelID);
      if (!channel || channel.gone) return [];
      channel.gone = true;
      const agent = agents.get(channel.uaid);
      if (!agent) return [];
      agent.channels.delete(channelID);
      const dropped: StoredMessage[] = [];
      for (const message of agent.messages.values()) {
        if (message.channelID === channelID) {
          remove(message.id, 'unsubscribed');
          dropped.push(message);
        }
      }
      return dropped;
    },
    drop(uaid) {
      const agent = agents.get(uaid);
      if (!agent) return undefined;
      const channelIDs = [...agent.channels];
      for (const channelID of channelIDs) {
        const channel = channels.get(channelID);
        if (channel) channel.gone = true;
      }
      agent.channels.clear();
      const removed = [...agent.messages.keys()].flatMap(
        (id) => remove(id, 'user-agent-dropped') ?? [],
      );
      agents.delete(uaid);
      return { channelIDs, messages: removed };
    },
    store(message, replaceTopic) {
      const agent = agents.get(message.uaid);
      if (!agent) throw new Error(`unknown uaid ${message.uaid}`);
      const replaced: StoredMessage[] = [];
      if (replaceTopic && message.topic !== null) {
        for (const old of agent.messages.values()) {
          if (old.channelID === message.channelID && old.topic === message.topic) {
            remove(old.id, 'replaced');
            replaced.push(old);
          }
        }
      }
      messages.set(message.id, message);
      agent.messages.set(message.id, message);
      if (message.expiresAt < (nextExpiry.get(agent) ?? Number.POSITIVE_INFINITY)) {
        nextExpiry.set(agent, message.expiresAt);
      }
      return replaced;
    },
    remove,
    expire,
    expireAll: (now) => [...agents.values()].flatMap((agent) => expire(agent, now)),
    size: () => messages.size,
    newMessageId,
  };
}

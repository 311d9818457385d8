/**
 * Frames of Mozilla's push WebSocket protocol (subprotocol `push-notification`), as Firefox
 * speaks it. JSON text frames; `{}` is a ping in both directions.
 */

/** The WebSocket subprotocol of the push protocol. */
export const PUSH_SUBPROTOCOL = 'push-notification';

/** Longest uaid the protocol allows. */
export const MAX_UAID_LENGTH = 128;

/** `hello` from a user agent; `uaid` once it has subscriptions. */
export interface HelloFrame {
  messageType: 'hello';
  uaid?: string;
  broadcasts?: Record<string, unknown>;
  use_webpush?: boolean;
}

/** `register`: a new push subscription; `key` is the applicationServerKey, base64url. */
export interface RegisterFrame {
  messageType: 'register';
  channelID: string;
  key?: string;
}

/** `unregister`: 200 by the user, 201 quota exceeded, 202 permission revoked. */
export interface UnregisterFrame {
  messageType: 'unregister';
  channelID: string;
  code?: number;
}

/** One acknowledgement: 100 delivered, 101 decryption failed, 102 not delivered. */
export interface AckUpdate {
  channelID: string;
  version: string;
  code: number;
}

/** `ack` of one or more notifications. */
export interface AckFrame {
  messageType: 'ack';
  updates: AckUpdate[];
}

/** `nack`: the service worker failed on a message (301–303). */
export interface NackFrame {
  messageType: 'nack';
  version: string;
  code: number;
}

/** `{}`. */
export interface PingFrame {
  messageType: 'ping';
}

/** `broadcast_subscribe`: Firefox's broadcast channels; accepted and ignored. */
export interface BroadcastSubscribeFrame {
  messageType: 'broadcast_subscribe';
}

/** Every frame a user agent may send. */
export type ClientFrame =
  | HelloFrame
  | RegisterFrame
  | UnregisterFrame
  | AckFrame
  | NackFrame
  | PingFrame
  | BroadcastSubscribeFrame;

/** `hello` answer. */
export interface HelloReply {
  messageType: 'hello';
  uaid: string;
  status: number;
  use_webpush: true;
  broadcasts: Record<string, unknown>;
}

/** `register` answer; `pushEndpoint` only with status 200. */
export interface RegisterReply {
  messageType: 'register';
  channelID: string;
  status: number;
  pushEndpoint?: string;
}

/** `unregister` answer. */
export interface UnregisterReply {
  messageType: 'unregister';
  channelID: string;
  status: number;
}

/** A push message; `data` and `headers` are absent for a push without payload. */
export interface NotificationFrame {
  messageType: 'notification';
  channelID: string;
  version: string;
  data?: string;
  headers?: { encoding: string };
}

/** Every frame the push service may send (the ping answer is `{}`). */
export type ServerFrame =
  | HelloReply
  | RegisterReply
  | UnregisterReply
  | NotificationFrame
  | Record<string, never>;

/** A frame from the push service as {@link parseServerFrame} reads it (`{}` becomes a ping). */
export type ParsedServerFrame =
  | HelloReply
  | RegisterReply
  | UnregisterReply
  | NotificationFrame
  | PingFrame;

const isString = (value: unknown, max = 256): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max;

const isCode = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value);

/** A JSON object, or `null` for anything else (arrays, primitives, bad JSON). */
const parseObject = (text: string): Record<string, unknown> | null => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
};

/**
 * Parses and validates one text frame from a user agent.
 * @param text - the frame as received
 * @returns the frame, or `null` when it is not JSON, not a known message, or malformed
 */
export function parseClientFrame(text: string): ClientFrame | null {
  const frame = parseObject(text);
  if (frame === null) return null;
  if (Object.keys(frame).length === 0) return { messageType: 'ping' };
  switch (frame.messageType) {
    case 'hello': {
      const { uaid } = frame;
      if (uaid === undefined || uaid === null || uaid === '') return { messageType: 'hello' };
      return isString(uaid, MAX_UAID_LENGTH) ? { messageType: 'hello', uaid } : null;
    }
    case 'register': {
      const { channelID, key } = frame;
      if (!isString(channelID)) return null;
      if (key === undefined || key === null) return { messageType: 'register', channelID };
      return isString(key, 1024) ? { messageType: 'register', channelID, key } : null;
    }
    case 'unregister': {
      const { channelID, code } = frame;
      if (!isString(channelID)) return null;
      if (code !== undefined && !isCode(code)) return null;
      return code === undefined
        ? { messageType: 'unregister', channelID }
        : { messageType: 'unregister', channelID, code };
    }
    case 'ack': {
      if (!Array.isArray(frame.updates)) return null;
      const updates: AckUpdate[] = [];
      for (const item of frame.updates as unknown[]) {
        if (typeof item !== 'object' || item === null) return null;
        const { channelID, version, code } = item as Record<string, unknown>;
        if (!isString(channelID) || !isString(version)) return null;
        if (code !== undefined && !isCode(code)) return null;
        // Older clients leave out the code; it then means delivered.
        updates.push({ channelID, version, code: code ?? 100 });
      }
      return { messageType: 'ack', updates };
    }
    case 'nack': {
      const { version, code } = frame;
      if (!isString(version)) return null;
      return { messageType: 'nack', version, code: isCode(code) ? code : 0 };
    }
    case 'ping':
      return { messageType: 'ping' };
    case 'broadcast_subscribe':
      return { messageType: 'broadcast_subscribe' };
    default:
      return null;
  }
}

/**
 * Parses and validates one text frame from the push service: what the Node user agent reads.
 * @param text - the frame as received
 * @returns the frame, or `null` when it is not JSON, not a frame a user agent handles, or
 * malformed; unknown fields are dropped
 */
export function parseServerFrame(text: string): ParsedServerFrame | null {
  const frame = parseObject(text);
  if (frame === null) return null;
  if (Object.keys(frame).length === 0) return { messageType: 'ping' };
  switch (frame.messageType) {
    case 'hello': {
      const { uaid, status, broadcasts } = frame;
      if (!isString(uaid, MAX_UAID_LENGTH) || !isCode(status)) return null;
      const known =
        typeof broadcasts === 'object' && broadcasts !== null && !Array.isArray(broadcasts);
      return {
        messageType: 'hello',
        uaid,
        status,
        use_webpush: true,
        broadcasts: known ? (broadcasts as Record<string, unknown>) : {},
      };
    }
    case 'register': {
      const { channelID, status, pushEndpoint } = frame;
      if (!isString(channelID) || !isCode(status)) return null;
      if (pushEndpoint === undefined) return { messageType: 'register', channelID, status };
      return isString(pushEndpoint, 2048)
        ? { messageType: 'register', channelID, status, pushEndpoint }
        : null;
    }
    case 'unregister': {
      const { channelID, status } = frame;
      if (!isString(channelID) || !isCode(status)) return null;
      return { messageType: 'unregister', channelID, status };
    }
    case 'notification': {
      const { channelID, version, data, headers } = frame;
      // Versions of other push services are longer than ours; 1024 leaves room.
      if (!isString(channelID) || !isString(version, 1024)) return null;
      const notification: NotificationFrame = { messageType: 'notification', channelID, version };
      if (data === undefined) return notification;
      if (typeof data !== 'string') return null;
      // Kept without a usable encoding, so that the user agent can answer "decryption failed".
      const encoding = (headers as { encoding?: unknown } | null | undefined)?.encoding;
      return typeof encoding === 'string'
        ? { ...notification, data, headers: { encoding } }
        : { ...notification, data };
    }
    default:
      return null;
  }
}

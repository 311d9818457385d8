/**
 * The user agent's end of Mozilla's push WebSocket protocol: connects, says hello (with its
 * uaid once it has one), reconnects with backoff when the socket drops, and matches register and
 * unregister requests to their replies, sending them again after a reconnect.
 */
import type WebSocket from 'ws';
import { backoffDelay } from '../../protocol/backoff.js';
import {
  type NotificationFrame,
  PUSH_SUBPROTOCOL,
  parseServerFrame,
  type RegisterFrame,
  type RegisterReply,
  type UnregisterFrame,
  type UnregisterReply,
} from '../wire/frames.js';
import { loadWs } from '../wire/ws.js';

/** Why a request of the user agent failed. */
export const UserAgentErrorCode = {
  /** No reply within `requestTimeoutMs`. */
  Timeout: 'TIMEOUT',
  /** The user agent was closed. */
  Closed: 'CLOSED',
  /** The push service answered with a non-200 status. */
  Refused: 'REFUSED',
  /** `subscribe` with a key other than the current subscription's (as `pushManager` does). */
  InvalidState: 'INVALID_STATE',
} as const;

export type UserAgentErrorCode = (typeof UserAgentErrorCode)[keyof typeof UserAgentErrorCode];

/** An error of the Node user agent; `code` says which. */
export interface UserAgentError extends Error {
  name: 'UserAgentError';
  code: UserAgentErrorCode;
}

/**
 * Creates a {@link UserAgentError}.
 * @param code - what failed
 * @param message - for people
 * @returns the error
 */
export function userAgentError(code: UserAgentErrorCode, message: string): UserAgentError {
  return Object.assign(new Error(message), { name: 'UserAgentError' as const, code });
}

/** Options of {@link createPushSocket}. */
export interface PushSocketOptions {
  /** `ws://HOST:PORT/` of the push service. */
  url: string;
  /** uaid to say hello with. */
  uaid: string | undefined;
  /**
   * Ceilings of the first and of every wait before reconnecting; the ceiling doubles in between
   * and each wait is drawn below it, so that the user agents a restart of the service cut off
   * do not all come back at once.
   */
  reconnectDelayMs: [number, number];
  requestTimeoutMs: number;
  /** After every hello; `previous` is the uaid before it (different when the service forgot us). */
  onHello(uaid: string, previous: string | undefined): void;
  onNotification(frame: NotificationFrame): void;
}

/** A reconnecting push-protocol socket. */
export interface PushSocket {
  readonly uaid: string | undefined;
  /** Hellos completed so far. */
  readonly connections: number;
  /** Sends a request and waits for the reply with the same `messageType` and `channelID`. */
  request(frame: RegisterFrame): Promise<RegisterReply>;
  request(frame: UnregisterFrame): Promise<UnregisterReply>;
  /** Sends a frame now if connected; otherwise drops it (acks are redone by redelivery). */
  send(frame: object): void;
  /** Connects (again) and resolves after the hello answer. */
  connect(): Promise<void>;
  /** Closes the socket and stays offline until {@link PushSocket.connect}. */
  disconnect(): Promise<void>;
  /** Stops for good; pending requests fail with `CLOSED`. */
  close(): Promise<void>;
}

interface PendingRequest {
  frame: RegisterFrame | UnregisterFrame;
  resolve(reply: RegisterReply | UnregisterReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Creates the socket and starts connecting.
 * @param options - where to connect and what to do with hellos and notifications
 * @returns the socket
 * @throws an Error naming the package to install when `ws` is missing
 */
export function createPushSocket(options: PushSocketOptions): PushSocket {
  const { WebSocket } = loadWs();
  const { url, reconnectDelayMs, requestTimeoutMs, onHello, onNotification } = options;
  let uaid = options.uaid;
  let socket: WebSocket | null = null;
  let ready = false;
  let online = true;
  let closed = false;
  let attempt = 0;
  let connections = 0;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let helloWaiters: { resolve(): void; reject(error: Error): void }[] = [];
  const pending = new Map<string, PendingRequest>();

  const keyOf = (frame: { messageType: string; channelID: string }) =>
    `${frame.messageType}:${frame.channelID}`;

  const sendNow = (frame: object) => {
    if (socket && ready && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  };

  const onFrame = (current: WebSocket, text: string) => {
    const frame = parseServerFrame(text);
    if (frame === null) {
      // A service that does not answer hello properly is not one to wait on; later junk is
      // ignored (what it concerns is asked again or redelivered).
      if (!ready) current.close();
      return;
    }
    if (frame.messageType === 'hello') {
      if (frame.status !== 200) {
        current.close();
        return;
      }
      const previous = uaid;
      uaid = frame.uaid;
      ready = true;
      attempt = 0;
      connections++;
      onHello(uaid, previous);
      // Replies lost with the previous socket: ask again (both requests are idempotent).
      for (const request of pending.values()) sendNow(request.frame);
      const waiters = helloWaiters;
      helloWaiters = [];
      for (const waiter of waiters) waiter.resolve();
      return;
    }
    if (frame.messageType === 'notification') {
      onNotification(frame);
      return;
    }
    if (frame.messageType === 'register' || frame.messageType === 'unregister') {
      const key = keyOf(frame);
      const request = pending.get(key);
      if (!request) return;
      pending.delete(key);
      clearTimeout(request.timer);
      request.resolve(frame);
    }
  };

  const open = () => {
    reconnectTimer = null;
    if (closed || !online || socket) return;
    const current = new WebSocket(url, PUSH_SUBPROTOCOL);
    socket = current;
    ready = false;
    current.on('open', () => {
      const hello: Record<string, unknown> = {
        messageType: 'hello',
        broadcasts: {},
        use_webpush: true,
      };
      if (uaid !== undefined) hello.uaid = uaid;
      current.send(JSON.stringify(hello));
    });
    current.on('message', (data, isBinary) => {
      if (!isBinary) onFrame(current, data.toString());
    });
    current.on('error', () => {
      // 'close' follows and schedules the reconnect.
    });
    current.on('close', () => {
      if (socket !== current) return;
      socket = null;
      ready = false;
      if (closed || !online) return;
      const [baseMs, maxMs] = reconnectDelayMs;
      reconnectTimer = setTimeout(open, backoffDelay(++attempt, { baseMs, maxMs }));
    });
  };

  const whenReady = () =>
    ready
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => helloWaiters.push({ resolve, reject }));

  function request(frame: RegisterFrame): Promise<RegisterReply>;
  function request(frame: UnregisterFrame): Promise<UnregisterReply>;
  function request(
    frame: RegisterFrame | UnregisterFrame,
  ): Promise<RegisterReply | UnregisterReply> {
    if (closed) return Promise.reject(userAgentError('CLOSED', 'user agent closed'));
    return new Promise((resolve, reject) => {
      const key = keyOf(frame);
      const timer = setTimeout(() => {
        pending.delete(key);
        reject(
          userAgentError('TIMEOUT', `no ${frame.messageType} reply in ${requestTimeoutMs} ms`),
        );
      }, requestTimeoutMs);
      pending.get(key)?.reject(userAgentError('CLOSED', 'superseded'));
      pending.set(key, { frame, resolve, reject, timer });
      sendNow(frame);
    });
  }

  const waitClosed = (current: WebSocket | null) =>
    new Promise<void>((resolve) => {
      if (!current || current.readyState === WebSocket.CLOSED) return resolve();
      current.once('close', () => resolve());
      current.close();
    });

  open();

  return {
    get uaid() {
      return uaid;
    },
    get connections() {
      return connections;
    },
    request,
    send: sendNow,
    connect() {
      if (closed) return Promise.reject(userAgentError('CLOSED', 'user agent closed'));
      online = true;
      if (!socket && !reconnectTimer) open();
      return whenReady();
    },
    disconnect() {
      online = false;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = null;
      const current = socket;
      socket = null;
      ready = false;
      return waitClosed(current);
    },
    close() {
      closed = true;
      online = false;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = null;
      for (const request of pending.values()) {
        clearTimeout(request.timer);
        request.reject(userAgentError('CLOSED', 'user agent closed'));
      }
      pending.clear();
      for (const waiter of helloWaiters)
        waiter.reject(userAgentError('CLOSED', 'user agent closed'));
      helloWaiters = [];
      const current = socket;
      socket = null;
      ready = false;
      return waitClosed(current);
    },
  };
}

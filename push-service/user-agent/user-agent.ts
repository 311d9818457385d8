/**
 * A Node user agent for the push service: what a browser's `pushManager` and service worker do,
 * over Mozilla's WebSocket protocol. It implements `PushTransport`, so the link can run in Node
 * tests against a real push service.
 */
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { decodeBase64Url, encodeBase64Url } from '../../protocol/base64url.js';
import type { PushSubscriptionData, PushTransport } from '../../protocol/index.js';
import type { NotificationFrame } from '../wire/frames.js';
import { BASE64URL_ONLY, isUncompressedPoint } from '../wire/keys.js';
import { decrypt, type PushKeys } from './decrypt.js';
import { createPushSocket, userAgentError } from './ua-socket.js';

/** Options of {@link createUserAgent}. */
export interface UserAgentOptions {
  /** The push service: its `wsUrl`, or its `url` (http is turned into ws on path `/`). */
  serviceUrl: string;
  /** uaid to say hello with (a user agent the service already knows). */
  uaid?: string;
  /**
   * Ceilings of the first and of every wait before reconnecting after the socket drops; the
   * ceiling doubles in between, and each wait is drawn below it.
   * @defaultValue [20, 1000]
   */
  reconnectDelayMs?: [number, number];
  /**
   * How long `subscribe`/`unsubscribe` wait for the push service's reply.
   * @defaultValue 5000
   */
  requestTimeoutMs?: number;
}

/** The Node user agent. */
export interface UserAgent extends PushTransport {
  /**
   * The push subscription for `applicationServerKey`, made on first call (like
   * `pushManager.subscribe`): every caller with the same key gets the same subscription.
   * @throws `UserAgentError` `INVALID_STATE` for another key while subscribed, `REFUSED` when
   * the service refuses, `TIMEOUT`, `CLOSED`
   */
  subscribe(applicationServerKey: string): Promise<PushSubscriptionData>;
  /** The current subscription, or `null`. */
  getSubscription(): PushSubscriptionData | null;
  /** Unregisters the subscription; its endpoint then answers 410. */
  unsubscribe(): Promise<void>;
  /**
   * Replaces the subscription with a new one for the same key and calls the
   * subscription-change listeners (what a browser's `pushsubscriptionchange` tells).
   */
  resubscribe(): Promise<PushSubscriptionData>;
  /** Calls `listener` with every decrypted message; returns the function that stops it. */
  onMessage(listener: (data: Uint8Array) => void): () => void;
  onSubscriptionChange(listener: () => void): () => void;
  /** Goes online (again); resolves after the hello answer. Stored messages then arrive. */
  connect(): Promise<void>;
  /** Goes offline: the service stores messages until {@link UserAgent.connect}. */
  disconnect(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
  readonly uaid: string | undefined;
  /** Messages decrypted and handed to listeners. */
  readonly received: number;
  /** Messages acked with 101. */
  readonly decryptFailures: number;
  /** Hellos completed (1 + reconnects). */
  readonly connections: number;
}

interface Subscription {
  channelID: string;
  /** The applicationServerKey, normalised to unpadded base64url. */
  key: string;
  keys: PushKeys;
  data: PushSubscriptionData;
}

const toWebSocketUrl = (serviceUrl: string) => {
  const url = new URL(serviceUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  url.pathname = '/';
  return url.toString();
};

/** Ack codes of the push protocol. */
const ACK = { delivered: 100, decryptFailed: 101, notDelivered: 102 } as const;

/**
 * Creates a Node user agent and starts connecting to the push service.
 * @param options - the service URL and reconnect/timeout settings
 * @returns the user agent
 * @remarks Like a browser, it holds one push subscription at a time, acknowledges every message
 * (100 after the listeners ran, 101 when decryption failed) and does not filter duplicates.
 */
export function createUserAgent(options: UserAgentOptions): UserAgent {
  const { serviceUrl, uaid, reconnectDelayMs = [20, 1000], requestTimeoutMs = 5000 } = options;
  const messageListeners = new Set<(data: Uint8Array) => void>();
  const changeListeners = new Set<() => void>();
  let subscription: Subscription | null = null;
  let subscribing: { key: string; promise: Promise<PushSubscriptionData> } | null = null;
  let received = 0;
  let decryptFailures = 0;

  const notifyChange = () => {
    for (const listener of [...changeListeners]) listener();
  };

  const ack = (frame: NotificationFrame, code: number) => {
    socket.send({
      messageType: 'ack',
      updates: [{ channelID: frame.channelID, version: frame.version, code }],
    });
  };

  const onNotification = (frame: NotificationFrame) => {
    const current = subscription;
    if (!current || current.channelID !== frame.channelID) {
      ack(frame, ACK.notDelivered);
      return;
    }
    let plaintext: Uint8Array;
    if (frame.data === undefined) {
      plaintext = new Uint8Array();
    } else {
      const body = decodeBase64Url(frame.data, BASE64URL_ONLY);
      try {
        if (!body || frame.headers?.encoding !== 'aes128gcm') throw new Error('not aes128gcm');
        plaintext = decrypt(body, current.keys);
      } catch {
        decryptFailures++;
        ack(frame, ACK.decryptFailed);
        return;
      }
    }
    received++;
    for (const listener of [...messageListeners]) {
      try {
        listener(plaintext.slice());
      } catch (error) {
        // Like a service worker's failing handler: the others still run, the error surfaces.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    ack(frame, ACK.delivered);
  };

  const onHello = (next: string, previous: string | undefined) => {
    // A new uaid means the service forgot us and our subscription with it (Firefox does the same).
    if (previous !== undefined && next !== previous && subscription) {
      subscription = null;
      notifyChange();
    }
  };

  const socket = createPushSocket({
    url: toWebSocketUrl(serviceUrl),
    uaid,
    reconnectDelayMs,
    requestTimeoutMs,
    onHello,
    onNotification,
  });

  const register = async (key: string): Promise<PushSubscriptionData> => {
    const channelID = randomUUID();
    const reply = await socket.request({ messageType: 'register', channelID, key });
    if (reply.status !== 200 || !reply.pushEndpoint) {
      throw userAgentError('REFUSED', `register answered ${reply.status}`);
    }
    const ecdh = createECDH('prime256v1');
    const publicKey = new Uint8Array(ecdh.generateKeys());
    const keys: PushKeys = {
      privateKey: new Uint8Array(ecdh.getPrivateKey()),
      publicKey,
      auth: new Uint8Array(randomBytes(16)),
    };
    const data: PushSubscriptionData = {
      endpoint: reply.pushEndpoint,
      expirationTime: null,
      keys: { p256dh: encodeBase64Url(keys.publicKey), auth: encodeBase64Url(keys.auth) },
    };
    subscription = { channelID, key, keys, data };
    return data;
  };

  const subscribe = (applicationServerKey: string) => {
    const bytes = decodeBase64Url(applicationServerKey, BASE64URL_ONLY);
    if (!isUncompressedPoint(bytes)) {
      return Promise.reject(
        userAgentError('REFUSED', 'applicationServerKey is not a P-256 public key'),
      );
    }
    const key = encodeBase64Url(bytes);
    if (subscription) {
      return subscription.key === key
        ? Promise.resolve(subscription.data)
        : Promise.reject(userAgentError('INVALID_STATE', 'subscribed with another key'));
    }
    if (subscribing) {
      return subscribing.key === key
        ? subscribing.promise
        : Promise.reject(userAgentError('INVALID_STATE', 'subscribing with another key'));
    }
    const promise = register(key).finally(() => {
      subscribing = null;
    });
    subscribing = { key, promise };
    return promise;
  };

  const unsubscribe = async () => {
    const current = subscription;
    if (!current) return;
    subscription = null;
    await socket.request({ messageType: 'unregister', channelID: current.channelID, code: 200 });
  };

  return {
    subscribe,
    getSubscription: () => subscription?.data ?? null,
    unsubscribe,
    async resubscribe() {
      const key = subscription?.key ?? subscribing?.key;
      if (key === undefined) throw userAgentError('INVALID_STATE', 'not subscribed');
      await subscribing?.promise;
      await unsubscribe();
      const data = await subscribe(key);
      notifyChange();
      return data;
    },
    onMessage(listener) {
      messageListeners.add(listener);
      return () => {
        messageListeners.delete(listener);
      };
    },
    onSubscriptionChange(listener) {
      changeListeners.add(listener);
      return () => {
        changeListeners.delete(listener);
      };
    },
    connect: () => socket.connect(),
    disconnect: () => socket.disconnect(),
    close: () => socket.close(),
    get uaid() {
      return socket.uaid;
    },
    get received() {
      return received;
    },
    get decryptFailures() {
      return decryptFailures;
    },
    get connections() {
      return socket.connections;
    },
  };
}

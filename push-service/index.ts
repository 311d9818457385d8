/**
 * A local RFC 8030 push service for development and tests, and a Node user agent for it.
 *
 * - `startPushService(options)`: application servers POST encrypted messages with VAPID
 *   (RFC 8292); browsers (Firefox via `dom.push.serverURL`) and the Node user agent receive them
 *   over Mozilla's push WebSocket protocol. Faults (drop, duplicate, reorder, delay, 429/5xx,
 *   disconnects) can be injected with a seeded random source.
 * - `createUserAgent(options)`: subscribes, decrypts (RFC 8291) and acknowledges like a browser,
 *   and implements `PushTransport` for the link.
 * @packageDocumentation
 */
export { fromBase64url, toBase64url } from './base64url.js';
export {
  type DecryptError,
  DecryptErrorCode,
  decrypt,
  isDecryptError,
  type PushKeys,
} from './decrypt.js';
export { PushCloseCode, type PushErrorBody, PushErrorCode } from './errors.js';
export type { On } from './events.js';
export { type Faults, InvalidFaultsError } from './faults.js';
export { MAX_UAID_LENGTH, PUSH_SUBPROTOCOL } from './frames.js';
export type { Urgency } from './registry.js';
export { startPushService } from './service.js';
export type {
  AckRecord,
  MessageEvent,
  PushService,
  PushServiceEvents,
  PushServiceOptions,
  PushServiceStats,
} from './types.js';
export { type UserAgentError, UserAgentErrorCode } from './ua-socket.js';
export { createUserAgent, type UserAgent, type UserAgentOptions } from './user-agent.js';
export { MAX_VAPID_EXPIRY_SECONDS } from './vapid.js';

/**
 * A local RFC 8030 push service for development and tests, and a Node user agent for it.
 *
 * - `startPushService(options)`: application servers POST encrypted messages with VAPID
 *   (RFC 8292); browsers (Firefox via `dom.push.serverURL`) and the Node user agent receive them
 *   over Mozilla's push WebSocket protocol. Faults (drop, duplicate, reorder, delay, 429/5xx,
 *   disconnects) can be injected with a seeded random source.
 *   With `secure`, application servers reach it over HTTP/2 or HTTPS/1.1 with a self-signed
 *   certificate (`createSelfSignedCertificate`, usable on its own for any test server).
 * - `createUserAgent(options)`: subscribes, decrypts (RFC 8291) and acknowledges like a browser,
 *   and implements `PushTransport` for the link.
 *
 * The service is in `service/`, the user agent in `user-agent/`, the protocol both speak in
 * `wire/`; neither side imports the other. `ws`, an optional peer dependency, is loaded only when
 * a service starts or a user agent is created, so `decrypt` and the certificate helpers work
 * without it.
 * @packageDocumentation
 */

export {
  createSelfSignedCertificate,
  DEFAULT_CERTIFICATE_HOSTS,
  type SelfSignedCertificateOptions,
  type TlsCertificate,
} from './service/certificate.js';
export { PushCloseCode, type PushErrorBody, PushErrorCode } from './service/errors.js';
export type { On } from './service/events.js';
export { type Faults, InvalidFaultsError } from './service/faults.js';
export { DEFAULT_MAX_PENDING_PER_USER_AGENT } from './service/options.js';
export type { Urgency } from './service/registry.js';
export { startPushService } from './service/service.js';
export type {
  AckRecord,
  MessageEvent,
  PushService,
  PushServiceEvents,
  PushServiceOptions,
  PushServiceStats,
} from './service/types.js';
export { MAX_VAPID_EXPIRY_SECONDS } from './service/vapid.js';
export {
  type DecryptError,
  DecryptErrorCode,
  decrypt,
  isDecryptError,
  type PushKeys,
} from './user-agent/decrypt.js';
export { type UserAgentError, UserAgentErrorCode } from './user-agent/ua-socket.js';
export { createUserAgent, type UserAgent, type UserAgentOptions } from './user-agent/user-agent.js';
export { MAX_UAID_LENGTH, PUSH_SUBPROTOCOL } from './wire/frames.js';

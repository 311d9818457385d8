/**
 * The wire protocol of graphql-web-push, shared by every part (server, link, service worker,
 * push service): every message shape, its validator, and the constants both sides agree on.
 * PROTOCOL.md describes the same things in prose; keep both true.
 *
 * Nothing in here does I/O: types, constants, formatters and validators only, so that a browser
 * bundle that imports it stays small.
 * @packageDocumentation
 */

export {
  DEFAULT_PUSH_BUDGET_BYTES,
  type Envelope,
  type EnvelopeBatch,
  type EnvelopeType,
  envelopeId,
  isEnvelope,
  MAX_PUSH_PLAINTEXT_BYTES,
  PROTOCOL_VERSION,
  parseEnvelope,
  parsePushPayload,
} from './envelope.js';
export {
  createProtocolError,
  ERROR_STATUS,
  ErrorCode,
  type ErrorResponse,
  isProtocolError,
  type ProtocolError,
  RESYNC_CODE,
  type ResyncNotice,
  type ResyncReason,
} from './errors.js';
export { isServerId, isTabId, MAX_ID_LENGTH } from './ids.js';
export {
  type ConfigResponse,
  type DeleteSubscriptionRequest,
  type DeleteSubscriptionResponse,
  isConfigResponse,
  isDeleteSubscriptionResponse,
  isMessagesResponse,
  isMoveResponse,
  isPutSubscriptionResponse,
  isRegistrationAck,
  isRenewResponse,
  isUnregisterResponse,
  MAX_ENDPOINT_LENGTH,
  type MessagesQuery,
  type MessagesResponse,
  type MoveRequest,
  type MoveResponse,
  normaliseEndpoint,
  type PushSubscriptionData,
  type PutSubscriptionResponse,
  parseDeleteSubscriptionRequest,
  parseMessagesQuery,
  parseMoveRequest,
  parsePushSubscription,
  parseRegistrationExtension,
  parseRenewRequest,
  parseUnregisterRequest,
  type RegistrationAck,
  type RegistrationRequestExtension,
  type RenewItem,
  type RenewRequest,
  type RenewResponse,
  type UnregisterRequest,
  type UnregisterResponse,
} from './messages.js';
export {
  EXTENSION_KEY,
  MAX_UNREGISTER_GRACE_MS,
  REGISTRATION_HEADER,
  REGISTRATION_HEADER_VALUE,
  ROUTES,
} from './routes.js';
export {
  createStreamParser,
  decodeStreamEvent,
  encodePositions,
  formatStreamEvent,
  parsePosition,
  parseStreamQuery,
  type RawStreamEvent,
  STREAM_HEARTBEAT,
  STREAM_RETRY_MS,
  type StreamEndReason,
  type StreamEvent,
  type StreamParser,
  type StreamPositions,
  type StreamQuery,
} from './stream.js';
export type { PushPermission, PushTransport } from './transport.js';
export { MESSAGE_SOURCE, type WorkerToClientMessage } from './worker.js';

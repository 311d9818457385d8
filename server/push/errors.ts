/**
 * Named errors of the push sender. Each has a stable `code` to branch on; messages are for
 * people and never contain key material.
 * @packageDocumentation
 */

/** Codes of {@link PushRequestError}. */
export type PushRequestErrorCode = 'PUSH_TIMEOUT' | 'PUSH_NETWORK' | 'PUSH_CLOSED';

/**
 * Thrown by `encryptPushMessage` when the plaintext does not fit one push message
 * (more than `MAX_PUSH_PLAINTEXT_BYTES`).
 */
export class PushPayloadTooLargeError extends Error {
  override readonly name = 'PushPayloadTooLargeError';
  readonly code = 'PUSH_PAYLOAD_TOO_LARGE';
  /**
   * @param size - plaintext bytes given
   * @param limit - most plaintext bytes allowed
   */
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`push plaintext is ${size} bytes; one push message holds at most ${limit}`);
  }
}

/** Thrown when a push subscription's `p256dh` or `auth` key is malformed. */
export class InvalidSubscriptionKeysError extends Error {
  override readonly name = 'InvalidSubscriptionKeysError';
  readonly code = 'PUSH_INVALID_SUBSCRIPTION_KEYS';
}

/** Thrown for a malformed argument or option: endpoint, TTL, urgency, topic, limits, origins. */
export class InvalidPushArgumentError extends Error {
  override readonly name = 'InvalidPushArgumentError';
  readonly code = 'PUSH_INVALID_ARGUMENT';
}

/** Why one HTTP request to a push service produced no status: timeout, network error, closed. */
export class PushRequestError extends Error {
  override readonly name = 'PushRequestError';
  /**
   * @param code - what went wrong
   * @param message - details for people
   * @param options - the underlying error, if any
   */
  constructor(
    readonly code: PushRequestErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Rejects the batches of an encryption pool that is closed, and any batch given to it after.
 */
export class EncryptionPoolClosedError extends Error {
  override readonly name = 'EncryptionPoolClosedError';
  readonly code = 'PUSH_ENCRYPTION_CLOSED';
  constructor() {
    super('encryption pool is closed');
  }
}

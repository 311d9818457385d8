/**
 * The envelope: what every push message carries, every stream event carries and every log read
 * returns.
 */

/** Version of the push envelope format; the `v` field of every envelope. */
export const PROTOCOL_VERSION = 1;

/**
 * Most plaintext bytes one aes128gcm record can carry inside a 4096-byte push message
 * (RFC 8291 section 4: 4096 - 86 header bytes - 16 tag - 1 padding delimiter).
 */
export const MAX_PUSH_PLAINTEXT_BYTES = 3993;

/**
 * Default budget for one push message's plaintext. Smaller than the RFC maximum because some
 * push bridges (Firefox on Android) carry less; a larger result goes `type: "ref"`.
 */
export const DEFAULT_PUSH_BUDGET_BYTES = 3072;

/** What a message means for its registration. */
export type EnvelopeType = 'next' | 'error' | 'complete' | 'ref';

/**
 * One message of one registration. The plaintext of a push message (JSON inside RFC 8291
 * encryption), the data of a stream event, and the items `GET …/messages` returns.
 */
export interface Envelope {
  /** Protocol version, {@link PROTOCOL_VERSION}. */
  v: 1;
  /** Unique id of this message: `${reg}:${seq}`. */
  id: string;
  /** Tab id the registration belongs to. */
  tab: string;
  /** Registration id. */
  reg: string;
  /** Position in the registration's stream, contiguous from 1. */
  seq: number;
  /** `next` carries an ExecutionResult, `error` a list of GraphQL errors, `complete` nothing. */
  type: EnvelopeType;
  /**
   * `next`: `{ data?, errors?, extensions? }`; `error`: `{ errors }`; absent for `complete` and
   * for `ref` (too big for one push: fetch it from `.../messages`).
   */
  payload?: unknown;
}

/**
 * Several envelopes in one push message: the tabs of one browser share a push subscription, so
 * when an event reaches several of their registrations, one push carries all their envelopes.
 * The service worker and the Node user agent split it; each envelope is handled as if it came
 * alone.
 */
export interface EnvelopeBatch {
  /** Protocol version, {@link PROTOCOL_VERSION}. */
  v: 1;
  /** The envelopes, each complete (`ref` where the payload did not fit). */
  batch: Envelope[];
}

/** Builds the id of the message at `seq` of registration `reg`. */
export function envelopeId(reg: string, seq: number): string {
  return `${reg}:${seq}`;
}

const ENVELOPE_TYPES: ReadonlySet<string> = new Set(['next', 'error', 'complete', 'ref']);

const decodeJson = (input: unknown): unknown => {
  try {
    if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
      return JSON.parse(new TextDecoder().decode(input));
    }
    if (typeof input === 'string') return JSON.parse(input);
  } catch {
    return undefined;
  }
  return input;
};

/** True when `value` has the shape of an {@link Envelope}. */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    e.v === PROTOCOL_VERSION &&
    typeof e.id === 'string' &&
    typeof e.tab === 'string' &&
    typeof e.reg === 'string' &&
    typeof e.seq === 'number' &&
    Number.isSafeInteger(e.seq) &&
    e.seq >= 1 &&
    e.id === envelopeId(e.reg, e.seq) &&
    typeof e.type === 'string' &&
    ENVELOPE_TYPES.has(e.type)
  );
}

/**
 * Parses and validates an envelope from JSON text, UTF-8 bytes or an already parsed value.
 * @returns the envelope, or `null` when the input is not one of ours (another app's push).
 */
export function parseEnvelope(input: unknown): Envelope | null {
  const value = decodeJson(input);
  return isEnvelope(value) ? value : null;
}

/**
 * Parses a push message that carries one envelope or an {@link EnvelopeBatch}.
 * @param input - JSON text, UTF-8 bytes or a parsed value
 * @returns the envelopes in the message (valid ones only), or `null` when it is not ours
 */
export function parsePushPayload(input: unknown): Envelope[] | null {
  const value = decodeJson(input);
  if (isEnvelope(value)) return [value];
  if (typeof value !== 'object' || value === null) return null;
  const { v, batch } = value as Record<string, unknown>;
  if (v !== PROTOCOL_VERSION || !Array.isArray(batch)) return null;
  return batch.filter(isEnvelope);
}

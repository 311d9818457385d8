/**
 * What instances tell each other about a tab, through `Store.signal`: short text messages, so
 * that a tab's stream, wherever it is held, wakes up.
 */

/** A signal, parsed. */
export type StreamSignal =
  /** The registration's log has messages up to `seq`. */
  | { kind: 'append'; registrationId: string; seq: number }
  /** The registration is gone (expired, unregistered). */
  | { kind: 'gone'; registrationId: string };

/** The text of an append signal. */
export const appendSignal = (registrationId: string, seq: number): string =>
  `a ${registrationId} ${seq}`;

/** The text of a gone signal. */
export const goneSignal = (registrationId: string): string => `g ${registrationId}`;

/**
 * Reads a signal's text.
 * @param text - what a listener got
 * @returns the signal, or `null` for anything else (a resume notice, a newer format)
 */
export function parseSignal(text: string): StreamSignal | null {
  const [kind, registrationId, seq] = text.split(' ');
  if (!registrationId) return null;
  if (kind === 'g') return { kind: 'gone', registrationId };
  if (kind === 'a' && seq !== undefined && /^\d+$/.test(seq)) {
    return { kind: 'append', registrationId, seq: Number(seq) };
  }
  return null;
}

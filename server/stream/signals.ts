/**
 * What instances tell each other through `Store.signal`: short text messages on named channels,
 * so that streams and group owners wherever they run wake up.
 *
 * Channels: a tab's id (its stream: registrations added, moved or gone); `g:<groupId>` (a
 * group's log grew: every stream serving one of its members looks); `i:<instanceId>` (a group
 * that instance runs may have no member left). Ids never contain `:`, so the names cannot meet.
 */

/** A signal, parsed. */
export type StreamSignal =
  /** The registration's log has messages up to `seq`. */
  | { kind: 'append'; registrationId: string; seq: number }
  /** The registration is gone (expired, unregistered). */
  | { kind: 'gone'; registrationId: string }
  /** The group's log has messages up to group seq `seq`. */
  | { kind: 'group'; groupId: string; seq: number }
  /** A member left the group; it may have none left. */
  | { kind: 'left'; groupId: string };

/** The channel of a group's appends. */
export const groupChannel = (groupId: string): string => `g:${groupId}`;

/** The channel of one instance (groups it runs that may have emptied). */
export const instanceChannel = (instanceId: string): string => `i:${instanceId}`;

/** The text of an append signal. */
export const appendSignal = (registrationId: string, seq: number): string =>
  `a ${registrationId} ${seq}`;

/** The text of a gone signal. */
export const goneSignal = (registrationId: string): string => `g ${registrationId}`;

/** The text of a group append signal. */
export const groupSignal = (groupId: string, seq: number): string => `G ${groupId} ${seq}`;

/** The text of a member-left signal. */
export const leftSignal = (groupId: string): string => `L ${groupId}`;

const SEQ = /^\d+$/;

/**
 * Reads a signal's text.
 * @param text - what a listener got
 * @returns the signal, or `null` for anything else (a resume notice, a newer format)
 */
export function parseSignal(text: string): StreamSignal | null {
  const [kind, id, seq] = text.split(' ');
  if (!id) return null;
  if (kind === 'g') return { kind: 'gone', registrationId: id };
  if (kind === 'L') return { kind: 'left', groupId: id };
  if (seq === undefined || !SEQ.test(seq)) return null;
  if (kind === 'a') return { kind: 'append', registrationId: id, seq: Number(seq) };
  if (kind === 'G') return { kind: 'group', groupId: id, seq: Number(seq) };
  return null;
}

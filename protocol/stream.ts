/**
 * The resumable stream, `GET …/push/stream`: Server-Sent Events (`text/event-stream`), one
 * stream per tab carrying the envelopes of all its registrations. The server formats events
 * with {@link formatStreamEvent}; the link reads them with {@link createStreamParser} and
 * {@link decodeStreamEvent}.
 *
 * Events:
 * - `ready` (first): `{ registrations: { <id>: <last seq> }, heartbeatMs }`, what the stream
 *   serves;
 * - an unnamed event per envelope, with `id: <registrationId>:<seq>` (so an `EventSource` that
 *   reconnects by itself sends it back in `Last-Event-ID`) and the envelope as `data`;
 * - `gone`: `{ registrationId }`, a registration the stream no longer serves;
 * - `end`: `{ reason }`, the last event before the server closes the stream;
 * - comments (`: …`) as heartbeats.
 */
import { type Envelope, isEnvelope } from './envelope.js';
import { createProtocolError, ErrorCode } from './errors.js';
import { isServerId, isTabId } from './ids.js';

/** Why the server ended a stream. */
export type StreamEndReason =
  /** The tab has no registration left. */
  | 'no-registrations'
  /** A newer stream of the same tab took its place (over the per-tab limit). */
  | 'replaced'
  /** The stream reached its maximum age (or the server is shutting down): reconnect at once. */
  | 'reconnect';

/** One event of the stream. */
export type StreamEvent =
  | { kind: 'ready'; registrations: Record<string, number>; heartbeatMs: number }
  | { kind: 'envelope'; envelope: Envelope }
  | { kind: 'gone'; registrationId: string }
  | { kind: 'end'; reason: StreamEndReason };

/** What the stream resumes from: the last seq the tab has per registration. */
export type StreamPositions = Record<string, number>;

/** The parsed query (and `Last-Event-ID`) of `GET …/stream`. */
export interface StreamQuery {
  tabId: string;
  /**
   * Per registration, the last seq the tab has; envelopes after it are sent. Registrations of the
   * tab not named start after what the tab last acknowledged.
   */
  positions: StreamPositions;
}

/** Header line of a new stream: how long an `EventSource` waits before reconnecting. */
export const STREAM_RETRY_MS = 1_000;

/** Text of a heartbeat: an SSE comment, ignored by every parser. */
export const STREAM_HEARTBEAT = ': \n\n';

/**
 * Formats one event as SSE text.
 * @param event - the event
 * @returns the text to write, ending with the blank line that dispatches it
 * @remarks JSON never contains a raw line break, so every `data` is one line.
 */
export function formatStreamEvent(event: StreamEvent): string {
  switch (event.kind) {
    case 'envelope':
      return `id: ${event.envelope.id}\ndata: ${JSON.stringify(event.envelope)}\n\n`;
    case 'ready':
      return `event: ready\ndata: ${JSON.stringify({ registrations: event.registrations, heartbeatMs: event.heartbeatMs })}\n\n`;
    case 'gone':
      return `event: gone\ndata: ${JSON.stringify({ registrationId: event.registrationId })}\n\n`;
    case 'end':
      return `event: end\ndata: ${JSON.stringify({ reason: event.reason })}\n\n`;
  }
}

/** One dispatched SSE event, before it is decoded. */
export interface RawStreamEvent {
  /** `message` when the event had no `event:` field. */
  type: string;
  data: string;
  /** The last `id:` seen on the stream (SSE's "last event ID"). */
  lastEventId: string;
}

/** An incremental SSE parser (the WHATWG "event stream interpretation"). */
export interface StreamParser {
  /** Feeds decoded text; complete events are passed to the callback as they end. */
  push(text: string): void;
}

/**
 * Creates an SSE parser.
 * @param onEvent - called with each dispatched event
 * @param onRetry - called with a `retry:` value
 * @returns the parser
 * @remarks Lines end with CRLF, LF or CR; a CR at the end of one chunk followed by LF at the
 * start of the next counts once. Chunks may split anywhere, also inside a line.
 */
export function createStreamParser(
  onEvent: (event: RawStreamEvent) => void,
  onRetry?: (ms: number) => void,
): StreamParser {
  let buffer = '';
  let skipLeadingLf = false;
  let type = '';
  let data: string[] = [];
  let lastEventId = '';

  const line = (text: string): void => {
    if (text === '') {
      if (data.length > 0) {
        onEvent({ type: type || 'message', data: data.join('\n'), lastEventId });
      }
      type = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) onRetry?.(Number(value));
  };

  return {
    push(text) {
      let chunk = text;
      if (skipLeadingLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
      skipLeadingLf = false;
      buffer += chunk;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer.charCodeAt(i);
        if (char !== 10 && char !== 13) continue;
        line(buffer.slice(start, i));
        if (char === 13) {
          if (i + 1 === buffer.length) skipLeadingLf = true;
          else if (buffer.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
  };
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const END_REASONS: ReadonlySet<string> = new Set(['no-registrations', 'replaced', 'reconnect']);

/**
 * Decodes a raw SSE event of our stream.
 * @param raw - from {@link createStreamParser}
 * @returns the event, or `null` when it is not one of ours or malformed
 */
export function decodeStreamEvent(raw: RawStreamEvent): StreamEvent | null {
  const value = parseJson(raw.data);
  switch (raw.type) {
    case 'message':
      return isEnvelope(value) ? { kind: 'envelope', envelope: value } : null;
    case 'ready':
      if (!isObject(value) || !isObject(value.registrations)) return null;
      if (!Object.values(value.registrations).every((seq) => Number.isSafeInteger(seq))) {
        return null;
      }
      return {
        kind: 'ready',
        registrations: value.registrations as Record<string, number>,
        heartbeatMs: typeof value.heartbeatMs === 'number' ? value.heartbeatMs : 0,
      };
    case 'gone':
      return isObject(value) && typeof value.registrationId === 'string'
        ? { kind: 'gone', registrationId: value.registrationId }
        : null;
    case 'end':
      return isObject(value) && typeof value.reason === 'string' && END_REASONS.has(value.reason)
        ? { kind: 'end', reason: value.reason as StreamEndReason }
        : null;
    default:
      return null;
  }
}

const POSITION = /^([A-Za-z0-9_-]{22,128}):(\d{1,15})$/;

/**
 * Encodes positions for the `after` query parameter: `<id>:<seq>,<id>:<seq>`.
 * @param positions - last seq per registration
 * @returns the parameter's value
 */
export function encodePositions(positions: StreamPositions): string {
  return Object.entries(positions)
    .map(([id, seq]) => `${id}:${seq}`)
    .join(',');
}

/**
 * Parses `<registrationId>:<seq>` (an `after` item, or a `Last-Event-ID`).
 * @param text - the position
 * @returns the registration id and seq
 * @throws WEB_PUSH_BAD_REQUEST when malformed
 */
export function parsePosition(text: string): [registrationId: string, seq: number] {
  const match = POSITION.exec(text.trim());
  if (!match || !isServerId(match[1])) {
    throw createProtocolError(ErrorCode.BadRequest, `not a stream position: ${text.slice(0, 64)}`);
  }
  return [match[1] as string, Number(match[2])];
}

/**
 * Checks the query of `GET …/stream` and its `Last-Event-ID` header.
 * @param params - the URL's search parameters: `tabId`, optional `after`
 * @param lastEventId - the `Last-Event-ID` header (an `EventSource` reconnecting), or `null`
 * @param maxItems - most positions accepted
 * @returns the tab and positions; `after` and `Last-Event-ID` combine, the larger seq winning
 * @throws WEB_PUSH_BAD_REQUEST on a malformed tab id, position or `Last-Event-ID`;
 * WEB_PUSH_TOO_LARGE for too many positions
 */
export function parseStreamQuery(
  params: URLSearchParams,
  lastEventId: string | null,
  maxItems: number,
): StreamQuery {
  const tabId = params.get('tabId');
  if (!isTabId(tabId)) {
    throw createProtocolError(ErrorCode.BadRequest, 'tabId must be 16-128 URL-safe characters');
  }
  const positions: StreamPositions = {};
  const after = params.get('after');
  const items = after ? after.split(',') : [];
  if (items.length > maxItems) {
    throw createProtocolError(ErrorCode.TooLarge, `after has more than ${maxItems} positions`);
  }
  if (lastEventId !== null && lastEventId !== '') items.push(lastEventId);
  for (const item of items) {
    const [id, seq] = parsePosition(item);
    positions[id] = Math.max(positions[id] ?? 0, seq);
  }
  return { tabId, positions };
}

/**
 * The application-server side of the push service (RFC 8030 section 5, RFC 8292):
 * `POST /push/<channelID>` stores a message for delivery, `DELETE /m/<messageId>` withdraws one.
 *
 * Checks run in this order, and the first failure answers: route (404) and method (405),
 * channel (404 unknown, 410 unsubscribed), VAPID (401/403), `TTL`/`Urgency`/`Topic` (400),
 * `Content-Encoding` (415), body size (413), injected faults (429/500/503). A refused message is
 * never stored. A stored message that takes its user agent past `maxPendingPerUserAgent` drops
 * the user agent (see `backlog.ts`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { enforceBacklogLimit } from './backlog.js';
import { countCode, reportRemoved, type ServiceContext } from './context.js';
import { type PushErrorBody, PushErrorCode } from './errors.js';
import type { PushExchange } from './exchange.js';
import { drawRate, drawRefusal } from './faults.js';
import type { StoredMessage, Urgency } from './registry.js';
import { verifyVapid } from './vapid.js';

/** A `node:http` request listener. */
export type PushRequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** Handles one request to the application-server side, answering it through its exchange. */
export type PushExchangeHandler = (exchange: PushExchange) => void;

/** Limits of the application-server side. */
export interface PushEndpointOptions {
  maxMessageBytes: number;
  maxTtlSeconds: number;
}

const URGENCIES: ReadonlySet<string> = new Set(['very-low', 'low', 'normal', 'high']);
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;
const TTL = /^\d{1,10}$/;
const ROUTE = /^\/(push|m)\/([^/]+)$/;
/** A route as the sender and `web-push` write it: nothing to decode, normalise or drop. */
const PLAIN_ROUTE = /^\/(push|m)\/([A-Za-z0-9_-]+)$/;

/** A refusal to answer with. */
interface Refusal {
  status: number;
  error: PushErrorCode;
  message: string;
  headers?: Record<string, string>;
}

const refusal = (
  status: number,
  error: PushErrorCode,
  message: string,
  headers?: Record<string, string>,
): Refusal => ({ status, error, message, ...(headers ? { headers } : {}) });

/** Outcome of one request. */
type Outcome = { status: 201; id: string; ttl: number } | { status: 204 } | Refusal;

/**
 * A body being read, keeping at most `limit + 1` bytes so that an oversized body is known
 * without buffering all of it. One object per request with shared listeners (found through
 * {@link READER}) rather than closures: this runs for every push message.
 */
class BodyReader {
  readonly chunks: Buffer[] = [];
  kept = 0;

  constructor(
    readonly limit: number,
    readonly resolve: (body: Buffer) => void,
    readonly reject: (error: Error) => void,
  ) {}
}

/**
 * Where a body stream keeps its reader while it is read: a property of the stream (a WeakMap
 * entry per message cost more), cleared once the body ended.
 */
const READER = Symbol('push-endpoint body reader');

type ReadBody = Readable & { [READER]?: BodyReader | undefined };

function onBodyData(this: ReadBody, chunk: Buffer): void {
  const reader = this[READER];
  if (reader === undefined || reader.kept > reader.limit) return;
  const room = reader.limit + 1 - reader.kept;
  const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
  reader.kept += part.byteLength;
  reader.chunks.push(part);
}

function onBodyEnd(this: Readable): void {
  const reader = stopReading(this);
  if (reader === undefined) return;
  const { chunks, kept } = reader;
  // A message usually arrives in one chunk, which needs no copy here.
  reader.resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, kept));
}

function onBodyError(this: Readable, error: Error): void {
  stopReading(this)?.reject(error);
}

/** A stream that closes without ending (the client reset it) has no body to read. */
function onBodyClose(this: Readable): void {
  stopReading(this)?.reject(new Error('the request closed before its body ended'));
}

function stopReading(body: ReadBody): BodyReader | undefined {
  const reader = body[READER];
  body[READER] = undefined;
  body.off('data', onBodyData);
  body.off('end', onBodyEnd);
  body.off('error', onBodyError);
  body.off('close', onBodyClose);
  return reader;
}

/**
 * Reads a request body (see {@link BodyReader}).
 * @param body - the request's body stream
 * @param limit - bytes past which the rest is dropped (one more is kept, to know)
 * @returns the body, at most `limit + 1` bytes
 */
function readBody(body: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    (body as ReadBody)[READER] = new BodyReader(limit, resolve, reject);
    body.on('data', onBodyData);
    body.on('end', onBodyEnd);
    body.on('error', onBodyError);
    body.on('close', onBodyClose);
  });
}

/**
 * The bytes of a body to keep: the chunk itself when it owns its whole memory, else a copy, so
 * that a stored message never holds on to a larger buffer it is a slice of.
 */
const keptBytes = (body: Buffer): Uint8Array =>
  body.byteOffset === 0 && body.buffer.byteLength === body.byteLength ? body : new Uint8Array(body);

/**
 * Creates the handler of the application-server side.
 * @param context - the service
 * @param options - size and TTL limits
 * @returns the handler, for requests of a `node:http` server and streams of a `node:http2` one
 *   (see `exchange.ts`)
 */
export function createPushEndpoint(
  context: ServiceContext,
  { maxMessageBytes, maxTtlSeconds }: PushEndpointOptions,
): PushExchangeHandler {
  const { registry, counters, events } = context;

  const accept = async (request: PushExchange, channelID: string): Promise<Outcome> => {
    const channel = registry.channel(channelID);
    if (!channel) return refusal(404, PushErrorCode.UnknownChannel, 'no such subscription');
    if (channel.gone) return refusal(410, PushErrorCode.ChannelGone, 'unsubscribed');
    const agent = registry.agent(channel.uaid);
    if (!agent) return refusal(404, PushErrorCode.UnknownChannel, 'no such subscription');

    const now = Date.now();
    const vapid = verifyVapid({
      authorization: request.header('authorization'),
      origin: context.url,
      applicationServerKey: channel.key,
      now,
    });
    if (!vapid.ok) return refusal(vapid.status, vapid.error, vapid.message);

    const ttlHeader = request.header('ttl');
    if (ttlHeader === undefined) return refusal(400, PushErrorCode.MissingTtl, 'TTL required');
    if (!TTL.test(ttlHeader.trim())) {
      return refusal(400, PushErrorCode.InvalidTtl, 'TTL must be a non-negative integer');
    }
    const ttl = Math.min(Number(ttlHeader.trim()), maxTtlSeconds);
    const urgency = (request.header('urgency')?.trim().toLowerCase() ?? 'normal') as Urgency;
    if (!URGENCIES.has(urgency)) {
      return refusal(400, PushErrorCode.InvalidUrgency, 'Urgency: very-low|low|normal|high');
    }
    const topic = request.header('topic')?.trim() ?? null;
    if (topic !== null && !TOPIC.test(topic)) {
      return refusal(400, PushErrorCode.InvalidTopic, 'Topic: 1-32 base64url characters');
    }

    const body = await readBody(request.body, maxMessageBytes);
    // The user agent may have unsubscribed while the body was arriving.
    if (channel.gone) return refusal(410, PushErrorCode.ChannelGone, 'unsubscribed');
    const encoding = request.header('content-encoding')?.trim().toLowerCase();
    if (body.byteLength > 0 && encoding !== 'aes128gcm') {
      return refusal(415, PushErrorCode.UnsupportedEncoding, 'Content-Encoding: aes128gcm');
    }
    if (body.byteLength > maxMessageBytes) {
      return refusal(413, PushErrorCode.PayloadTooLarge, `body over ${maxMessageBytes} bytes`);
    }

    const faults = context.faults();
    const injected = drawRefusal(faults, context.random);
    if (injected) {
      const { status, retryAfterSeconds } = injected;
      if (status === 429) {
        return refusal(429, PushErrorCode.RateLimited, 'injected 429', {
          'retry-after': String(retryAfterSeconds ?? 0),
        });
      }
      const error = status === 500 ? PushErrorCode.InternalError : PushErrorCode.Unavailable;
      return refusal(status, error, `injected ${status}`);
    }

    const id = registry.newMessageId();
    counters.accepted++;
    const base = {
      channelID,
      uaid: agent.uaid,
      bytes: body.byteLength,
      ttl,
      urgency,
      topic,
      duplicateOf: null,
    };
    reportRemoved(context, registry.expire(agent, now));
    if (drawRate(faults.drop, context.random)) {
      counters.dropped++;
      events.emit('message', { ...base, id, dropped: true });
      return { status: 201, id, ttl };
    }
    if (events.listening('message')) events.emit('message', { ...base, id, dropped: false });
    if (ttl === 0 && agent.connection === null) {
      // TTL 0: now or never (RFC 8030 section 5.2).
      counters.expired++;
      events.emit('removed', { id, reason: 'expired' });
      return { status: 201, id, ttl };
    }
    const message: StoredMessage = {
      id,
      channelID,
      uaid: agent.uaid,
      body: keptBytes(body),
      ttl,
      urgency,
      topic,
      expiresAt: now + ttl * 1000,
      connection: null,
      removed: null,
    };
    reportRemoved(context, registry.store(message, true));
    const copies = [message];
    if (drawRate(faults.duplicate, context.random)) {
      const copy = { ...message, id: registry.newMessageId() };
      registry.store(copy, false);
      counters.duplicated++;
      events.emit('message', { ...base, id: copy.id, dropped: false, duplicateOf: id });
      copies.push(copy);
    }
    // Like autopush, the message that goes past the limit was accepted: 201, then the drop.
    if (enforceBacklogLimit(context, agent)) return { status: 201, id, ttl };
    const connection = agent.connection;
    if (connection) {
      for (const copy of copies) {
        copy.connection = connection;
        connection.push(copy);
      }
    }
    return { status: 201, id, ttl };
  };

  const withdraw = (messageId: string): Outcome => {
    const message = registry.remove(messageId, 'deleted');
    if (!message) return refusal(404, PushErrorCode.UnknownMessage, 'no such message');
    reportRemoved(context, [message]);
    return { status: 204 };
  };

  const route = async (request: PushExchange): Promise<Outcome> => {
    // The usual request names its route plainly and needs no URL parser or decoding (a cost per
    // message).
    const plain = PLAIN_ROUTE.exec(request.url ?? '');
    const match = plain ?? ROUTE.exec(new URL(request.url ?? '/', context.url).pathname);
    let id: string;
    try {
      id = plain?.[2] ?? decodeURIComponent(match?.[2] ?? '');
    } catch {
      return refusal(404, PushErrorCode.NotFound, 'no such route');
    }
    if (match?.[1] === 'push') {
      if (request.method !== 'POST') {
        return refusal(405, PushErrorCode.MethodNotAllowed, 'POST only', { allow: 'POST' });
      }
      return accept(request, id);
    }
    if (match?.[1] === 'm') {
      if (request.method !== 'DELETE') {
        return refusal(405, PushErrorCode.MethodNotAllowed, 'DELETE only', { allow: 'DELETE' });
      }
      return withdraw(id);
    }
    return refusal(404, PushErrorCode.NotFound, 'no such route');
  };

  const answer = (exchange: PushExchange, outcome: Outcome) => {
    if (outcome.status === 201 && 'id' in outcome) {
      exchange.respond(201, {
        location: `${context.url}/m/${outcome.id}`,
        ttl: String(outcome.ttl),
      });
      return;
    }
    if (!('error' in outcome)) {
      exchange.respond(outcome.status);
      return;
    }
    countCode(counters.rejected, outcome.status);
    const body: PushErrorBody = {
      code: outcome.status,
      error: outcome.error,
      message: outcome.message,
    };
    exchange.respond(
      outcome.status,
      { 'content-type': 'application/json', ...outcome.headers },
      JSON.stringify(body),
    );
  };

  const handle = async (exchange: PushExchange): Promise<void> => {
    let outcome: Outcome;
    try {
      outcome = await route(exchange);
    } catch (error) {
      const message = error instanceof Error ? error.message : 'error';
      outcome = refusal(500, PushErrorCode.InternalError, message);
    }
    answer(exchange, outcome);
  };

  return (exchange) => {
    void handle(exchange);
  };
}

/**
 * The listener of the plain HTTP server when the application-server side is on the secure one:
 * every request is answered 404 `NOT_FOUND`, naming where to send it.
 * @param context - the service (its `url` is the secure origin)
 * @returns a `node:http` request listener
 */
export function createElsewhereListener(context: ServiceContext): PushRequestListener {
  return (request, response) => {
    request.resume();
    countCode(context.counters.rejected, 404);
    const body: PushErrorBody = {
      code: 404,
      error: PushErrorCode.NotFound,
      message: `the application-server side is at ${context.url}`,
    };
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
}

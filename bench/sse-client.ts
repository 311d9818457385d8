/**
 * The client side of the `stream` suite: JSON requests and Server-Sent Event streams over
 * `node:http`, read with the protocol's own SSE parser, so that both kinds of stream (ours and
 * Yoga's) are read by the same code.
 */
import { Agent, type IncomingMessage, request } from 'node:http';
import { createStreamParser, type RawStreamEvent } from '../protocol/index.js';

/**
 * One agent for the whole suite: keep-alive for the JSON requests, and no socket limit, since
 * every open stream holds a socket of its own.
 */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

function send(url: string, { method = 'GET', headers = {}, body }: RequestInit) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method, headers, agent }, resolve);
    req.on('error', reject);
    req.end(text);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) text += chunk;
  return text;
}

/**
 * Sends a JSON request and reads the JSON answer.
 * @param url - where
 * @param init - method, headers (content type and accept are JSON), body
 * @returns the parsed answer
 * @throws when the status is not 200
 */
export async function requestJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const res = await send(url, {
    method: 'POST',
    ...init,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...init.headers },
  });
  const text = await readAll(res);
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** An open event stream. */
export interface OpenStream {
  /** Closes the connection (the client goes away). */
  close(): void;
}

/**
 * Opens a `text/event-stream` response and feeds each event to `onEvent`.
 * @param url - where
 * @param init - method, headers, JSON body
 * @param onEvent - called with every dispatched event, in order
 * @returns the stream, once the answer's headers arrived with status 200
 * @throws when the status is not 200
 */
export async function openEventStream(
  url: string,
  init: RequestInit,
  onEvent: (event: RawStreamEvent) => void,
): Promise<OpenStream> {
  const res = await send(url, {
    ...init,
    headers: {
      accept: 'text/event-stream',
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
  });
  if (res.statusCode !== 200) {
    throw new Error(`${url}: ${res.statusCode} ${(await readAll(res)).slice(0, 300)}`);
  }
  const parser = createStreamParser(onEvent);
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => parser.push(chunk));
  // A stream the bench closes, or the server ending, is no failure here.
  res.on('error', () => {});
  return { close: () => res.destroy() };
}

/**
 * Runs `task` for `0 … count - 1`, at most `concurrency` at a time.
 * @param count - how many
 * @param concurrency - at most in flight
 * @param task - the work for one index
 */
export async function forEachLimited(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

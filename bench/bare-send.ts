/**
 * A reference for the fan-out's CPU: the least this process can do per push with Node's own
 * HTTP: the encryption floor plus one bare POST (one HTTP/2 session to https origins, keep-alive
 * HTTP/1.1 sockets to http ones), with the VAPID header signed once and no deadline, retry,
 * queue, telemetry or log around it. What the server spends above this is its own; what this
 * spends above the floor is Node's HTTP.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { encryptPushMessage, parseSubscriptionKeys } from '../server/push/encrypt.js';
import { createVapidAuth } from '../server/push/jwt.js';
import type { VapidOptions } from '../server/vapid.js';
import type { BaselineCost } from './by-hand.js';
import { cpuSince } from './child.js';
import { post } from './http-post.js';
import type { CapturedPush } from './recording-sender.js';

let session: http2.ClientHttp2Session | undefined;
/** Sockets for http origins, as many as the requests in flight. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function postHttp2(
  origin: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
  ca?: string,
) {
  if (!session || session.closed || session.destroyed) {
    session = http2.connect(origin, ca === undefined ? {} : { ca });
    session.on('error', () => {});
  }
  const stream = session.request({ ':method': 'POST', ':path': path, ...headers });
  return new Promise<number>((resolve) => {
    let status = 0;
    stream.on('response', (answer) => {
      status = Number(answer[':status'] ?? 0);
    });
    stream.on('error', () => {});
    stream.on('close', () => resolve(status));
    stream.resume();
    stream.end(body);
  });
}

/**
 * Encrypts and POSTs every push, `inFlight` at a time.
 * @param pushes - what the server sent
 * @param vapid - the server's VAPID identity
 * @param inFlight - requests in flight
 * @param ca - certificates to trust for https endpoints
 * @returns the cost, until the last answer
 */
export async function sendBare(
  pushes: readonly CapturedPush[],
  vapid: VapidOptions,
  inFlight: number,
  ca?: string,
): Promise<BaselineCost> {
  const auth = createVapidAuth({ vapid });
  const jobs = pushes.map((push) => ({
    url: new URL(push.target.endpoint),
    keys: parseSubscriptionKeys(push.target.keys),
    push,
  }));
  const cpu = process.cpuUsage();
  const at = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, jobs.length) }, async () => {
      while (next < jobs.length) {
        const { url, keys, push } = jobs[next++] as (typeof jobs)[number];
        const body = encryptPushMessage(keys, push.plaintext);
        const headers = {
          'content-encoding': 'aes128gcm',
          'content-type': 'application/octet-stream',
          'content-length': body.length,
          ttl: push.options.ttlSeconds,
          authorization: auth.authorization(url.origin),
          ...(push.options.topic === undefined ? {} : { topic: push.options.topic }),
        };
        const status =
          url.protocol === 'https:'
            ? await postHttp2(url.origin, url.pathname, headers, body, ca)
            : await post(url, headers, body, agent);
        if (status < 200 || status > 299) failed += 1;
      }
    }),
  );
  return { cpuUs: cpuSince(cpu), wallMs: performance.now() - at, pushes: jobs.length, failed };
}

/**
 * The two baselines of the push suites, run in the server's process on the pushes the server
 * itself sent (see `recording-sender.ts`):
 * - the encryption floor: RFC 8291 alone (ECDH + HKDF + AES-GCM, node:crypto), no VAPID, no HTTP;
 * - `web-push` by hand: what an application does without this library, `generateRequestDetails`
 *   per push and a keep-alive agent with a fixed number of requests in flight.
 */
import http from 'node:http';
import https from 'node:https';
import webpush from 'web-push';
import { encryptPushMessage, parseSubscriptionKeys } from '../server/push/encrypt.js';
import type { VapidOptions } from '../server/vapid.js';
import { cpuSince } from './child.js';
import { post } from './http-post.js';
import type { CapturedPush } from './recording-sender.js';

/** CPU and wall time of one baseline round. */
export interface BaselineCost {
  /** CPU time of the whole process, microseconds. */
  cpuUs: number;
  wallMs: number;
  pushes: number;
  failed: number;
}

/**
 * Encrypts every push once on this thread. Keys are parsed before the clock starts, as the
 * sender caches them.
 * @param pushes - what the server sent
 * @returns the cost
 */
export function encryptionFloor(pushes: readonly CapturedPush[]): BaselineCost {
  const jobs = pushes.map((push) => ({
    keys: parseSubscriptionKeys(push.target.keys),
    plaintext: push.plaintext,
  }));
  const cpu = process.cpuUsage();
  const at = performance.now();
  let bytes = 0;
  for (const job of jobs) bytes += encryptPushMessage(job.keys, job.plaintext).length;
  if (bytes === 0) throw new Error('bench: nothing encrypted');
  return { cpuUs: cpuSince(cpu), wallMs: performance.now() - at, pushes: jobs.length, failed: 0 };
}

/** One agent per in-flight bound and scheme, kept across rounds: sockets stay warm, as the sender's do. */
const agents = new Map<string, http.Agent>();

function agentFor(secure: boolean, inFlight: number, ca: string | undefined): http.Agent {
  const key = `${secure}:${inFlight}`;
  let agent = agents.get(key);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: inFlight };
    agent = secure
      ? new https.Agent({ ...options, ...(ca === undefined ? {} : { ca }) })
      : new http.Agent(options);
    agents.set(key, agent);
  }
  return agent;
}

/**
 * Sends every push with `web-push`, `inFlight` at a time.
 * @param pushes - what the server sent (same plaintexts, TTLs and topics)
 * @param vapid - the server's VAPID identity
 * @param inFlight - requests in flight (and sockets; HTTP/1.1 keep-alive, over TLS to https)
 * @param ca - certificates to trust for https endpoints
 * @returns the cost, until the last answer
 */
export async function sendWithWebPush(
  pushes: readonly CapturedPush[],
  vapid: VapidOptions,
  inFlight: number,
  ca?: string,
): Promise<BaselineCost> {
  const secure = pushes[0]?.target.endpoint.startsWith('https:') ?? false;
  const agent = agentFor(secure, inFlight, ca);
  const vapidDetails = {
    subject: vapid.subject,
    publicKey: vapid.publicKey,
    privateKey: vapid.privateKey,
  };
  const cpu = process.cpuUsage();
  const at = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, pushes.length) }, async () => {
      while (next < pushes.length) {
        const push = pushes[next++] as CapturedPush;
        const details = webpush.generateRequestDetails(
          { endpoint: push.target.endpoint, keys: push.target.keys },
          push.plaintext,
          {
            vapidDetails,
            TTL: push.options.ttlSeconds,
            contentEncoding: 'aes128gcm',
            ...(push.options.topic === undefined ? {} : { topic: push.options.topic }),
          },
        );
        const status = await post(details.endpoint, details.headers, details.body, agent);
        if (status < 200 || status > 299) failed += 1;
      }
    }),
  );
  return { cpuUs: cpuSince(cpu), wallMs: performance.now() - at, pushes: pushes.length, failed };
}

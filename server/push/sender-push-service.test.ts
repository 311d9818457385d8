import { afterEach, describe, expect, it } from 'vitest';
import {
  createUserAgent,
  type PushService,
  startPushService,
  type UserAgent,
} from '../../push-service/index.js';
import { generateVapidKeys } from '../vapid.js';
import { parsePushEndpoint } from './endpoint.js';
import { createPushSender, type PushSender } from './sender.js';
import { connectTls } from './tls-connect.js';

const closers: (PushSender | UserAgent | PushService)[] = [];
afterEach(async () => {
  for (const closer of closers.splice(0).reverse()) await closer.close();
});

describe('createPushSender against the local push service over HTTP/2', () => {
  it('delivers 150 encrypted messages through 429 and 503 faults, each decrypted by a Node user agent', async () => {
    const service = await startPushService({
      secure: true,
      faults: { seed: 7, status429: { rate: 0.2, retryAfterSeconds: 1 }, status503: 0.2 },
      maxPendingPerUserAgent: Number.POSITIVE_INFINITY,
    });
    closers.push(service);
    const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() };
    const agents = Array.from({ length: 3 }, () => createUserAgent({ serviceUrl: service.wsUrl }));
    closers.push(...agents);
    const received = agents.map(() => new Set<string>());
    agents.forEach((agent, i) => {
      agent.onMessage((data) => received[i]?.add(new TextDecoder().decode(data)));
    });
    const subscriptions = await Promise.all(
      agents.map((agent) => agent.subscribe(vapid.publicKey)),
    );
    expect(subscriptions.every((s) => s.endpoint.startsWith(`${service.url}/push/`))).toBe(true);
    // The service chooses h2 by ALPN, which is what puts the sender on HTTP/2.
    const probe = await connectTls(parsePushEndpoint(subscriptions[0]?.endpoint ?? ''), {
      ca: service.ca ?? undefined,
      timeoutMs: 2_000,
    });
    expect(probe.alpnProtocol).toBe('h2');
    probe.destroy();
    const sender = createPushSender({
      vapid,
      ca: service.ca ?? undefined,
      // Retry-After waits are cut to keep the test short; maxAttempts leaves room for bad luck.
      maxBackoffMs: 20,
      baseBackoffMs: 5,
      maxAttempts: 20,
      encryptionWorkers: 1,
      inlineEncryptionLimit: 8,
    });
    closers.push(sender);

    const sent = Array.from({ length: 150 }, (_, i) => `message ${i}`);
    const results = await Promise.all(
      sent.map((text, i) =>
        sender.send(
          subscriptions[i % subscriptions.length] as (typeof subscriptions)[number],
          Buffer.from(text),
          { ttlSeconds: 600 },
        ),
      ),
    );

    expect(results.every((r) => r.ok)).toBe(true);
    // The faults did strike: some sends needed more than one attempt.
    expect(results.some((r) => r.attempts > 1)).toBe(true);
    const stats = service.stats();
    expect(stats.rejected[429]).toBeGreaterThan(0);
    expect(stats.rejected[503]).toBeGreaterThan(0);
    const deadline = Date.now() + 10_000;
    while (received.reduce((n, set) => n + set.size, 0) < 150 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    received.forEach((set, i) => {
      expect([...set].sort()).toEqual(sent.filter((_, j) => j % 3 === i).sort());
    });
  });
});

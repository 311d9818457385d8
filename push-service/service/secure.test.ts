import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect as connectHttp2 } from 'node:http2';
import { Agent } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import type { PushSubscriptionData } from '../../protocol/index.js';
import { type BareSubscription, subscribeBare } from './bare-client-test-support.js';
import { createSelfSignedCertificate } from './certificate.js';
import { PushErrorCode } from './errors.js';
import { sendOverHttp2, sendOverHttps, sessionTo } from './https-test-support.js';
import { startPushService } from './service.js';
import { signVapid, vapidKeys } from './test-helpers.js';
import type { PushService, PushServiceOptions } from './types.js';

const vapid = vapidKeys();
const services: PushService[] = [];
const bare: BareSubscription[] = [];

afterEach(async () => {
  for (const { client } of bare.splice(0)) client.socket.terminate();
  for (const service of services.splice(0)) await service.close();
});

/** A secure service and one subscription on it, held by a bare client. */
const open = async (options: PushServiceOptions = {}) => {
  const service = await startPushService({ secure: true, ...options });
  services.push(service);
  const subscribed = await subscribeBare(service.wsUrl, vapid.publicKey);
  bare.push(subscribed);
  return { service, ...subscribed, ca: service.ca as string };
};

/** The POST web-push would make, as headers and body to send any way. */
const details = (subscription: PushSubscriptionData, payload = 'hello', aud?: string) => {
  const request = webpush.generateRequestDetails(subscription, payload, {
    vapidDetails: { subject: 'mailto:test@example.com', ...vapid },
    TTL: 60,
    contentEncoding: 'aes128gcm',
  });
  const headers = Object.fromEntries(
    Object.entries(request.headers as Record<string, string>).map(([k, v]) => [k, String(v)]),
  );
  if (aud) {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    headers.Authorization = signVapid({ aud, exp, keys: vapid });
  }
  return { method: 'POST', headers, body: new Uint8Array(request.body as Buffer) };
};

describe('secure: the application-server side over TLS', () => {
  it('serves endpoints on https://localhost:<securePort> and user agents on ws://127.0.0.1:<port>/', async () => {
    const { service, subscription, channelID, ca } = await open();
    expect(service.securePort).toEqual(expect.any(Number));
    expect(service.securePort).not.toBe(service.port);
    expect(service.url).toBe(`https://localhost:${service.securePort}`);
    expect(service.origin).toBe(service.url);
    expect(service.wsUrl).toBe(`ws://127.0.0.1:${service.port}/`);
    expect(subscription.endpoint).toBe(`${service.url}/push/${channelID}`);
    const certificate = new X509Certificate(ca);
    expect(certificate.checkHost('localhost')).toBe('localhost');
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('has no secure port or certificate in plain mode', async () => {
    const service = await startPushService();
    services.push(service);
    expect(service.securePort).toBeNull();
    expect(service.ca).toBeNull();
    expect(service.url).toBe(`http://127.0.0.1:${service.port}`);
  });

  it('answers a push over http2.connect with :status 201, on a session that negotiated h2', async () => {
    const { service, client, channelID, subscription, ca } = await open();
    const request = details(subscription, 'over h2');
    const answer = await sendOverHttp2(
      await sessionTo(service.origin, ca),
      subscription.endpoint,
      request,
    );
    expect(answer.protocol).toBe('h2');
    expect(answer.status).toBe(201);
    expect(answer.headers.ttl).toBe('60');
    expect(answer.headers.location).toMatch(new RegExp(`^${service.url}/m/[A-Za-z0-9_-]{22}$`));
    expect(await client.next()).toEqual({
      messageType: 'notification',
      channelID,
      version: answer.headers.location?.split('/').pop(),
      data: Buffer.from(request.body).toString('base64url'),
      headers: { encoding: 'aes128gcm' },
    });
  });

  it('answers a push over HTTPS/1.1 (ALPN http/1.1)', async () => {
    const { service, subscription, ca } = await open();
    const answer = await sendOverHttps(subscription.endpoint, ca, details(subscription));
    expect(answer.protocol).toBe('http/1.1');
    expect(answer.status).toBe(201);
    expect(service.stats()).toMatchObject({ accepted: 1, pending: 1 });
  });

  it("accepts web-push's own sendNotification (HTTPS/1.1 without ALPN) through an https.Agent that trusts the certificate", async () => {
    const { service, subscription, ca } = await open();
    const agent = new Agent({ ca });
    try {
      const result = await webpush.sendNotification(subscription, 'from web-push', {
        vapidDetails: { subject: 'mailto:test@example.com', ...vapid },
        TTL: 30,
        contentEncoding: 'aes128gcm',
        agent,
      });
      expect(result.statusCode).toBe(201);
      expect(result.headers.ttl).toBe('30');
      expect(service.stats().accepted).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('multiplexes: 20 concurrent streams on one session are each stored and delivered', async () => {
    const { service, client, subscription, ca } = await open();
    const session = await sessionTo(service.origin, ca);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sendOverHttp2(session, subscription.endpoint, details(subscription, `m${i}`)),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(201));
    const versions = new Set<unknown>();
    for (let i = 0; i < 20; i++) versions.add((await client.next()).version);
    expect(versions).toEqual(new Set(answers.map((a) => a.headers.location?.split('/').pop())));
  });

  it('takes only the https origin of the endpoints as VAPID aud', async () => {
    const { service, subscription, ca } = await open();
    const session = await sessionTo(service.origin, ca);
    for (const aud of [
      `http://127.0.0.1:${service.port}`,
      `https://127.0.0.1:${service.securePort}`,
      `http://localhost:${service.securePort}`,
    ]) {
      const answer = await sendOverHttp2(
        session,
        subscription.endpoint,
        details(subscription, 'x', aud),
      );
      expect(answer.status, aud).toBe(403);
      expect(JSON.parse(answer.body.toString())).toMatchObject({
        error: PushErrorCode.InvalidAudience,
        message: `aud must be ${service.url}`,
      });
    }
    const good = details(subscription, 'x', service.url);
    expect((await sendOverHttp2(session, subscription.endpoint, good)).status).toBe(201);
  });

  it('refuses application-server requests on the plain port with 404, naming the secure origin', async () => {
    const { service, channelID, subscription } = await open();
    const request = details(subscription);
    const response = await fetch(`http://127.0.0.1:${service.port}/push/${channelID}`, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      code: 404,
      error: PushErrorCode.NotFound,
      message: `the application-server side is at ${service.url}`,
    });
    expect(service.stats()).toMatchObject({ accepted: 0, pending: 0, rejected: { 404: 1 } });
  });

  it('injects 429 with Retry-After, 500 and 503 over HTTP/2, and the session stays usable', async () => {
    const { service, subscription, ca } = await open();
    const session = await sessionTo(service.origin, ca);
    const post = () => sendOverHttp2(session, subscription.endpoint, details(subscription));

    service.setFaults({ status429: { rate: 1, retryAfterSeconds: 9 } });
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('9');
    expect(JSON.parse(limited.body.toString())).toMatchObject({ error: PushErrorCode.RateLimited });
    service.setFaults({ status500: 1 });
    expect((await post()).status).toBe(500);
    service.setFaults({ status503: 1 });
    expect((await post()).status).toBe(503);
    service.setFaults({});
    expect((await post()).status).toBe(201);
    expect(service.stats()).toMatchObject({
      accepted: 1,
      pending: 1,
      rejected: { 429: 1, 500: 1, 503: 1 },
    });
  });

  it('drops and duplicates over HTTP/2 as over HTTP/1.1', async () => {
    const { service, client, subscription, ca } = await open();
    const session = await sessionTo(service.origin, ca);
    service.setFaults({ drop: 1 });
    const dropped = await sendOverHttp2(session, subscription.endpoint, details(subscription));
    expect(dropped.status).toBe(201);
    service.setFaults({ duplicate: 1 });
    const copied = await sendOverHttp2(session, subscription.endpoint, details(subscription));
    const id = copied.headers.location?.split('/').pop();
    const first = await client.next();
    const second = await client.next();
    expect(first.version).toBe(id);
    expect(second.version).not.toBe(id);
    expect(second.data).toBe(first.data);
    expect(service.stats()).toMatchObject({ accepted: 2, dropped: 1, duplicated: 1, pending: 2 });
  });

  it('serves a certificate of your own', async () => {
    const own = createSelfSignedCertificate({ hosts: ['localhost'] });
    const { service, subscription } = await open({ secure: own });
    expect(service.ca).toBe(own.cert);
    const answer = await sendOverHttps(subscription.endpoint, own.cert, details(subscription));
    expect(answer.status).toBe(201);
    await expect(
      sendOverHttps(
        subscription.endpoint,
        createSelfSignedCertificate().cert,
        details(subscription),
      ),
    ).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('listens on the securePort asked for', async () => {
    const probe = await startPushService({ secure: true });
    const port = probe.securePort as number;
    await probe.close();
    const { service } = await open({ securePort: port });
    expect(service.securePort).toBe(port);
    expect(service.url).toBe(`https://localhost:${port}`);
  });

  it('closes open HTTP/2 sessions when it closes', async () => {
    const { service, ca } = await open();
    const session = connectHttp2(service.origin, { ca });
    session.on('error', () => {});
    await once(session, 'connect');
    const closed = once(session, 'close');
    const started = Date.now();
    await service.close();
    await closed;
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('withdraws a message with DELETE over HTTP/2', async () => {
    const { service, client, subscription, ca } = await open();
    client.socket.close();
    await client.closed();
    const session = await sessionTo(service.origin, ca);
    const posted = await sendOverHttp2(session, subscription.endpoint, details(subscription));
    const location = posted.headers.location as string;
    const withdraw = () => sendOverHttp2(session, location, { method: 'DELETE' });
    expect((await withdraw()).status).toBe(204);
    expect((await withdraw()).status).toBe(404);
    expect(service.stats()).toMatchObject({ pending: 0, deleted: 1 });
  });
});

import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import type { PushSubscriptionData } from '../../protocol/index.js';
import { type BareClient, subscribeBare } from './bare-client-test-support.js';
import { PushErrorCode } from './errors.js';
import { HTTP2, HTTPS1, type Mode, PLAIN, send, startIn } from './https-test-support.js';
import { pushWithWebPush, signVapid, vapidKeys } from './test-helpers.js';
import type { PushService } from './types.js';

const vapid = vapidKeys();
let service: PushService;
let client: BareClient;
let channelID: string;
let subscription: PushSubscriptionData;

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

/** Posts a valid aes128gcm body with the given Authorization header. */
const postWithAuthorization = (authorization: string) =>
  pushWithWebPush(subscription, 'hello', vapid, { headers: { Authorization: authorization } });

const expectRefusal = async (response: Response, status: number, error: PushErrorCode) => {
  expect(response.status).toBe(status);
  expect(await response.json()).toMatchObject({ code: status, error });
};

// Every check answers the same whichever way the request comes.
describe.each<Mode>([PLAIN, HTTP2, HTTPS1])('over $name', (mode) => {
  beforeEach(async () => {
    service = await startIn(mode);
    ({ client, channelID, subscription } = await subscribeBare(service.wsUrl, vapid.publicKey));
  });

  afterEach(async () => {
    client.socket.terminate();
    await service.close();
  });

  describe('accepting a message', () => {
    it('answers 201 with the message Location and the TTL it keeps', async () => {
      const response = await pushWithWebPush(subscription, 'hello', vapid, { ttl: 120 });
      expect(response.status).toBe(201);
      expect(response.headers.get('location')).toMatch(
        new RegExp(`^${service.url}/m/[A-Za-z0-9_-]{22}$`),
      );
      expect(response.headers.get('ttl')).toBe('120');
      expect(service.stats().accepted).toBe(1);
    });

    it('gives endpoints under the service origin', () => {
      expect(subscription.endpoint).toMatch(new RegExp(`^${service.url}/push/[0-9a-f-]{36}$`));
    });

    it('lowers a TTL above maxTtlSeconds and says so in the TTL header', async () => {
      const response = await pushWithWebPush(subscription, 'hello', vapid, { ttl: 99_999_999 });
      expect(response.status).toBe(201);
      expect(response.headers.get('ttl')).toBe(String(30 * 24 * 60 * 60));
    });
  });

  describe('refusing malformed requests with 400', () => {
    it('refuses a message without TTL', async () => {
      const response = await pushWithWebPush(subscription, 'hello', vapid, {
        headers: { TTL: undefined },
      });
      await expectRefusal(response, 400, PushErrorCode.MissingTtl);
    });

    it('refuses a TTL that is not a non-negative integer', async () => {
      for (const ttl of ['-1', '1.5', 'soon', '']) {
        const response = await pushWithWebPush(subscription, 'hello', vapid, {
          headers: { TTL: ttl },
        });
        await expectRefusal(response, 400, PushErrorCode.InvalidTtl);
      }
    });

    it('refuses an unknown Urgency', async () => {
      const response = await pushWithWebPush(subscription, 'hello', vapid, {
        headers: { Urgency: 'urgent' },
      });
      await expectRefusal(response, 400, PushErrorCode.InvalidUrgency);
    });

    it('refuses a Topic longer than 32 characters or outside base64url', async () => {
      for (const topic of ['a'.repeat(33), 'has space', 'plus+slash/']) {
        const response = await pushWithWebPush(subscription, 'hello', vapid, {
          headers: { Topic: topic },
        });
        await expectRefusal(response, 400, PushErrorCode.InvalidTopic);
      }
    });

    it('refuses a body that is not aes128gcm with 415', async () => {
      const response = await pushWithWebPush(subscription, 'hello', vapid, {
        headers: { 'Content-Encoding': 'aesgcm' },
      });
      await expectRefusal(response, 415, PushErrorCode.UnsupportedEncoding);
    });

    it('counts every refusal by status and stores nothing', async () => {
      await pushWithWebPush(subscription, 'hello', vapid, { headers: { TTL: undefined } });
      await pushWithWebPush(subscription, 'hello', vapid, { headers: { Urgency: 'now' } });
      await pushWithWebPush(subscription, 'hello', vapid, {
        headers: { Authorization: undefined },
      });
      const stats = service.stats();
      expect(stats.rejected).toEqual({ 400: 2, 401: 1 });
      expect(stats.accepted).toBe(0);
      expect(stats.pending).toBe(0);
    });
  });

  describe('VAPID (RFC 8292)', () => {
    it('answers 401 without Authorization', async () => {
      const response = await pushWithWebPush(subscription, 'hello', vapid, {
        headers: { Authorization: undefined },
      });
      await expectRefusal(response, 401, PushErrorCode.MissingAuthorization);
    });

    it('answers 401 for a header that is not "vapid t=..., k=..."', async () => {
      const token = signVapid({ aud: service.origin, exp: inAnHour(), keys: vapid });
      for (const header of [
        `WebPush ${token.slice('vapid t='.length)}`,
        `vapid t=${token.slice('vapid t='.length).split(',')[0]}`,
        'vapid t=not.a.jwt, k=AAAA',
        `vapid t=abc, k=${vapid.publicKey}`,
      ]) {
        await expectRefusal(
          await postWithAuthorization(header),
          401,
          PushErrorCode.MalformedAuthorization,
        );
      }
    });

    it('answers 401 when the signature does not verify with k', async () => {
      const other = vapidKeys();
      // Signed by another key pair but claiming the subscription's key.
      const header = signVapid({
        aud: service.origin,
        exp: inAnHour(),
        keys: other,
        k: vapid.publicKey,
      });
      await expectRefusal(await postWithAuthorization(header), 401, PushErrorCode.InvalidSignature);
    });

    it('answers 403 when k is not the key the subscription was made with', async () => {
      const other = vapidKeys();
      const header = signVapid({ aud: service.origin, exp: inAnHour(), keys: other });
      await expectRefusal(await postWithAuthorization(header), 403, PushErrorCode.KeyMismatch);
    });

    it('answers 403 when aud is not the service origin', async () => {
      const header = signVapid({ aud: 'https://push.example.com', exp: inAnHour(), keys: vapid });
      await expectRefusal(await postWithAuthorization(header), 403, PushErrorCode.InvalidAudience);
    });

    it('answers 403 when exp is more than 24 hours ahead, past, or missing', async () => {
      const now = Math.floor(Date.now() / 1000);
      for (const exp of [now + 24 * 3600 + 60, now - 1, undefined]) {
        const header = signVapid({ aud: service.origin, exp, keys: vapid });
        await expectRefusal(await postWithAuthorization(header), 403, PushErrorCode.InvalidExpiry);
      }
    });

    it('accepts k with base64 padding', async () => {
      const header = signVapid({
        aud: service.origin,
        exp: inAnHour(),
        keys: vapid,
        k: `${vapid.publicKey}=`,
      });
      expect((await postWithAuthorization(header)).status).toBe(201);
    });
  });

  describe('limits and subscription state', () => {
    it('accepts a body of exactly 4096 bytes and refuses 4097 with 413', async () => {
      // web-push adds 103 bytes (86 header, 1 delimiter, 16 tag) to the plaintext.
      const fits = await pushWithWebPush(subscription, 'x'.repeat(3993), vapid);
      expect(fits.status).toBe(201);
      const over = await pushWithWebPush(subscription, 'x'.repeat(3994), vapid);
      await expectRefusal(over, 413, PushErrorCode.PayloadTooLarge);
    });

    it('answers 404 for an unknown channel', async () => {
      const unknown = { ...subscription, endpoint: `${service.url}/push/no-such-channel` };
      const response = await pushWithWebPush(unknown, 'hello', vapid);
      await expectRefusal(response, 404, PushErrorCode.UnknownChannel);
    });

    it('answers 410 after the user agent unsubscribed', async () => {
      client.send({ messageType: 'unregister', channelID, code: 200 });
      await client.next();
      const response = await pushWithWebPush(subscription, 'hello', vapid);
      await expectRefusal(response, 410, PushErrorCode.ChannelGone);
    });

    it('answers 405 to anything but POST on an endpoint', async () => {
      const response = await send(subscription.endpoint, { method: 'GET' });
      await expectRefusal(response, 405, PushErrorCode.MethodNotAllowed);
      expect(response.headers.get('allow')).toBe('POST');
    });

    it('routes an endpoint with a query or percent-encoding like the plain one', async () => {
      const url = new URL(subscription.endpoint);
      const encoded = url.pathname.replace('-', '%2D');
      for (const endpoint of [`${subscription.endpoint}?from=test`, `${url.origin}${encoded}`]) {
        const response = await pushWithWebPush({ ...subscription, endpoint }, 'hello', vapid);
        expect(response.status).toBe(201);
      }
      expect(service.stats().accepted).toBe(2);
    });

    it('answers 404 outside its routes', async () => {
      const response = await send(`${service.url}/elsewhere`, { method: 'POST' });
      await expectRefusal(response, 404, PushErrorCode.NotFound);
    });
  });

  describe('DELETE /m/<id> (RFC 8030 section 6.3)', () => {
    it('withdraws a stored message so that it is never delivered', async () => {
      client.socket.close();
      await client.closed();
      const response = await pushWithWebPush(subscription, 'withdrawn', vapid);
      const location = response.headers.get('location') ?? '';
      expect((await send(location, { method: 'DELETE' })).status).toBe(204);
      expect((await send(location, { method: 'DELETE' })).status).toBe(404);
      expect(service.stats()).toMatchObject({ pending: 0, deleted: 1 });
    });
  });
});

/** Headers and the first half of a valid message, as `web-push` makes them. */
function halfAMessage(target: PushSubscriptionData) {
  const details = webpush.generateRequestDetails(target, 'broken off', {
    vapidDetails: { subject: 'mailto:test@example.com', ...vapid },
    TTL: 60,
    contentEncoding: 'aes128gcm',
  });
  const body = details.body as Buffer;
  const headers = Object.fromEntries(
    Object.entries(details.headers).map(([name, value]) => [name.toLowerCase(), String(value)]),
  );
  return { headers, half: body.subarray(0, body.byteLength >> 1) };
}

// A sender that breaks off mid-body stores nothing, and the service goes on taking messages.
describe('a message whose body is broken off', () => {
  afterEach(async () => {
    client.socket.terminate();
    await service.close();
  });

  it('over plain HTTP/1.1 (the connection closes)', async () => {
    service = await startIn(PLAIN);
    ({ client, subscription } = await subscribeBare(service.wsUrl, vapid.publicKey));
    const { headers, half } = halfAMessage(subscription);
    const request = httpRequest(subscription.endpoint, { method: 'POST', headers });
    const closed = new Promise((resolve) => request.on('close', resolve));
    request.on('error', () => {});
    request.write(half);
    await new Promise((resolve) => setTimeout(resolve, 50));
    request.destroy();
    await closed;
    expect((await pushWithWebPush(subscription, 'after', vapid)).status).toBe(201);
    expect(service.stats()).toMatchObject({ accepted: 1, pending: 1 });
  });

  // CANCEL closes the stream quietly; another code makes it emit an error on the service's side.
  it.each([
    ['CANCEL', 0x8],
    ['INTERNAL_ERROR', 0x2],
  ])('over HTTP/2 (the stream is reset with %s)', async (_name, code) => {
    service = await startIn(HTTP2);
    ({ client, subscription } = await subscribeBare(service.wsUrl, vapid.publicKey));
    const { headers, half } = halfAMessage(subscription);
    const session = http2Connect(service.origin, { ca: service.ca ?? '' });
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': new URL(subscription.endpoint).pathname,
        ...headers,
      });
      const closed = new Promise((resolve) => stream.on('close', resolve));
      stream.on('error', () => {});
      stream.write(half);
      await new Promise((resolve) => setTimeout(resolve, 50));
      stream.close(code);
      await closed;
      expect((await pushWithWebPush(subscription, 'after', vapid)).status).toBe(201);
      expect(service.stats()).toMatchObject({ accepted: 1, pending: 1 });
    } finally {
      session.destroy();
    }
  });
});

import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import WebSocket from 'ws';
import {
  type BareClient,
  type Frame,
  fakeKeys,
  hello,
  openBareClient,
  register as registerBare,
  subscribeBare,
} from './bare-client-test-support.js';
import { PushCloseCode } from './errors.js';
import { HTTP2, type Mode, PLAIN, send, startIn } from './https-test-support.js';
import { ackOf, messageIdOf, nextEvents, pushWithWebPush, vapidKeys } from './test-helpers.js';
import type { PushService } from './types.js';

const vapid = vapidKeys();
/** Firefox sends the applicationServerKey base64url with `=` padding. */
const paddedKey = `${vapid.publicKey}=`;
let service: PushService;
const sockets: WebSocket[] = [];

/** A bare client closed after the test. */
const openRaw = async (protocol: string | null = 'push-notification') => {
  const client = await openBareClient(service.wsUrl, protocol);
  sockets.push(client.socket);
  return client;
};

type Raw = BareClient;

const register = (raw: Raw, channelID: string, key: string | undefined = paddedKey) =>
  registerBare(raw, channelID, key);

// The user-agent side is the same whichever way application servers reach the service.
describe.each<Mode>([PLAIN, HTTP2])('with the application-server side over $name', (mode) => {
  beforeEach(async () => {
    service = await startIn(mode);
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    await service.close();
  });

  describe('hello', () => {
    it('assigns a uaid of at most 128 characters to a new user agent', async () => {
      const raw = await openRaw();
      const reply = await hello(raw);
      expect(reply).toEqual({
        messageType: 'hello',
        uaid: expect.stringMatching(/^[0-9a-f]{32}$/),
        status: 200,
        use_webpush: true,
        broadcasts: {},
      });
    });

    it('answers a known uaid with the same uaid, and an unknown one with a new uaid', async () => {
      const first = await hello(await openRaw());
      const again = await hello(await openRaw(), first.uaid as string);
      expect(again.uaid).toBe(first.uaid);
      const unknown = await hello(await openRaw(), 'f'.repeat(32));
      expect(unknown.uaid).not.toBe('f'.repeat(32));
      expect(unknown.uaid).not.toBe(first.uaid);
    });

    it('closes the older socket when the same uaid says hello again', async () => {
      const older = await openRaw();
      const { uaid } = await hello(older);
      await hello(await openRaw(), uaid as string);
      expect(await older.closed()).toBe(PushCloseCode.Replaced);
    });
  });

  describe('register and unregister', () => {
    it('accepts a padded key and answers with an endpoint web-push can post to', async () => {
      const raw = await openRaw();
      await hello(raw);
      const channelID = crypto.randomUUID();
      const reply = await register(raw, channelID);
      expect(reply).toEqual({
        messageType: 'register',
        channelID,
        status: 200,
        pushEndpoint: `${service.url}/push/${channelID}`,
      });
      const response = await pushWithWebPush(
        { endpoint: reply.pushEndpoint as string, keys: fakeKeys() },
        'hi',
        vapid,
      );
      expect(response.status).toBe(201);
    });

    it('answers 400 to a key that is not a P-256 public key, and 409 to a channel of another user agent', async () => {
      const raw = await openRaw();
      await hello(raw);
      expect((await register(raw, 'c1', 'AAAA')).status).toBe(400);
      expect((await register(raw, 'c2')).status).toBe(200);
      expect((await register(raw, 'c2')).status).toBe(200);

      const other = await openRaw();
      await hello(other);
      expect((await register(other, 'c2')).status).toBe(409);
    });

    it('unregisters: the endpoint answers 410 and stored messages are dropped', async () => {
      const raw = await openRaw();
      await hello(raw);
      const { pushEndpoint } = await register(raw, 'c1');
      const subscription = { endpoint: pushEndpoint as string, keys: fakeKeys() };
      expect((await pushWithWebPush(subscription, 'unacked', vapid)).status).toBe(201);
      expect((await raw.next()).messageType).toBe('notification');
      expect(service.stats().pending).toBe(1);

      const removed = nextEvents(service, 'removed', 1);
      raw.send({ messageType: 'unregister', channelID: 'c1', code: 200 });
      expect(await raw.next()).toEqual({ messageType: 'unregister', channelID: 'c1', status: 200 });
      expect((await removed)[0]?.reason).toBe('unsubscribed');
      expect(service.stats().pending).toBe(0);
      expect((await pushWithWebPush(subscription, 'late', vapid)).status).toBe(410);
    });
  });

  describe('notifications and acks', () => {
    it('sends the body as base64url data with the aes128gcm encoding header', async () => {
      const raw = await openRaw();
      await hello(raw);
      const { pushEndpoint } = await register(raw, 'c1');
      const details = webpush.generateRequestDetails(
        { endpoint: pushEndpoint as string, keys: fakeKeys() },
        'payload',
        {
          vapidDetails: { subject: 'mailto:test@example.com', ...vapid },
          TTL: 60,
          contentEncoding: 'aes128gcm',
        },
      );
      const { 'Content-Length': _, ...headers } = details.headers as Record<string, string>;
      const response = await send(details.endpoint, {
        method: 'POST',
        headers,
        body: new Uint8Array(details.body),
      });
      expect(await raw.next()).toEqual({
        messageType: 'notification',
        channelID: 'c1',
        version: messageIdOf(response),
        data: details.body.toString('base64url'),
        headers: { encoding: 'aes128gcm' },
      });
    });

    it('redelivers an unacked message under the same version on the next hello, and not after its ack', async () => {
      const first = await openRaw();
      const { uaid } = await hello(first);
      const { pushEndpoint } = await register(first, 'c1');
      const response = await pushWithWebPush(
        { endpoint: pushEndpoint as string, keys: fakeKeys() },
        'x',
        vapid,
      );
      const version = messageIdOf(response);
      expect((await first.next()).version).toBe(version);
      first.socket.close();
      await first.closed();

      const second = await openRaw();
      await hello(second, uaid as string);
      const again = await second.next();
      expect(again).toMatchObject({ messageType: 'notification', version });
      second.send({ messageType: 'ack', updates: [{ channelID: 'c1', version, code: 100 }] });
      await ackOf(service, version);
      expect(service.stats().pending).toBe(0);
      expect(service.acks).toEqual([{ channelID: 'c1', version, code: 100, kind: 'ack', uaid }]);
    });

    it('records a nack with the channel of its message', async () => {
      const raw = await openRaw();
      const { uaid } = await hello(raw);
      const { pushEndpoint } = await register(raw, 'c1');
      const response = await pushWithWebPush(
        { endpoint: pushEndpoint as string, keys: fakeKeys() },
        'x',
        vapid,
      );
      const version = messageIdOf(response);
      await raw.next();
      raw.send({ messageType: 'nack', version, code: 302 });
      const nack = await ackOf(service, version);
      expect(nack).toEqual({ channelID: 'c1', version, code: 302, kind: 'nack', uaid });
      expect(service.stats().nacked).toEqual({ 302: 1 });
    });

    it('answers a ping {} with {}', async () => {
      const raw = await openRaw();
      await hello(raw);
      raw.send({});
      expect(await raw.next()).toEqual({});
    });
  });

  describe('bad input', () => {
    const badFrames: (string | Frame)[] = [
      'not json',
      '[]',
      '42',
      'null',
      { messageType: 'bogus' },
      { messageType: 'register' },
      { messageType: 'register', channelID: 7 },
      { messageType: 'ack', updates: 'x' },
      { messageType: 'ack', updates: [{ channelID: 'c1' }] },
      { messageType: 'unregister', channelID: 'c1', code: 'x' },
      { messageType: 'hello' },
    ];

    it('closes only the socket that sent a malformed frame, and keeps serving', async () => {
      const bystander = await subscribeBare(service.wsUrl, vapid.publicKey);
      sockets.push(bystander.client.socket);
      for (const frame of badFrames) {
        const raw = await openRaw();
        await hello(raw);
        raw.send(frame);
        expect(await raw.closed()).toBe(
          typeof frame === 'object' && frame.messageType === 'hello'
            ? PushCloseCode.HelloRequired
            : PushCloseCode.BadFrame,
        );
      }
      const binary = await openRaw();
      binary.socket.send(Buffer.from([1, 2, 3]));
      expect(await binary.closed()).toBe(PushCloseCode.BadFrame);

      const response = await pushWithWebPush(bystander.subscription, 'still here', vapid);
      expect(response.status).toBe(201);
      expect(await bystander.client.next()).toMatchObject({
        messageType: 'notification',
        channelID: bystander.channelID,
        version: messageIdOf(response),
      });
      expect(bystander.client.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('closes a socket whose first frame is not hello', async () => {
      const raw = await openRaw();
      raw.send({ messageType: 'register', channelID: 'c1', key: paddedKey });
      expect(await raw.closed()).toBe(PushCloseCode.HelloRequired);
    });

    it('refuses an upgrade without the push-notification subprotocol or off "/"', async () => {
      await expect(openRaw(null)).rejects.toThrow('Unexpected server response: 400');
      const elsewhere = new WebSocket(`${service.wsUrl}elsewhere`, 'push-notification');
      elsewhere.on('error', () => {});
      const [, response] = (await once(elsewhere, 'unexpected-response')) as [
        unknown,
        { statusCode: number },
      ];
      expect(response.statusCode).toBe(404);
      elsewhere.terminate();
    });

    it('survives a malformed HTTP request', async () => {
      const socket = connect(service.port, '127.0.0.1');
      socket.write('BLAH\r\n\r\n');
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      expect(chunk.toString()).toMatch(/^HTTP\/1\.1 400/);
      socket.destroy();
      expect((await send(`${service.url}/push/x`, { method: 'POST' })).status).toBe(404);
    });
  });
});

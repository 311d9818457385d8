import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, REGISTRATION_HEADER, REGISTRATION_HEADER_VALUE } from '../protocol/index.js';
import { serveLocally } from '../test/support/yoga.js';
import { createTestServer, newTabId, refusal, type TestServer } from './test-support.js';

/**
 * A page on another site can submit forms to our endpoint without a CORS preflight, and the
 * browser attaches the victim's cookies. Each such request must be refused, store nothing and
 * lead to no push.
 */

const SUBSCRIPTION = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock note } }';
const VICTIM_COOKIE = 'session=victim-secret';
const ATTACKER = 'https://attacker.example';

let server: TestServer;
afterEach(async () => {
  await server.yoga.dispose();
});

/** The attacker's own push subscription and tab: where the victim's data would go. */
async function attackerTarget() {
  const { subscriptionId } = await server.subscribe();
  return { subscriptionId, tabId: newTabId(), operationKey: '1' };
}

async function answerOf(response: Response) {
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text ? JSON.parse(text) : null,
  };
}

/** Nothing was registered for the attacker, and an event pushes nothing. */
async function expectNothingStoredOrPushed(target: { subscriptionId: string; tabId: string }) {
  expect(await server.store.listByTab(target.tabId)).toEqual([]);
  expect(await server.store.listBySubscription(target.subscriptionId)).toEqual([]);
  await server.publish({ id: 'p1', stock: 3 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(server.sender.sent).toEqual([]);
}

describe('registration from another site', () => {
  it('refuses an HTML form (application/x-www-form-urlencoded) with 415, stores and pushes nothing', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const form = new URLSearchParams({
      query: SUBSCRIPTION,
      variables: JSON.stringify({ p: 'p1' }),
      extensions: JSON.stringify({ webPush: target }),
    });
    const response = await server.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: VICTIM_COOKIE,
        origin: ATTACKER,
        'sec-fetch-site': 'cross-site',
      },
      body: form.toString(),
    });
    expect(await answerOf(response)).toMatchObject(refusal(415, ErrorCode.UnsupportedMediaType));
    await expectNothingStoredOrPushed(target);
  });

  it('refuses a multipart/form-data form with 415, stores and pushes nothing', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const form = new FormData();
    form.set(
      'operations',
      JSON.stringify({
        query: SUBSCRIPTION,
        variables: { p: 'p1' },
        extensions: { webPush: target },
      }),
    );
    form.set('map', '{}');
    const response = await server.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { cookie: VICTIM_COOKIE, origin: ATTACKER, 'sec-fetch-site': 'cross-site' },
      body: form,
    });
    expect(await answerOf(response)).toMatchObject(refusal(415, ErrorCode.UnsupportedMediaType));
    await expectNothingStoredOrPushed(target);
  });

  it('refuses a text/plain body (the other simple request) with 415, stores and pushes nothing', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const response = await server.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        cookie: VICTIM_COOKIE,
        origin: ATTACKER,
        'sec-fetch-site': 'cross-site',
      },
      body: JSON.stringify({
        query: SUBSCRIPTION,
        variables: { p: 'p1' },
        extensions: { webPush: target },
      }),
    });
    expect(response.status).toBe(415);
    await expectNothingStoredOrPushed(target);
  });

  it('refuses a registration by GET (a link, an image) with 405, stores and pushes nothing', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const params = new URLSearchParams({
      query: SUBSCRIPTION,
      variables: JSON.stringify({ p: 'p1' }),
      extensions: JSON.stringify({ webPush: target }),
    });
    const response = await server.yoga.fetch(`http://yoga/graphql?${params}`, {
      headers: { cookie: VICTIM_COOKIE, accept: 'application/json' },
    });
    expect(await answerOf(response)).toMatchObject(refusal(405, ErrorCode.MethodNotAllowed));
    await expectNothingStoredOrPushed(target);
  });

  it('refuses a JSON registration from a cross-site Origin with the victim’s cookie with 403', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const answer = await server.register(
      target,
      SUBSCRIPTION,
      { p: 'p1' },
      {
        cookie: VICTIM_COOKIE,
        origin: ATTACKER,
      },
    );
    expect(answer).toMatchObject(refusal(403, ErrorCode.ForbiddenOrigin));
    await expectNothingStoredOrPushed(target);
  });

  it('refuses Sec-Fetch-Site: cross-site without an Origin with 403', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const answer = await server.register(
      target,
      SUBSCRIPTION,
      { p: 'p1' },
      {
        cookie: VICTIM_COOKIE,
        'sec-fetch-site': 'cross-site',
      },
    );
    expect(answer).toMatchObject(refusal(403, ErrorCode.ForbiddenOrigin));
    await expectNothingStoredOrPushed(target);
  });

  it('refuses an opaque (null) Origin with 403', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const answer = await server.register(target, SUBSCRIPTION, { p: 'p1' }, { origin: 'null' });
    expect(answer).toMatchObject(refusal(403, ErrorCode.ForbiddenOrigin));
    await expectNothingStoredOrPushed(target);
  });

  it('refuses JSON without the registration header with 400: no form can add it', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const response = await server.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        query: SUBSCRIPTION,
        variables: { p: 'p1' },
        extensions: { webPush: target },
      }),
    });
    expect(await answerOf(response)).toMatchObject(refusal(400, ErrorCode.BadRequest));
    await expectNothingStoredOrPushed(target);
  });

  it('accepts the page’s own origin, and another origin only when allowedOrigins lists it', async () => {
    server = createTestServer({ allowedOrigins: ['https://APP.example:443'] });
    const own = await attackerTarget();
    const sameOrigin = await server.register(
      own,
      SUBSCRIPTION,
      { p: 'p1' },
      {
        origin: 'http://yoga',
        'sec-fetch-site': 'same-origin',
        cookie: VICTIM_COOKIE,
      },
    );
    expect(sameOrigin.status).toBe(200);
    const listed = await server.register(
      { ...own, tabId: newTabId() },
      SUBSCRIPTION,
      { p: 'p1' },
      { origin: 'https://app.example', 'sec-fetch-site': 'same-site' },
    );
    expect(listed.status).toBe(200);
    const other = await server.register(
      { ...own, tabId: newTabId() },
      SUBSCRIPTION,
      { p: 'p1' },
      { origin: 'https://evil.app.example', 'sec-fetch-site': 'same-site' },
    );
    expect(other).toMatchObject(refusal(403, ErrorCode.ForbiddenOrigin));
    expect(await server.store.listBySubscription(own.subscriptionId)).toHaveLength(2);
  });

  it('accepts an Origin whose host is the request’s Host header (TLS ends at a proxy)', async () => {
    server = createTestServer();
    const target = await attackerTarget();
    const answer = await server.register(
      target,
      SUBSCRIPTION,
      { p: 'p1' },
      {
        origin: 'https://yoga',
        host: 'yoga',
      },
    );
    expect(answer.status).toBe(200);
  });
});

describe('state-changing routes from another site', () => {
  it('refuses PUT and DELETE subscriptions, renew, move and unregister from a cross-site Origin with 403 and changes nothing', async () => {
    server = createTestServer();
    const { subscriptionId } = await server.subscribe();
    const other = await server.subscribe();
    const { registrationId, tabId } = await server.registered(subscriptionId);
    const before = await server.store.getRegistration(registrationId);
    const crossSite = { origin: ATTACKER, cookie: VICTIM_COOKIE };
    const put = await server.call(
      'PUT',
      '/push/subscriptions',
      { endpoint: 'http://127.0.0.1:9999/push/evil', keys: { p256dh: 'x', auth: 'y' } },
      crossSite,
    );
    const renew = await server.call(
      'POST',
      '/push/renew',
      { tabId, registrations: [{ registrationId, ackedSeq: 0 }] },
      crossSite,
    );
    const unregister = await server.call(
      'POST',
      '/push/unregister',
      { tabId, registrationIds: [registrationId] },
      crossSite,
    );
    const move = await server.call(
      'POST',
      '/push/move',
      { tabId, subscriptionId: other.subscriptionId, registrationIds: [registrationId] },
      crossSite,
    );
    const remove = await server.call(
      'DELETE',
      '/push/subscriptions',
      { subscriptionId },
      crossSite,
    );
    for (const answer of [put, renew, unregister, move, remove]) {
      expect(answer).toMatchObject(refusal(403, ErrorCode.ForbiddenOrigin));
    }
    expect(await server.store.getRegistration(registrationId)).toEqual(before);
    expect(await server.store.getSubscription(subscriptionId)).not.toBeNull();
  });

  it('refuses a text/plain renew, move or subscription delete with 415 and changes nothing', async () => {
    server = createTestServer();
    const { subscriptionId } = await server.subscribe();
    const other = await server.subscribe();
    const { registrationId, tabId } = await server.registered(subscriptionId);
    const before = await server.store.getRegistration(registrationId);
    const plain = { 'content-type': 'text/plain;charset=UTF-8' };
    const answers = [
      await server.call(
        'POST',
        '/push/renew',
        JSON.stringify({ tabId, registrations: [{ registrationId, ackedSeq: 0 }] }),
        plain,
      ),
      await server.call(
        'POST',
        '/push/move',
        JSON.stringify({
          tabId,
          subscriptionId: other.subscriptionId,
          registrationIds: [registrationId],
        }),
        plain,
      ),
      await server.call('DELETE', '/push/subscriptions', JSON.stringify({ subscriptionId }), plain),
    ];
    for (const answer of answers) {
      expect(answer).toMatchObject(refusal(415, ErrorCode.UnsupportedMediaType));
    }
    expect(await server.store.getRegistration(registrationId)).toEqual(before);
    expect(await server.store.getSubscription(subscriptionId)).not.toBeNull();
  });

  it('refuses a text/plain unregister (what sendBeacon sends) with 415 and keeps the registration', async () => {
    server = createTestServer();
    const { subscriptionId } = await server.subscribe();
    const { registrationId, tabId } = await server.registered(subscriptionId);
    const answer = await server.call(
      'POST',
      '/push/unregister',
      JSON.stringify({ tabId, registrationIds: [registrationId] }),
      { 'content-type': 'text/plain;charset=UTF-8' },
    );
    expect(answer).toMatchObject(refusal(415, ErrorCode.UnsupportedMediaType));
    expect(await server.store.getRegistration(registrationId)).not.toBeNull();
  });
});

describe('registration requests on a real HTTP server', () => {
  async function withHttp(run: (port: number) => Promise<void>) {
    server = createTestServer({ maxBodyBytes: 4096 });
    const http = await serveLocally(server.yoga);
    try {
      await run(http.port);
    } finally {
      await http.close();
    }
  }

  it('answers a registration with exactly one Content-Type header', async () => {
    await withHttp(async (port) => {
      const { subscriptionId } = await server.subscribe();
      const raw = await new Promise<string[]>((resolve, reject) => {
        const req = httpRequest(
          {
            port,
            host: '127.0.0.1',
            path: '/graphql',
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/graphql-response+json',
              [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE,
            },
          },
          (res) => {
            res.resume();
            resolve(res.rawHeaders);
          },
        );
        req.on('error', reject);
        req.end(
          JSON.stringify({
            query: SUBSCRIPTION,
            variables: { p: 'p1' },
            extensions: { webPush: { subscriptionId, tabId: newTabId(), operationKey: '1' } },
          }),
        );
      });
      const names = raw.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
      expect(names.filter((name) => name === 'content-type')).toHaveLength(1);
      expect(raw[raw.findIndex((name) => name.toLowerCase() === 'content-type') + 1]).toBe(
        'application/graphql-response+json; charset=utf-8',
      );
    });
  });

  it('refuses a Content-Length over maxBodyBytes with 413 before reading the body', async () => {
    await withHttp(async (port) => {
      let sent = 0;
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            port,
            host: '127.0.0.1',
            path: '/graphql',
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': String(20 * 1024 * 1024),
              [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE,
            },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk) => {
              body += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', () => {});
        // A first chunk only; the answer must come without the other 20 MB.
        const chunk = Buffer.alloc(1024, 0x20);
        req.write(chunk);
        sent += chunk.length;
        setTimeout(() => reject(new Error('no answer before the body was sent')), 5_000).unref();
      });
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({
        errors: [{ extensions: { code: ErrorCode.TooLarge } }],
      });
      expect(sent).toBe(1024);
    });
  });
});

describe('registration variables', () => {
  it('refuses variables over maxVariablesBytes with 413 and stores nothing', async () => {
    server = createTestServer({ maxVariablesBytes: 1024, maxBodyBytes: 65_536 });
    const target = await attackerTarget();
    const answer = await server.register(target, SUBSCRIPTION, { p: 'p1', pad: 'x'.repeat(2000) });
    expect(answer).toMatchObject(refusal(413, ErrorCode.TooLarge));
    expect(await server.store.listByTab(target.tabId)).toEqual([]);
  });

  it('refuses variables nested 100,000 deep with 400, logs no error, and keeps serving', async () => {
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    server = createTestServer({ maxBodyBytes: 1024 * 1024, logger });
    const target = await attackerTarget();
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const response = await server.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        [REGISTRATION_HEADER]: REGISTRATION_HEADER_VALUE,
      },
      body: `{"query":${JSON.stringify(SUBSCRIPTION)},"variables":{"p":"p1","deep":${deep}},"extensions":{"webPush":${JSON.stringify(target)}}}`,
    });
    expect(await answerOf(response)).toMatchObject(refusal(400, ErrorCode.BadRequest));
    expect(logger.error).not.toHaveBeenCalled();
    expect(await server.store.listByTab(target.tabId)).toEqual([]);
    const ok = await server.register({ ...target, tabId: newTabId() });
    expect(ok.status).toBe(200);
  });

  it('accepts variables nested up to maxVariablesDepth', async () => {
    server = createTestServer({ maxVariablesDepth: 4 });
    const target = await attackerTarget();
    // The variables object is level 1.
    const fits = await server.register(target, SUBSCRIPTION, { p: 'p1', a: { b: { c: {} } } });
    expect(fits.status).toBe(200);
    const deeper = await server.register({ ...target, tabId: newTabId() }, SUBSCRIPTION, {
      p: 'p1',
      a: { b: { c: { d: {} } } },
    });
    expect(deeper).toMatchObject(refusal(400, ErrorCode.BadRequest));
  });
});

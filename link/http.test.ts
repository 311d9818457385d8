import { describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../protocol/index.js';
import { LinkErrorCode } from './errors.js';
import { createRegistrationClient } from './http.js';

const answer = (status: number, body?: unknown) =>
  ({
    ok: status >= 200 && status < 300,
    status,
    text: async () =>
      body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
  }) as Response;

const clientWith = (respond: (url: string, init?: RequestInit) => Response | Promise<Response>) => {
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) =>
    respond(String(input), init),
  );
  return {
    fetch,
    client: createRegistrationClient({
      url: 'https://api.example/graphql',
      settings: () => ({ fetch: fetch as typeof globalThis.fetch }),
    }),
  };
};

const envelope = (reg: string, tab: string, seq: number): Envelope => ({
  v: 1,
  id: `${reg}:${seq}`,
  tab,
  reg,
  seq,
  type: 'next',
  payload: { data: {} },
});

describe('registration client', () => {
  it('builds route URLs below the GraphQL endpoint, keeping its query string', () => {
    const client = createRegistrationClient({
      url: 'https://api.example/graphql/?tenant=7',
      settings: () => ({ fetch }),
    });
    expect(client.routeUrl('config')).toBe('https://api.example/graphql/push/config?tenant=7');
    expect(client.routeUrl('unregister')).toBe(
      'https://api.example/graphql/push/unregister?tenant=7',
    );
  });

  it('returns the parsed config', async () => {
    const config = {
      applicationServerKey: 'k',
      registrationTtlMs: 1,
      renewIntervalMs: 2,
      maxPayloadBytes: 3,
      streamHeartbeatMs: 4,
    };
    const { client, fetch } = clientWith(() => answer(200, config));
    expect(await client.config()).toEqual({ ok: true, value: config });
    expect(fetch.mock.calls[0]?.[1]?.method).toBe('GET');
    // A GET without a body carries no content-type, so it needs no CORS preflight.
    expect(new Headers(fetch.mock.calls[0]?.[1]?.headers).has('content-type')).toBe(false);
  });

  it('reports a fetch that throws as WEB_PUSH_LINK_NETWORK', async () => {
    const { client } = clientWith(() => {
      throw new TypeError('Failed to fetch');
    });
    const result = await client.config();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe(LinkErrorCode.Network);
      expect(result.error.name).toBe('WebPushLinkError');
      expect((result.error.cause as Error).message).toBe('Failed to fetch');
    }
  });

  it('reports a non-2xx answer as WEB_PUSH_LINK_HTTP with the status and server code', async () => {
    const { client } = clientWith(() =>
      answer(404, {
        errors: [{ message: 'no', extensions: { code: 'WEB_PUSH_UNKNOWN_SUBSCRIPTION' } }],
      }),
    );
    const result = await client.renew({ tabId: 't', registrations: [] });
    expect(result).toMatchObject({
      ok: false,
      error: { code: LinkErrorCode.Http, status: 404, serverCode: 'WEB_PUSH_UNKNOWN_SUBSCRIPTION' },
    });
  });

  it('reports a 2xx answer of the wrong shape as WEB_PUSH_LINK_BAD_RESPONSE', async () => {
    const { client } = clientWith(() => answer(200, '<html>'));
    const result = await client.putSubscription({
      endpoint: 'e',
      keys: { p256dh: 'p', auth: 'a' },
    });
    expect(result).toMatchObject({ ok: false, error: { code: LinkErrorCode.BadResponse } });
  });

  it('tells a registration ack from GraphQL errors', async () => {
    const ack = { registrationId: 'R'.repeat(32), expiresAt: 5, seq: 0 };
    const { client, fetch } = clientWith((_, init) =>
      String(init?.body).includes('bad')
        ? answer(400, { errors: [{ message: 'invalid' }] })
        : answer(200, { extensions: { webPush: ack } }),
    );
    const using = { fetch: fetch as typeof globalThis.fetch };
    expect(await client.register({ query: 'subscription { a }', extensions: {} }, using)).toEqual({
      ok: true,
      value: { kind: 'ack', ack },
    });
    expect(await client.register({ query: 'subscription { bad }', extensions: {} }, using)).toEqual(
      {
        ok: true,
        value: { kind: 'errors', result: { errors: [{ message: 'invalid' }] }, status: 400 },
      },
    );
    const init = fetch.mock.calls[0]?.[1];
    expect(fetch.mock.calls[0]?.[0]).toBe('https://api.example/graphql');
    expect(init?.method).toBe('POST');
    expect(new Headers(init?.headers).get('content-type')).toBe('application/json');
    expect(new Headers(init?.headers).get('x-graphql-web-push')).toBe('register');
  });

  it('reports a registration answer without ack or errors as an error', async () => {
    const { client, fetch } = clientWith(() => answer(200, { data: null }));
    const result = await client.register(
      { query: 'subscription { a }', extensions: {} },
      { fetch: fetch as typeof globalThis.fetch },
    );
    expect(result).toMatchObject({ ok: false, error: { code: LinkErrorCode.BadResponse } });
  });

  it('asks the log with tabId, registrationId and after, and keeps only that registration', async () => {
    const { client, fetch } = clientWith(() =>
      answer(200, {
        envelopes: [envelope('r1', 't1', 3), envelope('r2', 't1', 3), envelope('r1', 't2', 4)],
        lastSeq: 4,
      }),
    );
    const result = await client.messages({ tabId: 't1', registrationId: 'r1', after: 2 });
    expect(result).toEqual({
      ok: true,
      value: { envelopes: [envelope('r1', 't1', 3)], lastSeq: 4 },
    });
    const url = new URL(String(fetch.mock.calls[0]?.[0]));
    expect(url.pathname).toBe('/graphql/push/messages');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      tabId: 't1',
      registrationId: 'r1',
      after: '2',
    });
  });
});

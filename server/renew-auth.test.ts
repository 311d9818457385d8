import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestServer, newTabId, refusal, type TestServer } from './test-support.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.yoga.dispose();
  server = undefined;
});

/** The kept `authorization` header must still be the caller's. */
const sameBearer = (request: Request, registrations: { headers: Record<string, string> }[]) =>
  registrations.every((r) => r.headers.authorization === request.headers.get('authorization'));

async function registerAs(s: TestServer, authorization: string) {
  const { subscriptionId } = await s.subscribe();
  const tabId = newTabId();
  const answer = await s.register(
    { subscriptionId, tabId, operationKey: '1' },
    undefined,
    undefined,
    { authorization },
  );
  expect(answer.status).toBe(200);
  return { tabId, registrationId: answer.body.extensions.webPush.registrationId as string };
}

describe('useWebPush: authorizeRenewal re-checks the caller on every renewal', () => {
  it('renews for the same credentials and refuses others with 401, renewing nothing', async () => {
    server = createTestServer({ authorizeRenewal: sameBearer });
    const { tabId, registrationId } = await registerAs(server, 'Bearer alice');
    const before = await server.store.getRegistration(registrationId);
    const body = { tabId, registrations: [{ registrationId, ackedSeq: 0 }] };

    const refused = await server.call('POST', '/push/renew', body, {
      authorization: 'Bearer mallory',
    });
    expect(refused).toMatchObject(refusal(401, 'WEB_PUSH_UNAUTHENTICATED'));
    expect((await server.store.getRegistration(registrationId))?.expiresAt).toBe(before?.expiresAt);

    const renewed = await server.call('POST', '/push/renew', body, {
      authorization: 'Bearer alice',
    });
    expect(renewed.status).toBe(200);
    expect(renewed.body.gone).toEqual([]);
    expect((await server.store.getRegistration(registrationId))?.expiresAt).toBe(
      renewed.body.expiresAt,
    );
  });

  it('ends a registration whose renewals are refused once its expiry passes, closing its stream', async () => {
    server = createTestServer({
      authorizeRenewal: sameBearer,
      registrationTtlMs: 300,
      sweepIntervalMs: 20,
    });
    const s = server;
    const { tabId, registrationId } = await registerAs(s, 'Bearer alice');

    const refused = await s.call(
      'POST',
      '/push/renew',
      { tabId, registrations: [{ registrationId, ackedSeq: 0 }] },
      { authorization: 'Bearer expired-token' },
    );
    expect(refused.status).toBe(401);

    await vi.waitFor(() => expect(s.inventory.counters.returned.get('p1')).toBe(1), {
      timeout: 3_000,
      interval: 10,
    });
    expect(await s.store.getRegistration(registrationId)).toBeNull();
  });

  it('counts a hook that throws as a refusal', async () => {
    server = createTestServer({
      authorizeRenewal: () => {
        throw new Error('session store down');
      },
    });
    const { tabId, registrationId } = await registerAs(server, 'Bearer alice');
    const answer = await server.call(
      'POST',
      '/push/renew',
      { tabId, registrations: [{ registrationId, ackedSeq: 0 }] },
      { authorization: 'Bearer alice' },
    );
    expect(answer).toMatchObject(refusal(401, 'WEB_PUSH_UNAUTHENTICATED'));
  });
});

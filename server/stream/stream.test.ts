import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Envelope, ErrorCode, type StreamEvent } from '../../protocol/index.js';
import { createTestYoga } from '../../test/support/yoga.js';
import { createMemoryStore } from '../store/memory.js';
import {
  createInventory,
  createRecordingSender,
  createTestServer,
  newTabId,
  refusal,
  type TestServer,
} from '../test-support.js';
import { readStream, type StreamReader } from './test-support.js';

const SUBSCRIPTION = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock note } }';

const servers: TestServer[] = [];
const readers: StreamReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.cancel()));
  await Promise.all(servers.splice(0).map((server) => server.yoga.dispose()));
});

function start(options: Parameters<typeof createTestServer>[0] = {}) {
  const server = createTestServer(options);
  servers.push(server);
  return server;
}

/** Registers a stream-delivered subscription (no push subscription) for the tab. */
async function streamed(server: TestServer, tabId = newTabId(), product = 'p1') {
  const answer = await server.register({ tabId, operationKey: product }, SUBSCRIPTION, {
    p: product,
  });
  if (answer.status !== 200) throw new Error(JSON.stringify(answer.body));
  return { tabId, registrationId: answer.body.extensions.webPush.registrationId as string };
}

async function open(server: TestServer, query: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await server.yoga.fetch(`http://yoga/graphql/push/stream?${query}`, {
    headers,
    signal: abort.signal,
  });
  if (response.status !== 200) throw new Error(`${response.status}: ${await response.text()}`);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const reader = readStream(response, abort);
  readers.push(reader);
  return reader;
}

const stocks = (envelopes: Envelope[]) =>
  envelopes.map(
    (e) => (e.payload as { data: { stockChanged: { stock: number } } }).data.stockChanged.stock,
  );

const envelopeCount = (n: number) => (events: StreamEvent[]) =>
  events.filter((event) => event.kind === 'envelope').length >= n;

describe('GET …/push/stream', () => {
  it('streams a registration without a push subscription: ready, then each event once, in order', async () => {
    const server = start();
    const { tabId, registrationId } = await streamed(server);
    const reader = await open(server, `tabId=${tabId}`);
    await reader.until((events) => events.length >= 1);
    expect(reader.events[0]).toEqual({
      kind: 'ready',
      registrations: { [registrationId]: 0 },
      heartbeatMs: 15_000,
    });

    for (const stock of [5, 4, 3]) await server.publish({ id: 'p1', stock });

    await reader.until(envelopeCount(3));
    const envelopes = reader.envelopes();
    expect(envelopes.map((e) => [e.reg, e.seq, e.tab])).toEqual([
      [registrationId, 1, tabId],
      [registrationId, 2, tabId],
      [registrationId, 3, tabId],
    ]);
    expect(stocks(envelopes)).toEqual([5, 4, 3]);
    // Nothing went to a push service.
    expect(server.sender.sent).toEqual([]);
  });

  it('resumes after the positions given, and after Last-Event-ID, with nothing repeated', async () => {
    const server = start();
    const { tabId, registrationId } = await streamed(server);
    const other = await streamed(server, tabId, 'p2');
    for (const stock of [1, 2, 3]) await server.publish({ id: 'p1', stock });
    await server.publish({ id: 'p2', stock: 9 });
    await vi.waitFor(async () =>
      expect((await server.store.getMessages(other.registrationId, 0, 10)).length).toBe(1),
    );

    const byPositions = await open(
      server,
      `tabId=${tabId}&after=${registrationId}:2,${other.registrationId}:1`,
    );
    await byPositions.until(envelopeCount(1));
    expect(byPositions.envelopes().map((e) => e.id)).toEqual([`${registrationId}:3`]);

    const byLastEventId = await open(server, `tabId=${tabId}`, {
      'last-event-id': `${registrationId}:1`,
    });
    // Not named: the other registration starts after its ack (0), all of it again.
    await byLastEventId.until(envelopeCount(3));
    expect(
      byLastEventId
        .envelopes()
        .map((e) => e.id)
        .sort(),
    ).toEqual([`${registrationId}:2`, `${registrationId}:3`, `${other.registrationId}:1`].sort());
  });

  it('serves a tab’s stream on any instance: an append on one wakes the stream held by another', async () => {
    const store = createMemoryStore();
    const a = start({ store });
    const b = start({ store });
    const { tabId, registrationId } = await streamed(a);
    const reader = await open(b, `tabId=${tabId}`);
    await reader.until((events) => events.length >= 1);

    await a.publish({ id: 'p1', stock: 7 });

    await reader.until(envelopeCount(1));
    expect(reader.envelopes().map((e) => e.id)).toEqual([`${registrationId}:1`]);
  });

  it('adds a registration the tab makes while its stream is open', async () => {
    const server = start();
    const first = await streamed(server);
    const reader = await open(server, `tabId=${first.tabId}`);
    await reader.until((events) => events.length >= 1);
    const later = await streamed(server, first.tabId, 'p2');

    await server.publish({ id: 'p2', stock: 2 });

    await reader.until(envelopeCount(1));
    expect(reader.envelopes().map((e) => e.id)).toEqual([`${later.registrationId}:1`]);
  });

  it('says when a registration is gone, and ends once the tab has none left', async () => {
    const server = start();
    const { tabId, registrationId } = await streamed(server);
    const other = await streamed(server, tabId, 'p2');
    const reader = await open(server, `tabId=${tabId}`);
    await reader.until((events) => events.length >= 1);

    await server.call('POST', '/push/unregister', { tabId, registrationIds: [registrationId] });
    await reader.until((events) => events.some((e) => e.kind === 'gone'));
    await server.call('POST', '/push/unregister', {
      tabId,
      registrationIds: [other.registrationId],
    });

    await reader.until((events) => events.some((e) => e.kind === 'end'));
    expect(reader.events.slice(1)).toEqual([
      { kind: 'gone', registrationId },
      { kind: 'gone', registrationId: other.registrationId },
      { kind: 'end', reason: 'no-registrations' },
    ]);
    await vi.waitFor(() => expect(reader.done).toBe(true));
  });

  it('sends heartbeats while nothing happens', async () => {
    const server = start({ streamHeartbeatMs: 30 });
    const { tabId } = await streamed(server);
    const reader = await open(server, `tabId=${tabId}`);
    await vi.waitFor(() => expect(reader.heartbeats).toBeGreaterThanOrEqual(3), { timeout: 2_000 });
  });

  it('ends a stream past its age with reconnect, and the next one resumes where it stopped', async () => {
    const server = start({ streamMaxAgeMs: 150, streamHeartbeatMs: 20 });
    const { tabId, registrationId } = await streamed(server);
    const first = await open(server, `tabId=${tabId}`);
    await server.publish({ id: 'p1', stock: 1 });
    await first.until((events) => events.some((e) => e.kind === 'end'));
    expect(first.events.at(-1)).toEqual({ kind: 'end', reason: 'reconnect' });

    await server.publish({ id: 'p1', stock: 2 });
    const next = await open(server, `tabId=${tabId}&after=${registrationId}:1`);
    await next.until(envelopeCount(1));
    expect(next.envelopes().map((e) => e.seq)).toEqual([2]);
  });

  it('lets a newer stream of the tab replace the oldest past maxStreamsPerTab', async () => {
    const server = start({ maxStreamsPerTab: 1 });
    const { tabId } = await streamed(server);
    const old = await open(server, `tabId=${tabId}`);
    await old.until((events) => events.length >= 1);
    const fresh = await open(server, `tabId=${tabId}`);
    await old.until((events) => events.some((e) => e.kind === 'end'));
    expect(old.events.at(-1)).toEqual({ kind: 'end', reason: 'replaced' });
    await fresh.until((events) => events.length >= 1);
    expect(fresh.done).toBe(false);
  });

  it('forgets a stream whose client went away: its signal listener and its place', async () => {
    const store = createMemoryStore();
    let listening = 0;
    const listen = store.listen.bind(store);
    store.listen = (tabId, listener) => {
      listening++;
      const stop = listen(tabId, listener);
      return () => {
        listening--;
        stop();
      };
    };
    const server = start({ store, maxStreams: 1 });
    const first = await streamed(server);
    const second = await streamed(server);
    const before = listening;
    const reader = await open(server, `tabId=${first.tabId}`);
    await reader.until((events) => events.length >= 1);
    // The tab's channel and its registration's group's.
    expect(listening).toBe(before + 2);

    await reader.cancel();

    await vi.waitFor(() => expect(listening).toBe(before));
    const next = await open(server, `tabId=${second.tabId}`);
    await next.until((events) => events.length >= 1);
  });
});

describe('GET …/push/stream refusals', () => {
  const cases: {
    name: string;
    query: (ids: { tabId: string; registrationId: string; foreign: string }) => string;
    headers?: Record<string, string>;
    status: number;
    code: string;
  }[] = [
    {
      name: 'a malformed tab id',
      query: () => 'tabId=short',
      status: 400,
      code: ErrorCode.BadRequest,
    },
    { name: 'no tab id', query: () => '', status: 400, code: ErrorCode.BadRequest },
    {
      name: 'a tab with no registration',
      query: () => `tabId=${newTabId()}`,
      status: 404,
      code: ErrorCode.UnknownTab,
    },
    {
      name: 'a position of another tab’s registration',
      query: ({ tabId, foreign }) => `tabId=${tabId}&after=${foreign}:0`,
      status: 404,
      code: ErrorCode.UnknownRegistration,
    },
    {
      name: 'a malformed position',
      query: ({ tabId, registrationId }) => `tabId=${tabId}&after=${registrationId}:x`,
      status: 400,
      code: ErrorCode.BadRequest,
    },
    {
      name: 'a malformed Last-Event-ID',
      query: ({ tabId }) => `tabId=${tabId}`,
      headers: { 'last-event-id': 'not-an-id' },
      status: 400,
      code: ErrorCode.BadRequest,
    },
  ];

  for (const { name, query, headers = {}, status, code } of cases) {
    it(`refuses ${name} with ${status} ${code}, and keeps serving`, async () => {
      const server = start();
      const { tabId, registrationId } = await streamed(server);
      const foreign = (await streamed(server)).registrationId;
      const response = await server.yoga.fetch(
        `http://yoga/graphql/push/stream?${query({ tabId, registrationId, foreign })}`,
        { headers },
      );
      expect({ status: response.status, body: await response.json() }).toMatchObject(
        refusal(status, code),
      );
      const reader = await open(server, `tabId=${tabId}`);
      await server.publish({ id: 'p1', stock: 1 });
      await reader.until(envelopeCount(1));
    });
  }

  it('refuses a stream past maxStreams with 503 and Retry-After', async () => {
    const server = start({ maxStreams: 1 });
    const a = await streamed(server);
    const b = await streamed(server);
    await open(server, `tabId=${a.tabId}`);
    const response = await server.yoga.fetch(`http://yoga/graphql/push/stream?tabId=${b.tabId}`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({
      errors: [{ extensions: { code: ErrorCode.OverCapacity } }],
    });
  });

  it('refuses methods other than GET with 405', async () => {
    const server = start();
    const answer = await server.call('POST', '/push/stream', {});
    expect(answer).toMatchObject(refusal(405, ErrorCode.MethodNotAllowed));
  });
});

describe('ending streams', () => {
  it('ends every stream with reconnect when Yoga is disposed (a deploy), so clients resume elsewhere', async () => {
    const inventory = createInventory();
    const { yoga } = createTestYoga({ schema: inventory.schema, sender: createRecordingSender() });
    const registered = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-graphql-web-push': 'register',
      },
      body: JSON.stringify({
        query: SUBSCRIPTION,
        variables: { p: 'p1' },
        extensions: { webPush: { tabId: 'T'.repeat(22), operationKey: '1' } },
      }),
    });
    expect(registered.status).toBe(200);
    const response = await yoga.fetch(`http://yoga/graphql/push/stream?tabId=${'T'.repeat(22)}`);
    const reader = readStream(response);
    await reader.until((events) => events.length >= 1);
    await yoga.dispose();
    await reader.until((events) => events.some((e) => e.kind === 'end'));
    expect(reader.events.at(-1)).toEqual({ kind: 'end', reason: 'reconnect' });
  });
});

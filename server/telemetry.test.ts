import { createRequire } from 'node:module';
import { context, metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBase64UrlId } from '../protocol/base64url.js';
import type { Envelope } from '../protocol/index.js';
import type { RouteContext } from './routes/context.js';
import { getMessages } from './routes/messages.js';
import { createResponder } from './routes/respond.js';
import type { Store } from './store/types.js';
import {
  AsyncLocalContextManager,
  createTelemetryHarness,
  histogramOf,
  pointsOf,
  type TelemetryHarness,
} from './telemetry/test-support.js';
import { createTelemetry, type Telemetry } from './telemetry.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const FCM = 'https://fcm.googleapis.com';
const fcm = { 'server.address': 'fcm.googleapis.com', 'server.port': 443 };
const LOCAL = 'http://127.0.0.1:8080';
const local = { 'server.address': '127.0.0.1', 'server.port': 8080 };

let harness: TelemetryHarness;
let telemetry: Telemetry;

beforeEach(() => {
  harness = createTelemetryHarness();
  telemetry = createTelemetry({
    meterProvider: harness.meterProvider,
    tracerProvider: harness.tracerProvider,
  });
});

afterEach(async () => {
  await harness.close();
});

describe('createTelemetry: push metrics', () => {
  it('counts pushes sent by HTTP status and push service, under semantic-convention names', async () => {
    telemetry.pushSent({ status: 201, origin: FCM });
    telemetry.pushSent({ status: 201, origin: FCM });
    telemetry.pushSent({ status: 201, origin: LOCAL });

    const collected = await harness.collect();
    expect(collected.get('graphql_web_push.pushes.sent')).toMatchObject({
      unit: '{push}',
      type: 'SUM',
      scope: { name: 'graphql-web-push', version },
    });
    expect(pointsOf(collected, 'graphql_web_push.pushes.sent')).toEqual([
      { attributes: { ...local, 'http.response.status_code': 201 }, value: 1 },
      { attributes: { ...fcm, 'http.response.status_code': 201 }, value: 2 },
    ]);
  });

  it('counts failures by reason and status, leaving the status out when no answer came', async () => {
    telemetry.pushFailed({ reason: 'gone', status: 410, origin: FCM });
    telemetry.pushFailed({ reason: 'exhausted', status: 0, origin: FCM });

    const collected = await harness.collect();
    expect(collected.get('graphql_web_push.pushes.failed')?.unit).toBe('{push}');
    expect(pointsOf(collected, 'graphql_web_push.pushes.failed')).toEqual([
      { attributes: { ...fcm, 'error.type': 'exhausted' }, value: 1 },
      { attributes: { ...fcm, 'error.type': 'gone', 'http.response.status_code': 410 }, value: 1 },
    ]);
  });

  it('counts retries by reason, and records 429 waits in seconds by push service', async () => {
    telemetry.pushRetried({ reason: 'rate-limited', origin: FCM });
    telemetry.pushRetried({ reason: 'server-error', origin: FCM });
    telemetry.pushRetried({ reason: 'server-error', origin: FCM });
    telemetry.rateLimitWait(3_000, { origin: FCM });
    telemetry.rateLimitWait(500, { origin: FCM });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.retries')).toEqual([
      { attributes: { ...fcm, 'error.type': 'rate-limited' }, value: 1 },
      { attributes: { ...fcm, 'error.type': 'server-error' }, value: 2 },
    ]);
    expect(collected.get('graphql_web_push.push_service.rate_limit_wait')).toMatchObject({
      unit: 's',
      type: 'HISTOGRAM',
    });
    expect(histogramOf(collected, 'graphql_web_push.push_service.rate_limit_wait')).toEqual([
      { attributes: fcm, count: 2, sum: 3.5 },
    ]);
  });

  it('counts refs pushed by cause', async () => {
    telemetry.refPushed({ cause: 'too-large' });
    telemetry.refPushed({ cause: 'too-large' });
    telemetry.refPushed({ cause: 'refused' });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.refs.pushed')).toEqual([
      { attributes: { 'graphql_web_push.ref.cause': 'refused' }, value: 1 },
      { attributes: { 'graphql_web_push.ref.cause': 'too-large' }, value: 2 },
    ]);
  });

  it('records publish-to-push latency in seconds, in buckets from milliseconds to a minute', async () => {
    telemetry.publishToPush(12);
    telemetry.publishToPush(40_000);

    const collected = await harness.collect();
    const [point] = pointsOf(collected, 'graphql_web_push.publish_to_push.duration');
    expect(collected.get('graphql_web_push.publish_to_push.duration')?.unit).toBe('s');
    const histogram = point?.value as Histogram | undefined;
    expect(histogram?.count).toBe(2);
    expect(histogram?.sum).toBeCloseTo(40.012, 9);
    const { boundaries, counts } = histogram?.buckets ?? { boundaries: [], counts: [] };
    expect(boundaries[0]).toBe(0.005);
    expect(boundaries.at(-1)).toBe(60);
    // 12 ms falls in (0.01, 0.025], 40 s in (30, 60].
    expect(counts[boundaries.indexOf(0.025)]).toBe(1);
    expect(counts[boundaries.indexOf(60)]).toBe(1);
  });
});

describe('createTelemetry: reads of the message log', () => {
  it('counts each answered read and the envelopes it served', async () => {
    telemetry.messagesServed(3);
    telemetry.messagesServed(0);
    telemetry.messagesServed(1);

    const collected = await harness.collect();
    expect(collected.get('graphql_web_push.messages.requests')?.unit).toBe('{request}');
    expect(pointsOf(collected, 'graphql_web_push.messages.requests')).toEqual([
      { attributes: {}, value: 3 },
    ]);
    expect(collected.get('graphql_web_push.messages.served')?.unit).toBe('{envelope}');
    expect(pointsOf(collected, 'graphql_web_push.messages.served')).toEqual([
      { attributes: {}, value: 4 },
    ]);
  });

  it('is what GET …/push/messages records: one read per answer, nothing for a refusal', async () => {
    const tabId = randomBase64UrlId();
    const registrationId = randomBase64UrlId();
    const envelopes = [2, 3].map(
      (seq): Envelope => ({
        v: 1,
        id: `${registrationId}:${seq}`,
        tab: tabId,
        reg: registrationId,
        seq,
        type: 'next',
        payload: { data: { n: seq } },
      }),
    );
    // The route reads two things from the store; the rest of the context is not used.
    const store = {
      getRegistration: async (id: string) => (id === registrationId ? { tabId, seq: 3 } : null),
      getMessages: async () => envelopes,
    } as unknown as Store;
    const routeContext = {
      options: { maxRetainedMessages: 100 },
      store,
      respond: createResponder(Response),
      telemetry,
    } as unknown as RouteContext;
    const url = (registration: string) =>
      new URL(
        `http://yoga/graphql/push/messages?tabId=${tabId}&registrationId=${registration}&after=1`,
      );

    const answer = await getMessages(
      routeContext,
      new Request(url(registrationId)),
      url(registrationId),
    );
    const other = randomBase64UrlId();
    await expect(getMessages(routeContext, new Request(url(other)), url(other))).rejects.toThrow();

    expect(((await answer.json()) as { envelopes: unknown[] }).envelopes).toHaveLength(2);
    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.messages.requests')).toEqual([
      { attributes: {}, value: 1 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.messages.served')).toEqual([
      { attributes: {}, value: 2 },
    ]);
  });
});

describe('createTelemetry: gauges', () => {
  it('reads each source at collection, sums the registered sources, and stops reading removed ones', async () => {
    let pending = 4;
    let streamReads = 0;
    const first = telemetry.observe({
      registrations: async () => 120,
      groups: () => 7,
      streams: () => {
        streamReads += 1;
        return 30;
      },
      pendingPushes: () => pending,
    });
    telemetry.observe({ pendingPushes: () => 1 });

    let collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.registrations.active')).toEqual([
      { attributes: {}, value: 120 },
    ]);
    expect(collected.get('graphql_web_push.registrations.active')).toMatchObject({
      unit: '{registration}',
      type: 'GAUGE',
    });
    expect(pointsOf(collected, 'graphql_web_push.groups.active')).toEqual([
      { attributes: {}, value: 7 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.streams.open')).toEqual([
      { attributes: {}, value: 30 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.pending')).toEqual([
      { attributes: {}, value: 5 },
    ]);

    pending = 9;
    collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.pending')).toEqual([
      { attributes: {}, value: 10 },
    ]);

    first();
    first();
    collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.pending')).toEqual([
      { attributes: {}, value: 1 },
    ]);
    // The SDK keeps a gauge's last point; what matters is that the removed source is not read.
    expect(streamReads).toBe(2);
  });

  it('leaves out a source that throws or rejects, and keeps the others', async () => {
    telemetry.observe({
      registrations: () => Promise.reject(new Error('store unreachable')),
      streams: () => {
        throw new Error('not started');
      },
    });
    telemetry.observe({ streams: () => 2 });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.registrations.active')).toEqual([]);
    expect(pointsOf(collected, 'graphql_web_push.streams.open')).toEqual([
      { attributes: {}, value: 2 },
    ]);
  });
});

describe('createTelemetry: spans', () => {
  beforeEach(() => {
    context.setGlobalContextManager(new AsyncLocalContextManager());
  });
  afterEach(() => {
    context.disable();
  });

  it('runs the work in an active span with its attributes and what the work adds', async () => {
    const result = await telemetry.span('work', { 'server.address': 'a.example' }, async (span) => {
      span.setAttributes({ 'graphql_web_push.push.attempts': 2 });
      span.addEvent('retry', { 'error.type': 'server-error' });
      // A span started inside (an HTTP instrumentation's) is a child of ours.
      harness.tracerProvider.getTracer('inner').startSpan('inner').end();
      return 42;
    });

    expect(result).toBe(42);
    const [inner, outer] = harness.spans();
    expect(outer).toMatchObject({
      name: 'work',
      attributes: { 'server.address': 'a.example', 'graphql_web_push.push.attempts': 2 },
      status: { code: SpanStatusCode.UNSET },
      instrumentationScope: { name: 'graphql-web-push', version },
    });
    expect(outer?.events.map((event) => [event.name, event.attributes])).toEqual([
      ['retry', { 'error.type': 'server-error' }],
    ]);
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
  });

  it('marks the span as an error, records the exception and rethrows when the work throws', async () => {
    const failure = new Error('boom');

    await expect(telemetry.span('work', {}, () => Promise.reject(failure))).rejects.toBe(failure);

    const [span] = harness.spans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(span?.events[0]).toMatchObject({
      name: 'exception',
      attributes: { 'exception.message': 'boom' },
    });
    expect(span?.ended).toBe(true);
  });

  it('marks the span as an error when the work says so without throwing', async () => {
    await telemetry.span('work', {}, async (span) => span.fail('push not delivered: exhausted'));

    expect(harness.spans()[0]?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'push not delivered: exhausted',
    });
  });
});

describe('createTelemetry on the global providers', () => {
  afterEach(() => {
    metrics.disable();
    trace.disable();
  });

  it('records into an SDK registered after it was created, gauges included', async () => {
    const global = createTelemetry();
    global.pushSent({ status: 201, origin: FCM });
    global.observe({ streams: () => 3 });

    metrics.setGlobalMeterProvider(harness.meterProvider);
    trace.setGlobalTracerProvider(harness.tracerProvider);
    global.pushSent({ status: 201, origin: FCM });
    await global.span('after', {}, async () => {});

    const collected = await harness.collect();
    // The push before the SDK existed went nowhere; the one after it counts.
    expect(pointsOf(collected, 'graphql_web_push.pushes.sent')).toEqual([
      { attributes: { ...fcm, 'http.response.status_code': 201 }, value: 1 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.streams.open')).toEqual([
      { attributes: {}, value: 3 },
    ]);
    expect(harness.spans().map((span) => span.name)).toEqual(['after']);
  });
});

describe('createTelemetry without @opentelemetry/api', () => {
  afterEach(() => {
    metrics.disable();
  });

  it.each([
    [
      'cannot be loaded',
      () => {
        throw new Error("Cannot find module '@opentelemetry/api'");
      },
    ],
    ['is not the API', () => ({ metrics: {} })],
  ])('does nothing, and throws nothing, when the package %s', async (_case, loadApi) => {
    metrics.setGlobalMeterProvider(harness.meterProvider);
    const none = createTelemetry({ loadApi });

    none.pushSent({ status: 201, origin: FCM });
    none.pushFailed({ reason: 'gone', status: 410, origin: FCM });
    none.pushRetried({ reason: 'timeout', origin: FCM });
    none.rateLimitWait(1_000, { origin: FCM });
    none.refPushed({ cause: 'too-large' });
    none.messagesServed(2);
    none.publishToPush(5);
    const unobserve = none.observe({ streams: () => 1, registrations: async () => 2 });
    unobserve();
    expect(
      await none.span('work', { a: 1 }, async (span) => {
        span.setAttributes({ b: 2 });
        span.addEvent('e');
        span.fail('f');
        return 'done';
      }),
    ).toBe('done');
    const failure = new Error('passes through');
    await expect(none.span('work', {}, () => Promise.reject(failure))).rejects.toBe(failure);

    expect((await harness.collect()).size).toBe(0);
  });
});

import diagnosticsChannel from 'node:diagnostics_channel';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AsyncLocalContextManager,
  createTelemetryHarness,
  histogramOf,
  pointsOf,
  type TelemetryHarness,
} from '../telemetry/test-support.js';
import { createTelemetry } from '../telemetry.js';
import { generateVapidKeys } from '../vapid.js';
import { createPushSender, type PushSender, type PushSenderOptions } from './sender.js';
import {
  closePushServers,
  type PushServer,
  scripted,
  startPushServer,
} from './server-test-support.js';
import { createUserAgentKeys } from './test-support.js';

const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() };
const ua = createUserAgentKeys();
const message = Buffer.from('{"v":1,"id":"r:1","tab":"t","reg":"r","seq":1,"type":"next"}');

let harness: TelemetryHarness;
const senders: PushSender[] = [];

beforeEach(() => {
  harness = createTelemetryHarness();
});

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.close()));
  await closePushServers();
  await harness.close();
});

function sender(options: Partial<PushSenderOptions> = {}): PushSender {
  const instance = createPushSender({
    vapid,
    timeoutMs: 2_000,
    sleep: () => Promise.resolve(),
    random: () => 0.5,
    telemetry: createTelemetry({
      meterProvider: harness.meterProvider,
      tracerProvider: harness.tracerProvider,
    }),
    ...options,
  });
  senders.push(instance);
  return instance;
}

const send = (instance: PushSender, push: PushServer) =>
  instance.send({ endpoint: `${push.origin}/push/sub-1`, keys: ua.keys }, message, {
    ttlSeconds: 60,
  });

const serviceOf = (push: PushServer) => ({
  'server.address': '127.0.0.1',
  'server.port': Number(new URL(push.origin).port),
});

describe('createPushSender: metrics and traces', () => {
  it('counts a delivered push by status and push service, in one span per send', async () => {
    const push = await startPushServer(scripted([201]));
    const s = sender();

    await send(s, push);
    await send(s, push);

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.sent')).toEqual([
      { attributes: { ...serviceOf(push), 'http.response.status_code': 201 }, value: 2 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.failed')).toEqual([]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.retries')).toEqual([]);
    const spans = harness.spans();
    expect(spans.map((span) => span.name)).toEqual([
      'graphql_web_push.push.send',
      'graphql_web_push.push.send',
    ]);
    expect(spans[0]?.attributes).toEqual({
      ...serviceOf(push),
      'http.response.status_code': 201,
      'graphql_web_push.push.attempts': 1,
    });
    expect(spans[0]?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('counts a 429 as a retry and records its Retry-After wait', async () => {
    const push = await startPushServer(scripted([429, 201], [{ 'Retry-After': '3' }]));
    const s = sender();

    expect(await send(s, push)).toEqual({ ok: true, status: 201, attempts: 2 });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.retries')).toEqual([
      { attributes: { ...serviceOf(push), 'error.type': 'rate-limited' }, value: 1 },
    ]);
    expect(histogramOf(collected, 'graphql_web_push.push_service.rate_limit_wait')).toEqual([
      { attributes: serviceOf(push), count: 1, sum: 3 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.sent')).toEqual([
      { attributes: { ...serviceOf(push), 'http.response.status_code': 201 }, value: 1 },
    ]);
    const [span] = harness.spans();
    expect(span?.events.map((event) => [event.name, event.attributes])).toEqual([
      ['retry', { 'error.type': 'rate-limited', 'graphql_web_push.retry.delay': 3 }],
    ]);
  });

  it('counts a 5xx as a retry, with no rate-limit wait', async () => {
    const push = await startPushServer(scripted([503, 201]));
    const s = sender();

    expect(await send(s, push)).toEqual({ ok: true, status: 201, attempts: 2 });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.retries')).toEqual([
      { attributes: { ...serviceOf(push), 'error.type': 'server-error' }, value: 1 },
    ]);
    expect(histogramOf(collected, 'graphql_web_push.push_service.rate_limit_wait')).toEqual([]);
    expect(harness.spans()[0]?.attributes['graphql_web_push.push.attempts']).toBe(2);
  });

  it('counts a 410 as a failure with its status, without marking the span an error', async () => {
    const push = await startPushServer(scripted([410]));
    const s = sender();

    expect(await send(s, push)).toEqual({ ok: false, reason: 'gone', status: 410, attempts: 1 });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.failed')).toEqual([
      {
        attributes: { ...serviceOf(push), 'error.type': 'gone', 'http.response.status_code': 410 },
        value: 1,
      },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.sent')).toEqual([]);
    const [span] = harness.spans();
    expect(span?.attributes).toMatchObject({
      'error.type': 'gone',
      'http.response.status_code': 410,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('counts a push that exhausts its attempts on 500s as failed, its span an error', async () => {
    const push = await startPushServer(scripted([500]));
    const s = sender({ maxAttempts: 3 });

    await send(s, push);

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.retries')).toEqual([
      { attributes: { ...serviceOf(push), 'error.type': 'server-error' }, value: 2 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.failed')).toEqual([
      {
        attributes: {
          ...serviceOf(push),
          'error.type': 'exhausted',
          'http.response.status_code': 500,
        },
        value: 1,
      },
    ]);
    expect(harness.spans()[0]?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'push not delivered: exhausted',
    });
  });

  it('counts timeouts as retries and the failure without a status', async () => {
    const push = await startPushServer(() => {
      // Never answers.
    });
    const s = sender({ timeoutMs: 100, maxAttempts: 2 });

    expect(await send(s, push)).toEqual({ ok: false, reason: 'failed', attempts: 2 });

    const collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.pushes.retries')).toEqual([
      { attributes: { ...serviceOf(push), 'error.type': 'timeout' }, value: 1 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.pushes.failed')).toEqual([
      { attributes: { ...serviceOf(push), 'error.type': 'exhausted' }, value: 1 },
    ]);
  });

  it('counts a 403 as rejected at once', async () => {
    const push = await startPushServer(scripted([403]));
    const s = sender();

    await send(s, push);

    expect(pointsOf(await harness.collect(), 'graphql_web_push.pushes.failed')).toEqual([
      {
        attributes: {
          ...serviceOf(push),
          'error.type': 'rejected',
          'http.response.status_code': 403,
        },
        value: 1,
      },
    ]);
  });

  it('reports its pending pushes on the pending gauge', async () => {
    let answer: () => void = () => {};
    let arrived: () => void = () => {};
    const requestSeen = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const push = await startPushServer((_req, res) => {
      answer = () => res.writeHead(201).end();
      arrived();
    });
    const s = sender();

    const sending = send(s, push);
    await requestSeen;
    const during = await harness.collect();
    answer();
    await sending;
    const after = await harness.collect();

    expect(pointsOf(during, 'graphql_web_push.pushes.pending')).toEqual([
      { attributes: {}, value: 1 },
    ]);
    expect(pointsOf(after, 'graphql_web_push.pushes.pending')).toEqual([
      { attributes: {}, value: 0 },
    ]);
  });

  it('sends every request in its own span, one that waited for a slot too', async () => {
    context.setGlobalContextManager(new AsyncLocalContextManager());
    // Where an HTTP instrumentation starts its span: inside `http.request`.
    const activeAtStart: (string | undefined)[] = [];
    const onStart = () => activeAtStart.push(trace.getActiveSpan()?.spanContext().spanId);
    diagnosticsChannel.subscribe('http.client.request.start', onStart);
    try {
      const push = await startPushServer(scripted([201]));
      // One slot: the second and third requests go out from the first's answer.
      const s = sender({ concurrencyPerOrigin: 1, encryptionWorkers: 0 });

      const results = await Promise.all([send(s, push), send(s, push), send(s, push)]);

      expect(results.map((result) => result.ok)).toEqual([true, true, true]);
      const sendSpans = harness
        .spans()
        .filter((span) => span.name === 'graphql_web_push.push.send')
        .map((span) => span.spanContext().spanId);
      expect(sendSpans).toHaveLength(3);
      expect(activeAtStart).toHaveLength(3);
      expect(new Set(activeAtStart)).toEqual(new Set(sendSpans));
    } finally {
      diagnosticsChannel.unsubscribe('http.client.request.start', onStart);
      context.disable();
    }
  });

  it('rejects the send whose telemetry throws, and goes on sending', async () => {
    const push = await startPushServer(scripted([201]));
    let throwOnce = true;
    const telemetry = createTelemetry({
      meterProvider: harness.meterProvider,
      tracerProvider: harness.tracerProvider,
    });
    const s = sender({
      telemetry: {
        ...telemetry,
        pushSent(attributes) {
          if (throwOnce) {
            throwOnce = false;
            throw new Error('exporter broke');
          }
          telemetry.pushSent(attributes);
        },
      },
    });

    await expect(send(s, push)).rejects.toThrow('exporter broke');
    expect(await send(s, push)).toMatchObject({ ok: true, status: 201 });
    expect(s.pending).toBe(0);
    // The span of the send that threw ended as an error; the other as a success.
    const spans = harness.spans().filter((span) => span.name === 'graphql_web_push.push.send');
    expect(spans.map((span) => span.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.UNSET,
    ]);
  });

  it('puts a send in the span of a telemetry that only has span(), and leaves ending it to it', async () => {
    const push = await startPushServer(scripted([201, 410]));
    const telemetry = createTelemetry({
      meterProvider: harness.meterProvider,
      tracerProvider: harness.tracerProvider,
    });
    const ended: string[] = [];
    const { startSpan: _startSpan, ...withoutStartSpan } = telemetry;
    const s = sender({
      telemetry: {
        ...withoutStartSpan,
        span: (name, attributes, work) =>
          telemetry.span(name, attributes, (span) =>
            // An `end` on the span it hands out is not the sender's to call.
            work({ ...span, end: () => ended.push('by the sender') } as typeof span).finally(() =>
              ended.push('by its telemetry'),
            ),
          ),
      },
    });

    expect(await send(s, push)).toMatchObject({ ok: true, status: 201 });
    expect(await send(s, push)).toMatchObject({ ok: false, reason: 'gone', status: 410 });
    expect(ended).toEqual(['by its telemetry', 'by its telemetry']);
    expect(
      harness
        .spans()
        .filter((span) => span.name === 'graphql_web_push.push.send')
        .map((span) => span.attributes['http.response.status_code']),
    ).toEqual([201, 410]);
  });
});

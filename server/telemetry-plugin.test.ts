import { metrics } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTelemetryHarness, histogramOf, pointsOf } from './telemetry/test-support.js';
import { createTestServer, newTabId, type TestServer } from './test-support.js';

const waitFor = <T>(check: () => T | Promise<T>) =>
  vi.waitFor(check, { timeout: 2_000, interval: 10 });

/**
 * The plugin's own instruments, read through an SDK registered globally before the plugin
 * starts (as an operator's would be): its gauges and the publish → push latency it records.
 * One file, one process: the shared telemetry binds to the global provider once.
 */

const harness = createTelemetryHarness();
let server: TestServer;

beforeAll(() => {
  metrics.setGlobalMeterProvider(harness.meterProvider);
});

afterAll(async () => {
  await server?.yoga.dispose();
  await harness.close();
  metrics.disable();
});

describe('useWebPush metrics', () => {
  it('reports active registrations and groups, and the publish → push latency of each push', async () => {
    server = createTestServer();
    const { subscriptionId } = await server.subscribe();
    // Two tabs of one browser on one operation (one group), one on another operation.
    await server.registered(subscriptionId, newTabId());
    await server.registered(subscriptionId, newTabId());
    await server.registered(subscriptionId, newTabId(), undefined, { p: 'p2' });

    let collected = await harness.collect();
    expect(pointsOf(collected, 'graphql_web_push.registrations.active')).toEqual([
      { attributes: {}, value: 3 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.groups.active')).toEqual([
      { attributes: {}, value: 2 },
    ]);
    expect(pointsOf(collected, 'graphql_web_push.streams.open')).toEqual([
      { attributes: {}, value: 0 },
    ]);

    server.publish({ id: 'p1', stock: 1 });
    server.publish({ id: 'p2', stock: 2 });
    await waitFor(() => expect(server.sender.sent).toHaveLength(2));
    // One push per browser and group: two pushes, two latencies.
    await waitFor(async () => {
      collected = await harness.collect();
      expect(histogramOf(collected, 'graphql_web_push.publish_to_push.duration')).toEqual([
        { attributes: {}, count: 2, sum: expect.any(Number) },
      ]);
    });
    // Seconds, as the semantic conventions have it: two local pushes take well under one.
    const [latency] = histogramOf(collected, 'graphql_web_push.publish_to_push.duration');
    expect(latency?.sum).toBeGreaterThanOrEqual(0);
    expect(latency?.sum).toBeLessThan(2);
  });
});

import { createLogger, type YogaLogger } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from './store/memory.js';
import { createTestServer, newTabId, type TestServer } from './test-support.js';

/** A logger that keeps what is warned. */
function recordingLogger(): YogaLogger & { warnings: string[] } {
  const silent = createLogger('silent');
  const warnings: string[] = [];
  return {
    ...silent,
    warnings,
    warn: (...args: unknown[]) => {
      warnings.push(args.map(String).join(' '));
    },
  };
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.yoga.dispose();
  server = undefined;
});

describe('the warning about sources that cannot be replayed', () => {
  it('warns once when a shared store meets a subscription on Yoga’s own pubsub', async () => {
    const logger = recordingLogger();
    // The test schema subscribes through graphql-yoga's createPubSub, which keeps no event log.
    server = createTestServer({ store: { ...createMemoryStore(), shared: true }, logger });
    const { subscriptionId } = await server.subscribe();
    await server.registered(subscriptionId, newTabId());
    await server.registered(subscriptionId, newTabId());

    const replay = logger.warnings.filter((text) => text.includes('replayable event log'));
    expect(replay).toHaveLength(1);
    expect(replay[0]).toContain('createPubSub from graphql-web-push/server');
  });

  it('says nothing on a store only one process uses', async () => {
    const logger = recordingLogger();
    server = createTestServer({ store: createMemoryStore(), logger });
    const { subscriptionId } = await server.subscribe();
    await server.registered(subscriptionId, newTabId());

    expect(logger.warnings.filter((text) => text.includes('replayable'))).toEqual([]);
  });
});

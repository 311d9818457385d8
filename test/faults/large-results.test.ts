import { afterEach, describe, expect, it } from 'vitest';
import { type Envelope, parseEnvelope } from '../../protocol/index.js';
import { createUserAgent, type Faults } from '../../push-service/index.js';
import { type FaultStack, startFaultStack } from '../support/fault-stack.js';
import { openFeedTab } from '../support/fault-tab.js';
import { filler, type Tick } from '../support/feed-schema.js';
import { waitForMode } from '../support/mode.js';
import { PROFILES } from './scenario.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function open(faults: Faults) {
  const stack: FaultStack = await startFaultStack({ faults });
  cleanups.push(() => stack.close());
  const ua = createUserAgent({ serviceUrl: stack.pushService.wsUrl });
  cleanups.push(() => ua.close());
  const pushed: Envelope[] = [];
  ua.onMessage((data) => {
    const envelope = parseEnvelope(data);
    if (envelope) pushed.push(envelope);
  });
  const tab = openFeedTab(stack.url, ua, { gapWaitMs: 100, renewIntervalMs: 250 });
  cleanups.push(() => tab.handle.dispose());
  const watch = tab.watch('big');
  cleanups.push(() => watch.unsubscribe());
  await until(() => tab.handle.inspect().registrations.length === 1, 'the registration');
  await waitForMode(tab.handle, 'push');
  return { stack, tab, watch, pushed };
}

const KB = 1024;
const EVENTS = 40;
/** UTF-8 bytes of each event's text: two of 20 KB and one of 1 MB among small ones. */
const sizeOf = (n: number) => (n === 10 ? 1024 * KB : n === 5 || n === 30 ? 20 * KB : 10);
const BIG = new Set([5, 10, 30]);
const ALL_AT_ONCE = PROFILES.find((profile) => profile.name === 'does all of these at once');

describe('results larger than one push message', () => {
  it('arrive whole and byte-exact, in order with small ones, through a push service without faults', async () => {
    const { stack, tab, watch, pushed } = await open({});
    const texts = await publishAndCheck(stack, tab, watch);

    // Each big one went by reference exactly once; each small one inline exactly once.
    const types = pushed.map((e) => `${e.seq}:${e.type}`).sort();
    const expected = texts.map((_, i) => `${i + 1}:${BIG.has(i + 1) ? 'ref' : 'next'}`).sort();
    expect(types).toEqual(expected);
    expect(stack.pushService.stats()).toMatchObject({ accepted: EVENTS, dropped: 0 });
  });

  it('arrive whole and byte-exact, in order with small ones, when the push service does every fault at once', async () => {
    const { stack, tab, watch, pushed } = await open(ALL_AT_ONCE?.faults ?? {});
    await publishAndCheck(stack, tab, watch);

    const stats = stack.pushService.stats();
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.duplicated).toBeGreaterThan(0);
    expect((stats.rejected[429] ?? 0) + (stats.rejected[503] ?? 0)).toBeGreaterThan(0);
    // Whatever reached the user agent for a big result was a reference, never a cut payload.
    expect(pushed.filter((e) => BIG.has(e.seq)).every((e) => e.type === 'ref')).toBe(true);
  });
});

/**
 * Publishes {@link EVENTS} events whose texts have the sizes of {@link sizeOf}, waits for them at
 * urql and checks each is byte-exact, then that a renewal leaves nothing in the server's log.
 * @returns the texts published
 */
async function publishAndCheck(
  stack: FaultStack,
  tab: Awaited<ReturnType<typeof open>>['tab'],
  watch: Awaited<ReturnType<typeof open>>['watch'],
): Promise<string[]> {
  const texts = Array.from({ length: EVENTS }, (_, i) => filler(sizeOf(i + 1), i + 1));
  texts.forEach((text, i) => {
    stack.publish('big', i + 1, text);
  });

  await until(() => watch.results.length >= EVENTS, `${EVENTS} results`);
  await sleep(300);
  expect(watch.errors()).toEqual([]);
  expect(watch.ticks()).toEqual(texts.map((_, i) => i + 1));
  const received = watch.results.map((r) => (r.data as { ticked: Tick }).ticked.text);
  expect(received.map((text) => Buffer.byteLength(text, 'utf8'))).toEqual(
    texts.map((_, i) => sizeOf(i + 1)),
  );
  // Compared as bytes: equal lengths could still hide a re-encoded character.
  expect(
    received.map((text, i) => Buffer.from(text, 'utf8').equals(Buffer.from(texts[i] ?? ''))),
  ).toEqual(texts.map(() => true));
  // References are filled from the log.
  expect(tab.counts.messages).toBeGreaterThan(0);

  await tab.handle.renew();
  const [registration] = tab.handle.inspect().registrations;
  expect(registration).toMatchObject({ lastSeq: EVENTS, held: 0 });
  const id = registration?.registrationId ?? '';
  expect(await stack.store.getMessages(id, 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
  return texts;
}

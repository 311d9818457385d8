import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Envelope, parsePushPayload } from '../../protocol/index.js';
import { createUserAgent, type Faults, type PushServiceStats } from '../../push-service/index.js';
import { type FaultStack, startFaultStack } from '../support/fault-stack.js';
import { type FeedTab, type FeedWatch, openFeedTab } from '../support/fault-tab.js';
import { waitForMode } from '../support/mode.js';

/** How events are spread over tabs and registrations. */
export interface Shape {
  name: string;
  /** Tabs of one browser: one Node user agent, one push subscription, one exchange each. */
  tabs: number;
  /** Registrations (feeds) per tab. */
  feedsPerTab: number;
  /** Events published on every feed. */
  events: number;
}

/** The 1,000 events on one registration of the issue. */
export const ONE_REGISTRATION: Shape = {
  name: '1,000 events on one registration',
  tabs: 1,
  feedsPerTab: 1,
  events: 1000,
};

/** The 100 events on each of 50 registrations over 5 tabs of the issue. */
export const FIFTY_REGISTRATIONS: Shape = {
  name: '100 events on each of 50 registrations over 5 tabs',
  tabs: 5,
  feedsPerTab: 10,
  events: 100,
};

/** What the user agent saw arrive, before the exchange put it in order. */
export interface Arrivals {
  /** Envelopes decrypted by the user agent. */
  total: number;
  /** Envelopes whose seq was already seen for their registration. */
  duplicates: number;
  /** Envelopes that arrived after a higher seq of their registration. */
  outOfOrder: number;
}

/** Evidence that a profile's faults happened; each fails the test when they did not. */
export interface FaultProfile {
  name: string;
  faults: Faults;
  check(stats: PushServiceStats, arrivals: Arrivals, shape: Shape): void;
}

const dropped = (stats: PushServiceStats) => expect(stats.dropped).toBeGreaterThan(0);
const duplicated = (stats: PushServiceStats, arrivals: Arrivals) => {
  expect(stats.duplicated).toBeGreaterThan(0);
  expect(arrivals.duplicates).toBeGreaterThan(0);
};
const reordered = (arrivals: Arrivals) => expect(arrivals.outOfOrder).toBeGreaterThan(0);
const refused = (stats: PushServiceStats) => {
  expect(stats.rejected[429] ?? 0).toBeGreaterThan(0);
  expect(stats.rejected[503] ?? 0).toBeGreaterThan(0);
};
const disconnected = (stats: PushServiceStats, shape: Shape) => {
  // Each socket closes after its 100th notification, and nothing else closes one.
  expect(stats.disconnects).toBe(Math.floor(stats.delivered / 100));
  // And it closed many times over. Not every push becomes a notification: one that arrives while
  // the user agent reconnects replaces the undelivered one of its topic, and how many do depends
  // on timing, so the bound asks for a fifth of the envelopes (a push per envelope here).
  expect(stats.disconnects).toBeGreaterThanOrEqual(
    Math.floor((shape.events * shape.tabs * shape.feedsPerTab) / 500),
  );
};

/** The fault profiles of the issue, one at a time and all at once. */
export const PROFILES: FaultProfile[] = [
  {
    name: 'drops 30% of messages',
    faults: { drop: 0.3, seed: 11 },
    check: (stats) => dropped(stats),
  },
  {
    name: 'duplicates 30% of messages',
    faults: { duplicate: 0.3, seed: 12 },
    check: (stats, arrivals) => duplicated(stats, arrivals),
  },
  {
    name: 'reorders messages within windows of 10',
    faults: { reorderWindow: 10, seed: 13 },
    check: (_, arrivals) => reordered(arrivals),
  },
  {
    name: 'answers 429 with Retry-After to 20% and 503 to 10%',
    faults: { status429: { rate: 0.2, retryAfterSeconds: 1 }, status503: 0.1, seed: 14 },
    check: (stats) => refused(stats),
  },
  {
    name: 'disconnects the user agent every 100 messages',
    faults: { disconnectEvery: 100, seed: 15 },
    check: (stats, _, shape) => disconnected(stats, shape),
  },
  {
    name: 'does all of these at once',
    faults: {
      drop: 0.3,
      duplicate: 0.3,
      reorderWindow: 10,
      status429: { rate: 0.2, retryAfterSeconds: 1 },
      status503: 0.1,
      disconnectEvery: 100,
      seed: 16,
    },
    check: (stats, arrivals, shape) => {
      dropped(stats);
      duplicated(stats, arrivals);
      reordered(arrivals);
      refused(stats);
      disconnected(stats, shape);
    },
  },
];

/** Bound of every tab's dedup memory: below the events a tab sees, so the bound is reached. */
export const DEDUP_MAX_ENTRIES = 200;
/** Events published on one feed at a time. */
const BURST = 10;
/**
 * Push sends that may be busy (not waiting out a backoff or `Retry-After`) before the next burst
 * is published: the server keeps up with its pushes, so they arrive within the tabs' gap wait
 * and the log is asked only for what the faults lost.
 */
const SEND_WINDOW = 20;

/** Measurements of one run, for the report. */
export interface Figures {
  profile: string;
  shape: string;
  events: number;
  /** From the first publish to the last result at urql. */
  deliveryMs: number;
  /** The whole run, setup and checks included. */
  wallMs: number;
  eventsPerSecond: number;
  /** `GET …/messages` requests of all tabs. */
  logFetches: number;
  accepted: number;
  rejected: Record<number, number>;
  dropped: number;
  duplicated: number;
  disconnects: number;
  delivered: number;
  arrivals: Arrivals;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it holds.
 * @throws after `timeoutMs`, with `describe()` in the message
 */
async function until(
  check: () => boolean | Promise<boolean>,
  describe: () => string,
  timeoutMs: number,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${describe()}`);
    await sleep(intervalMs);
  }
}

/** Everything a run opened, closed in reverse by {@link Run.close}. */
export interface Run {
  stack: FaultStack;
  tabs: FeedTab[];
  close(): Promise<void>;
}

/**
 * Opens a stack with `profile`'s faults, one user agent and `shape.tabs` tabs watching
 * `shape.feedsPerTab` feeds each; publishes `shape.events` events on every feed, in bursts of
 * {@link BURST} per feed, as fast as the server appends and pushes them; waits until urql has
 * them all, and checks every guarantee: each feed's results are exactly `1..events` with no
 * error; after a renewal the server's logs are empty and everything is acknowledged; no envelope
 * is held; each dedup memory is at its bound; each event was accepted by the push service at
 * most once; and the faults really happened.
 * @param profile - faults to inject
 * @param shape - tabs, feeds and events
 * @param register - receives the run as soon as it exists, so that `afterEach` can close it
 * @returns figures for the report
 */
export async function runDeliveryScenario(
  profile: FaultProfile,
  shape: Shape,
  register: (run: Run) => void,
): Promise<Figures> {
  const opened = Date.now();
  // FAULTS_SEED replays a run with other fault draws (the order of requests still varies).
  const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) : profile.faults.seed;
  const stack = await startFaultStack({ faults: { ...profile.faults, seed } });
  const ua = createUserAgent({ serviceUrl: stack.pushService.wsUrl });
  const tabs: FeedTab[] = [];
  const watches: FeedWatch[] = [];
  const run: Run = {
    stack,
    tabs,
    async close() {
      for (const watch of watches) watch.unsubscribe();
      for (const tab of tabs) tab.handle.dispose();
      await ua.close();
      await stack.close();
    },
  };
  register(run);

  const arrivals: Arrivals = { total: 0, duplicates: 0, outOfOrder: 0 };
  const seen = new Map<string, { max: number; seqs: Set<number> }>();
  ua.onMessage((data) => {
    for (const envelope of parsePushPayload(data) ?? []) count(envelope);
  });
  function count(envelope: Envelope): void {
    arrivals.total++;
    let reg = seen.get(envelope.reg);
    if (!reg) {
      reg = { max: 0, seqs: new Set() };
      seen.set(envelope.reg, reg);
    }
    if (reg.seqs.has(envelope.seq)) arrivals.duplicates++;
    if (envelope.seq < reg.max) arrivals.outOfOrder++;
    reg.seqs.add(envelope.seq);
    reg.max = Math.max(reg.max, envelope.seq);
  }

  for (let t = 0; t < shape.tabs; t++) {
    const tab = openFeedTab(stack.url, ua, {
      gapWaitMs: 100,
      renewIntervalMs: 250,
      dedupMaxEntries: DEDUP_MAX_ENTRIES,
    });
    tabs.push(tab);
    for (let f = 0; f < shape.feedsPerTab; f++) watches.push(tab.watch(`tab${t}-feed${f}`));
  }
  const registrationIds = () =>
    tabs.flatMap((tab) => tab.handle.inspect().registrations.map((r) => r.registrationId));
  await until(
    () => registrationIds().length === watches.length,
    () => `${watches.length} registrations, have ${registrationIds().length}`,
    10_000,
  );
  // The tabs go live on the stream and move to push: these suites are about the push path.
  await Promise.all(tabs.map((tab) => waitForMode(tab.handle, 'push')));
  const feeds = await Promise.all(
    registrationIds().map(async (registrationId) => {
      const record = await stack.store.getRegistration(registrationId);
      const group = record && (await stack.store.getGroup(record.groupId));
      return { registrationId, feed: String(group?.variables?.feed) };
    }),
  );
  const seqOf = async (registrationId: string) =>
    (await stack.store.getRegistration(registrationId))?.seq ?? 0;

  const started = Date.now();
  for (let from = 1; from <= shape.events; from += BURST) {
    const to = Math.min(shape.events, from + BURST - 1);
    for (const { feed, registrationId } of feeds) {
      // A steady rate the server keeps up with: its pushes go out before more events come.
      await until(
        () => stack.sends.started - stack.sends.settled - stack.sends.waiting <= SEND_WINDOW,
        () => `at most ${SEND_WINDOW} pushes busy`,
        30_000,
        2,
      );
      for (let n = from; n <= to; n++) stack.publish(feed, n);
      // Appended before the next feed's burst, so that one registration's pushes leave
      // together (as a burst of changes to one resource does) and reordering shuffles them.
      await until(
        async () => (await seqOf(registrationId)) >= to,
        () => `the server to append event ${to} of ${feed}`,
        30_000,
        1,
      );
    }
  }
  const deliveredCount = () => watches.reduce((sum, w) => sum + w.results.length, 0);
  const expected = shape.events * watches.length;
  await until(
    () => watches.every((watch) => watch.results.length >= shape.events),
    () => `${expected} results at urql, have ${deliveredCount()}`,
    45_000,
  );
  const deliveryMs = Date.now() - started;
  // Any stray duplicate or late error would show up in this time.
  await sleep(300);

  const want = Array.from({ length: shape.events }, (_, i) => i + 1);
  for (const watch of watches) {
    expect(watch.errors()).toEqual([]);
    expect(watch.strays()).toEqual([]);
    expect(watch.ticks()).toEqual(want);
  }

  for (const tab of tabs) await tab.handle.renew();
  for (const { registrationId: id } of feeds) {
    expect(await stack.store.getMessages(id, 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(await stack.store.getRegistration(id)).toMatchObject({
      seq: shape.events,
      ackedSeq: shape.events,
    });
  }
  for (const tab of tabs) {
    const snapshot = tab.handle.inspect();
    expect(snapshot.held).toBe(0);
    expect(snapshot.pending).toBe(0);
    expect(snapshot.dedupSize).toBe(Math.min(DEDUP_MAX_ENTRIES, shape.events * shape.feedsPerTab));
    expect(snapshot.registrations.map((r) => r.lastSeq)).toEqual(
      Array.from({ length: shape.feedsPerTab }, () => shape.events),
    );
  }

  const stats = stack.pushService.stats();
  profile.check(stats, arrivals, shape);
  // The server pushes each envelope until the push service takes it, and never again: with
  // nothing refused, exactly one accepted push per event.
  const { status429, status500, status503 } = profile.faults;
  if (status429 || status500 || status503) expect(stats.accepted).toBeLessThanOrEqual(expected);
  else expect(stats.accepted).toBe(expected);
  if (status429) {
    // Retry-After is waited out in full, not replaced by the sender's short backoff.
    const retryAfterMs = status429.retryAfterSeconds * 1000;
    const waits = stack.sends.waits.filter((ms) => ms === retryAfterMs).length;
    expect(waits).toBeGreaterThan(0);
    expect(waits).toBeLessThanOrEqual(stats.rejected[429] ?? 0);
  }
  return {
    profile: profile.name,
    shape: shape.name,
    events: expected,
    deliveryMs,
    wallMs: Date.now() - opened,
    eventsPerSecond: Math.round((expected / deliveryMs) * 1000),
    logFetches: tabs.reduce((sum, tab) => sum + tab.counts.messages, 0),
    accepted: stats.accepted,
    rejected: stats.rejected,
    dropped: stats.dropped,
    duplicated: stats.duplicated,
    disconnects: stats.disconnects,
    delivered: stats.delivered,
    arrivals: { ...arrivals },
  };
}

/** Prints figures when `FAULTS_REPORT` is set; the suites never assert on durations. */
export function reportFigures(figures: Figures[]): void {
  if (!process.env.FAULTS_REPORT) return;
  for (const f of figures) {
    console.info(
      `[faults] ${f.shape} | ${f.profile}: ${f.events} events in ${f.deliveryMs} ms ` +
        `(run ${f.wallMs} ms) ` +
        `(${f.eventsPerSecond}/s), log fetches ${f.logFetches}, accepted ${f.accepted}, ` +
        `rejected ${JSON.stringify(f.rejected)}, dropped ${f.dropped}, duplicated ` +
        `${f.duplicated}, disconnects ${f.disconnects}, delivered ${f.delivered}, ` +
        `arrivals ${JSON.stringify(f.arrivals)}`,
    );
  }
}

/**
 * Declares one test per fault profile for `shape`: every event reaches urql exactly once and in
 * order. Each shape lives in its own test file so that vitest runs the shapes in parallel.
 */
export function describeDeliveryScenarios(shape: Shape): void {
  let run: Run | undefined;
  const figures: Figures[] = [];

  afterEach(async () => {
    await run?.close();
    run = undefined;
  });

  afterAll(() => reportFigures(figures));

  describe(`exactly once and in order at urql: ${shape.name}`, () => {
    it.each(PROFILES.map((profile) => [profile.name, profile] as const))(
      'delivers every event once, in order, when the push service %s',
      async (_, profile) => {
        figures.push(
          await runDeliveryScenario(profile, shape, (opened) => {
            run = opened;
          }),
        );
      },
      90_000,
    );
  });
}

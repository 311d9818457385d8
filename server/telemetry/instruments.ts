/**
 * The metrics: names, units and descriptions in one table, and the instruments made from a meter.
 * @packageDocumentation
 */
import type { Counter, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';
import type { SourceName, SourceSet } from './sources.js';

/** Latency buckets in seconds: OpenTelemetry's HTTP buckets, stretched to a minute for retries. */
const LATENCY_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60,
];
/** `Retry-After` waits in seconds, up to the sender's 30 s ceiling and past it. */
const WAIT_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const COUNTERS = {
  pushesSent: {
    name: 'graphql_web_push.pushes.sent',
    unit: '{push}',
    description: 'Push messages the push service accepted.',
  },
  pushesFailed: {
    name: 'graphql_web_push.pushes.failed',
    unit: '{push}',
    description: 'Push messages that were not delivered to the push service.',
  },
  pushRetries: {
    name: 'graphql_web_push.pushes.retries',
    unit: '{retry}',
    description: 'Push requests sent again after a 429, a 5xx, a timeout or a network error.',
  },
  refsPushed: {
    name: 'graphql_web_push.refs.pushed',
    unit: '{ref}',
    description: 'Results pushed as a reference for the tab to fetch from the message log.',
  },
  messageRequests: {
    name: 'graphql_web_push.messages.requests',
    unit: '{request}',
    description: 'Answered reads of the message log (reference fetches and gap fills).',
  },
  messagesServed: {
    name: 'graphql_web_push.messages.served',
    unit: '{envelope}',
    description: 'Envelopes returned by reads of the message log.',
  },
} as const;

const HISTOGRAMS = {
  rateLimitWait: {
    name: 'graphql_web_push.push_service.rate_limit_wait',
    unit: 's',
    description: 'Wait before retrying a push the push service refused with 429.',
    buckets: WAIT_BUCKETS,
  },
  publishToPush: {
    name: 'graphql_web_push.publish_to_push.duration',
    unit: 's',
    description: "From an event's publish to the push service's answer to its push.",
    buckets: LATENCY_BUCKETS,
  },
} as const;

const GAUGES: Record<SourceName, { name: string; unit: string; description: string }> = {
  registrations: {
    name: 'graphql_web_push.registrations.active',
    unit: '{registration}',
    description: 'Registrations that are live.',
  },
  groups: {
    name: 'graphql_web_push.groups.active',
    unit: '{group}',
    description: 'Groups of registrations that share one execution.',
  },
  streams: {
    name: 'graphql_web_push.streams.open',
    unit: '{stream}',
    description: 'Streams open on this instance.',
  },
  pendingPushes: {
    name: 'graphql_web_push.pushes.pending',
    unit: '{push}',
    description: 'Pushes accepted by the sender and not settled yet.',
  },
};

/** The instruments of one meter. */
export type Instruments = { [K in keyof typeof COUNTERS]: Counter } & {
  [K in keyof typeof HISTOGRAMS]: Histogram;
} & {
  /** Stops the gauges reading the sources (when the meter is replaced). */
  dispose(): void;
};

/**
 * Makes every instrument on `meter`; the gauges read `sources` at each collection.
 * @param meter - the meter of this package's scope
 * @param sources - what the gauges observe
 * @returns the instruments
 */
export function createInstruments(meter: Meter, sources: SourceSet): Instruments {
  const counter = (key: keyof typeof COUNTERS): Counter => {
    const { name, unit, description } = COUNTERS[key];
    return meter.createCounter(name, { unit, description });
  };
  const histogram = (key: keyof typeof HISTOGRAMS): Histogram => {
    const { name, unit, description, buckets } = HISTOGRAMS[key];
    return meter.createHistogram(name, {
      unit,
      description,
      advice: { explicitBucketBoundaries: [...buckets] },
    });
  };
  const stops = (Object.keys(GAUGES) as SourceName[]).map((key) => {
    const { name, unit, description } = GAUGES[key];
    const gauge: ObservableGauge = meter.createObservableGauge(name, { unit, description });
    const callback = async (result: { observe(value: number): void }) => {
      const total = await sources.total(key);
      if (total !== undefined) result.observe(total);
    };
    gauge.addCallback(callback);
    return () => gauge.removeCallback(callback);
  });
  return {
    pushesSent: counter('pushesSent'),
    pushesFailed: counter('pushesFailed'),
    pushRetries: counter('pushRetries'),
    refsPushed: counter('refsPushed'),
    messageRequests: counter('messageRequests'),
    messagesServed: counter('messagesServed'),
    rateLimitWait: histogram('rateLimitWait'),
    publishToPush: histogram('publishToPush'),
    dispose() {
      for (const stop of stops) stop();
    },
  };
}

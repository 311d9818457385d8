/**
 * Metrics and traces through `@opentelemetry/api`'s global providers, so that an application
 * that registers an OpenTelemetry SDK sees them. Without an SDK, or without the package, every
 * call does nothing.
 * @packageDocumentation
 */
import type { MeterProvider, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { loadOpenTelemetry, type OpenTelemetryApi, packageVersion } from './telemetry/api.js';
import { ATTRIBUTE, serverAttributes, type TelemetryAttributes } from './telemetry/attributes.js';
import { createInstruments, type Instruments } from './telemetry/instruments.js';
import { createSourceSet, type TelemetrySources } from './telemetry/sources.js';

export type { TelemetryAttributes } from './telemetry/attributes.js';
export type { TelemetrySources } from './telemetry/sources.js';

/** The instrumentation scope of every meter and tracer made here. */
export const INSTRUMENTATION_SCOPE = 'graphql-web-push';

/** The span of {@link Telemetry.span}, for what the work learns while it runs. */
export interface TelemetrySpan {
  /** Adds attributes (an outcome, a status). */
  setAttributes(attributes: TelemetryAttributes): void;
  /** Records a moment (a retry) with its attributes. */
  addEvent(name: string, attributes?: TelemetryAttributes): void;
  /** Marks the span as failed when the work ends without throwing (an undelivered push). */
  fail(message: string): void;
  /**
   * Calls `fn(arg)` with the span active again, for a step of the work that runs from a
   * callback (a request that waited for a slot): spans it starts are the span's children.
   * Without it, the step runs as is.
   */
  run?<A>(fn: (arg: A) => void, arg: A): void;
}

/** A span from {@link Telemetry.startSpan}: the caller ends it. */
export interface StartedSpan extends TelemetrySpan {
  /**
   * Ends the span; with an error, marks it failed and records the exception first.
   * @param error - what the work failed with, if it did
   */
  end(error?: unknown): void;
}

/** Records what the server does; see README's "Metrics and traces" for each metric. */
export interface Telemetry {
  /**
   * A push the push service accepted (`graphql_web_push.pushes.sent`).
   * @param attributes - its HTTP status and the push service's origin
   */
  pushSent(attributes: { status: number; origin: string }): void;
  /**
   * A push that was not delivered to the push service (`graphql_web_push.pushes.failed`).
   * @param attributes - why (`error.type`), the last HTTP status (0 when none came: a timeout,
   * a network error, a closed sender; the status attribute is then left out) and the origin
   */
  pushFailed(attributes: { reason: string; status: number; origin: string }): void;
  /**
   * A push request about to be sent again (`graphql_web_push.pushes.retries`).
   * @param attributes - why (`error.type`) and the origin
   */
  pushRetried(attributes: { reason: string; origin: string }): void;
  /**
   * The wait before retrying after a 429 (`graphql_web_push.push_service.rate_limit_wait`).
   * @param ms - milliseconds waited (recorded in seconds)
   * @param attributes - the origin
   */
  rateLimitWait(ms: number, attributes: { origin: string }): void;
  /**
   * A result pushed as a `ref` (`graphql_web_push.refs.pushed`).
   * @param attributes - `too-large` (over `maxPayloadBytes`) or `refused` (the push service
   * answered 413)
   */
  refPushed(attributes: { cause: 'too-large' | 'refused' }): void;
  /**
   * One answered read of the message log, `GET …/push/messages`
   * (`graphql_web_push.messages.requests`, `graphql_web_push.messages.served`).
   * @param envelopes - envelopes in the answer
   * @remarks A `ref` fetch and a gap fill are the same request, so they are counted together.
   */
  messagesServed(envelopes: number): void;
  /**
   * From an event's publish to the push service's answer to its push
   * (`graphql_web_push.publish_to_push.duration`).
   * @param ms - milliseconds (recorded in seconds)
   */
  publishToPush(ms: number): void;
  /**
   * Lets the gauges read counts at each collection; counts of several registrations add up.
   * @param sources - the counts this caller knows
   * @returns removes them
   */
  observe(sources: TelemetrySources): () => void;
  /**
   * Runs `work` in an active span: spans the work starts (an HTTP instrumentation's) are its
   * children. A throw marks the span as an error, records the exception and is rethrown.
   * @param name - the span's name
   * @param attributes - its attributes at the start
   * @param work - the work; it may add to the span
   * @returns what `work` returns
   */
  span<T>(
    name: string,
    attributes: TelemetryAttributes,
    work: (span: TelemetrySpan) => Promise<T>,
  ): Promise<T>;
  /**
   * Starts a span that the caller ends, for work that reports its end to a callback rather than
   * a promise (a push of a fan-out). Its `run` calls a step of the work with the span active, as
   * {@link Telemetry.span} does for the whole work. Optional: where it is missing, such work
   * runs in {@link Telemetry.span}.
   * @param name - the span's name
   * @param attributes - its attributes at the start
   * @returns the span
   */
  startSpan?(name: string, attributes: TelemetryAttributes): StartedSpan;
}

/**
 * Options of {@link createTelemetry}. The providers are typed by the one method used, so that
 * these declarations do not need `@opentelemetry/api` installed.
 */
export interface TelemetryOptions {
  /**
   * Where the instruments are made.
   * @defaultValue the global provider (`metrics.getMeterProvider()`), looked up again when it
   * changes, so an SDK registered after the server was created still gets every metric
   */
  meterProvider?: { getMeter(name: string, version?: string): unknown };
  /**
   * Where the spans are made.
   * @defaultValue the global provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: { getTracer(name: string, version?: string): unknown };
  /**
   * Loads `@opentelemetry/api`; when it throws, telemetry is a no-op.
   * @defaultValue `require('@opentelemetry/api')` from this package
   */
  loadApi?: () => unknown;
}

const noop = (): void => {};
const NOOP_SPAN: StartedSpan = { setAttributes: noop, addEvent: noop, fail: noop, end: noop };

/** What every method does without `@opentelemetry/api`. */
const NOOP_TELEMETRY: Telemetry = {
  pushSent: noop,
  pushFailed: noop,
  pushRetried: noop,
  rateLimitWait: noop,
  refPushed: noop,
  messagesServed: noop,
  publishToPush: noop,
  observe: () => noop,
  span: (_name, _attributes, work) => work(NOOP_SPAN),
  startSpan: () => NOOP_SPAN,
};

/**
 * Creates the server's telemetry.
 * @param options - providers (tests), the loader of `@opentelemetry/api`
 * @returns the telemetry; a no-op when `@opentelemetry/api` is not installed
 * @remarks The OpenTelemetry API has no proxy for meters: a meter taken from the global
 * provider before the application registers its SDK records nothing, ever. So the instruments
 * are made at first use, and made again when the global provider has changed since.
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const api = loadOpenTelemetry(options.loadApi);
  if (api === undefined) return NOOP_TELEMETRY;
  const version = packageVersion();
  const sources = createSourceSet();
  const meterProvider = options.meterProvider as MeterProvider | undefined;
  const tracerProvider = options.tracerProvider as TracerProvider | undefined;
  let made: { provider: MeterProvider; instruments: Instruments } | undefined;
  let tracer: Tracer | undefined;

  const instruments = (): Instruments => {
    const provider = meterProvider ?? api.metrics.getMeterProvider();
    if (made?.provider !== provider) {
      made?.instruments.dispose();
      const meter = provider.getMeter(INSTRUMENTATION_SCOPE, version);
      made = { provider, instruments: createInstruments(meter, sources) };
    }
    return made.instruments;
  };
  const getTracer = (): Tracer => {
    // The global provider is a proxy that forwards to an SDK registered later.
    tracer ??= (tracerProvider ?? api.trace.getTracerProvider()).getTracer(
      INSTRUMENTATION_SCOPE,
      version,
    );
    return tracer;
  };
  const withStatus = (base: Readonly<TelemetryAttributes>, status: number) =>
    status > 0 ? { ...base, [ATTRIBUTE.statusCode]: status } : base;

  return {
    pushSent({ status, origin }) {
      instruments().pushesSent.add(1, withStatus(serverAttributes(origin), status));
    },
    pushFailed({ reason, status, origin }) {
      instruments().pushesFailed.add(1, {
        ...withStatus(serverAttributes(origin), status),
        [ATTRIBUTE.errorType]: reason,
      });
    },
    pushRetried({ reason, origin }) {
      instruments().pushRetries.add(1, {
        ...serverAttributes(origin),
        [ATTRIBUTE.errorType]: reason,
      });
    },
    rateLimitWait(ms, { origin }) {
      instruments().rateLimitWait.record(ms / 1000, serverAttributes(origin));
    },
    refPushed({ cause }) {
      instruments().refsPushed.add(1, { [ATTRIBUTE.refCause]: cause });
    },
    messagesServed(envelopes) {
      const { messageRequests, messagesServed } = instruments();
      messageRequests.add(1);
      messagesServed.add(envelopes);
    },
    publishToPush(ms) {
      instruments().publishToPush.record(ms / 1000);
    },
    observe(added) {
      const remove = sources.add(added);
      // Attaches the gauges to the current provider, so they are read from the first collection.
      instruments();
      return remove;
    },
    span(name, attributes, work) {
      // `startActiveSpan`, split: the span is made a child of the active context first, and a
      // context holding it (a copy of the context's entries) is made only for a span that
      // records. A span nobody records (no SDK registered, or sampled out) keeps nothing: the
      // work runs without a context or the wrappers a recorded span needs, as for every push.
      const span = getTracer().startSpan(name, { attributes });
      if (!span.isRecording()) {
        span.end();
        return work(NOOP_SPAN);
      }
      const { context, trace } = api;
      return context.with(trace.setSpan(context.active(), span), () => runInSpan(api, span, work));
    },
    startSpan(name, attributes) {
      // As `span`: a span nobody records keeps nothing, and its steps run as they are.
      const span = getTracer().startSpan(name, { attributes });
      if (!span.isRecording()) {
        span.end();
        return NOOP_SPAN;
      }
      const active = api.trace.setSpan(api.context.active(), span);
      return {
        ...recordingSpan(api, span),
        run: (fn, arg) => api.context.with(active, fn, undefined, arg),
        end(error) {
          if (error !== undefined) failSpan(api, span, error);
          span.end();
        },
      };
    },
  };
}

/** What the work may do to a recorded span. */
const recordingSpan = (
  api: OpenTelemetryApi,
  span: Span,
): Pick<TelemetrySpan, 'setAttributes' | 'addEvent' | 'fail'> => ({
  setAttributes: (attributes) => span.setAttributes(attributes),
  addEvent: (name, attributes) => span.addEvent(name, attributes),
  fail: (message) => span.setStatus({ code: api.SpanStatusCode.ERROR, message }),
});

/** Marks a span failed by `error` and records the exception. */
function failSpan(api: OpenTelemetryApi, span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: api.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

async function runInSpan<T>(
  api: OpenTelemetryApi,
  span: Span,
  work: (span: TelemetrySpan) => Promise<T>,
): Promise<T> {
  try {
    const active = api.context.active();
    return await work({
      ...recordingSpan(api, span),
      run: (fn, arg) => api.context.with(active, fn, undefined, arg),
    });
  } catch (error) {
    failSpan(api, span, error);
    throw error;
  } finally {
    span.end();
  }
}

let shared: Telemetry | undefined;

/**
 * The telemetry the server's parts use unless given their own: one per process, on the global
 * providers.
 * @returns the shared {@link Telemetry}
 */
export function sharedTelemetry(): Telemetry {
  shared ??= createTelemetry();
  return shared;
}

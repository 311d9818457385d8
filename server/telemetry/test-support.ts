/**
 * Test support: the OpenTelemetry SDK with in-memory readers, and lookups by metric name.
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes,
  type Context,
  type ContextManager,
  ROOT_CONTEXT,
} from '@opentelemetry/api';
import {
  type DataPoint,
  DataPointType,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A reader that exports nothing: the test collects from it when it wants to look. */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** A collected metric: its descriptor and points. */
export interface CollectedMetric {
  name: string;
  unit: string;
  description: string;
  /** `SUM` (counters), `GAUGE`, `HISTOGRAM`. */
  type: string;
  /** The instrumentation scope that made it. */
  scope: { name: string; version?: string };
  points: DataPoint<number | Histogram>[];
}

/** The SDK's meter and tracer providers, with ways to read what they recorded. */
export interface TelemetryHarness {
  meterProvider: MeterProvider;
  tracerProvider: BasicTracerProvider;
  /** Collects every metric now (observable gauges call their callbacks). */
  collect(): Promise<Map<string, CollectedMetric>>;
  /** Spans that have ended. */
  spans(): ReadableSpan[];
  /** Shuts both providers down. */
  close(): Promise<void>;
}

/**
 * Creates real SDK providers that keep what they record in memory.
 * @returns the harness
 */
export function createTelemetryHarness(): TelemetryHarness {
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return {
    meterProvider,
    tracerProvider,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      return byName(resourceMetrics);
    },
    spans: () => exporter.getFinishedSpans(),
    async close() {
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}

function byName(resourceMetrics: ResourceMetrics): Map<string, CollectedMetric> {
  const metrics = new Map<string, CollectedMetric>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      metrics.set(metric.descriptor.name, {
        name: metric.descriptor.name,
        unit: metric.descriptor.unit,
        description: metric.descriptor.description,
        type: DataPointType[metric.dataPointType],
        scope: { name: scope.scope.name, version: scope.scope.version },
        points: metric.dataPoints as DataPoint<number | Histogram>[],
      });
    }
  }
  return metrics;
}

/**
 * The points of a metric as `{ attributes, value }`, in a stable order.
 * @param metrics - a collection
 * @param name - the metric's name
 * @returns its points; none when the metric recorded nothing
 */
export function pointsOf(
  metrics: Map<string, CollectedMetric>,
  name: string,
): { attributes: Attributes; value: number | Histogram }[] {
  return (metrics.get(name)?.points ?? [])
    .map(({ attributes, value }) => ({ attributes, value }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

/**
 * The count and sum of a histogram's points.
 * @param metrics - a collection
 * @param name - the histogram's name
 * @returns one `{ attributes, count, sum }` per attribute set
 */
export function histogramOf(
  metrics: Map<string, CollectedMetric>,
  name: string,
): { attributes: Attributes; count: number; sum: number | undefined }[] {
  return pointsOf(metrics, name).map(({ attributes, value }) => {
    const histogram = value as Histogram;
    return { attributes, count: histogram.count, sum: histogram.sum };
  });
}

/**
 * The context manager an SDK's Node set-up registers (what `@opentelemetry/context-async-hooks`
 * provides), so that "active span" means what it means in an application.
 */
export class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(context, () => fn.apply(thisArg, args));
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

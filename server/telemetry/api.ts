/**
 * `@opentelemetry/api`, an optional peer dependency, loaded only when telemetry is made.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import type * as OpenTelemetry from '@opentelemetry/api';

/** The `@opentelemetry/api` module. */
export type OpenTelemetryApi = typeof OpenTelemetry;

const requireHere = createRequire(import.meta.url);

/** Loads the installed `@opentelemetry/api` (throws when it is not installed). */
export const requireOpenTelemetry = (): unknown => requireHere('@opentelemetry/api');

const isApi = (value: unknown): value is OpenTelemetryApi => {
  const api = value as Partial<OpenTelemetryApi> | null | undefined;
  return (
    typeof api?.metrics?.getMeterProvider === 'function' &&
    typeof api.trace?.getTracer === 'function' &&
    typeof api.SpanStatusCode === 'object'
  );
};

/**
 * Loads `@opentelemetry/api`.
 * @param load - the loader; throws when the package is missing
 * @returns the API, or `undefined` when it is missing or not the API: telemetry is then a no-op
 */
export function loadOpenTelemetry(load: () => unknown = requireOpenTelemetry) {
  let api: unknown;
  try {
    api = load();
  } catch {
    return undefined;
  }
  return isApi(api) ? api : undefined;
}

/**
 * This package's version, for the meter's and tracer's instrumentation scope.
 * @returns the version, or `undefined` when package.json cannot be read
 * @remarks The file sits one level deeper in `dist/` than in the sources, so both are tried.
 */
export function packageVersion(): string | undefined {
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = requireHere(path) as { name?: unknown; version?: unknown };
      if (pkg.name === 'graphql-web-push' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not this level.
    }
  }
  return undefined;
}

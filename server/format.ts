import type { ExecutionResult } from 'graphql';

/** A GraphQL error as it travels in JSON. */
export interface FormattedError {
  message: string;
  locations?: unknown;
  path?: unknown;
  extensions?: Record<string, unknown>;
}

/** What a `next` envelope carries: an ExecutionResult as JSON. */
export interface FormattedResult {
  data?: unknown;
  errors?: FormattedError[];
  extensions?: Record<string, unknown>;
}

/** Extension keys Yoga uses internally and never puts on the wire. */
const INTERNAL_KEYS = ['http', 'unexpected'];

const withoutInternals = (
  extensions: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined => {
  if (!extensions) return undefined;
  const rest = { ...extensions };
  for (const key of INTERNAL_KEYS) delete rest[key];
  return Object.keys(rest).length > 0 ? rest : undefined;
};

/**
 * Formats one error the way Yoga's JSON responses do: `toJSON()` of a GraphQLError, without the
 * internal `http` and `unexpected` extensions.
 * @param error - an error from an execution result
 * @returns its JSON form
 */
export function formatError(error: unknown): FormattedError {
  const json: unknown =
    typeof (error as { toJSON?: unknown })?.toJSON === 'function'
      ? (error as { toJSON(): unknown }).toJSON()
      : error;
  const source = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const formatted: FormattedError = {
    message: typeof source.message === 'string' ? source.message : String(source.message),
  };
  if (source.locations !== undefined) formatted.locations = source.locations;
  if (source.path !== undefined) formatted.path = source.path;
  const extensions = withoutInternals(source.extensions as Record<string, unknown> | undefined);
  if (extensions) formatted.extensions = extensions;
  return formatted;
}

/**
 * Formats an execution result as Yoga would serialise it: only the keys present, errors as JSON,
 * and no internal extensions.
 * @param result - one result of a subscription's stream
 * @returns the JSON-ready result
 */
export function formatResult(result: ExecutionResult): FormattedResult {
  const formatted: FormattedResult = {};
  if ('data' in result) formatted.data = result.data;
  if (result.errors && result.errors.length > 0) formatted.errors = result.errors.map(formatError);
  const extensions = withoutInternals(result.extensions as Record<string, unknown> | undefined);
  if (extensions) formatted.extensions = extensions;
  return formatted;
}

/**
 * Tells a stream's failure from an ordinary result. A subscription event's result always has
 * `data` (possibly `null`); Yoga turns an error thrown by the source stream into a result with
 * `errors` and no `data`, after which the stream ends.
 * @param result - one result of a subscription's stream
 * @returns true when the result reports the end of the stream with an error
 */
export function isStreamError(result: ExecutionResult): boolean {
  return !('data' in result) && (result.errors?.length ?? 0) > 0;
}

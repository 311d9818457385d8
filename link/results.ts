import {
  type ExecutionResult,
  getOperationName,
  makeErrorResult,
  makeResult,
  type Operation,
  type OperationResult,
  stringifyDocument,
} from '@urql/core';
import { EXTENSION_KEY, type RegistrationRequestExtension } from '../protocol/index.js';
import { createLinkError, LinkErrorCode } from './errors.js';
import type { RegistrationBody } from './http.js';

/**
 * The urql result of one envelope's payload (`{ data?, errors?, extensions? }`).
 * @param operation - the operation it answers.
 * @param payload - the envelope's payload.
 * @returns the result; a payload with neither `data` nor `errors` becomes an error result
 * (`WEB_PUSH_LINK_BAD_RESPONSE`) instead of throwing into the stream.
 */
export function resultOf(operation: Operation, payload: unknown): OperationResult {
  try {
    return makeResult(operation, payload as ExecutionResult);
  } catch (cause) {
    return makeErrorResult(
      operation,
      createLinkError(LinkErrorCode.BadResponse, 'a push message carried no result', { cause }),
    );
  }
}

/**
 * The body of the `POST` that registers a subscription operation.
 * @param operation - the operation.
 * @param webPush - `extensions.webPush`.
 * @returns the GraphQL-over-HTTP body, with the operation's own extensions kept.
 */
export function registrationBody(
  operation: Operation,
  webPush: RegistrationRequestExtension,
): RegistrationBody {
  const operationName = getOperationName(operation.query);
  return {
    query: stringifyDocument(operation.query),
    ...(operation.variables ? { variables: operation.variables as Record<string, unknown> } : {}),
    ...(operationName ? { operationName } : {}),
    extensions: { ...operation.extensions, [EXTENSION_KEY]: webPush },
  };
}

const resolveInit = (init: RequestInit | (() => RequestInit) | undefined) =>
  typeof init === 'function' ? init() : init;

/**
 * Merges request options, `over` winning and headers combined.
 * @param base - e.g. `operation.context.fetchOptions`.
 * @param over - e.g. the exchange's `fetchOptions`.
 * @returns the merged options, or undefined when both are.
 */
export function mergeFetchOptions(
  base: RequestInit | (() => RequestInit) | undefined,
  over: RequestInit | (() => RequestInit) | undefined,
): RequestInit | undefined {
  const a = resolveInit(base);
  const b = resolveInit(over);
  if (!a || !b) return b ?? a;
  const headers = new Headers(a.headers);
  new Headers(b.headers).forEach((value, name) => {
    headers.set(name, value);
  });
  return { ...a, ...b, headers };
}

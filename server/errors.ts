import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import {
  ERROR_STATUS,
  type ErrorCode,
  type ErrorResponse,
  isProtocolError,
} from '../protocol/index.js';

/**
 * Builds the GraphQL error for a refusal: `extensions.code` for clients to branch on and
 * `extensions.http.status` so that Yoga answers with the matching HTTP status.
 * @param code - one of the protocol's {@link ErrorCode}s
 * @param message - text for people; never contains secrets
 * @returns a GraphQLError Yoga does not mask (it has no `originalError`)
 */
export function createWebPushError(code: ErrorCode, message: string): GraphQLError {
  return createGraphQLError(message, {
    extensions: { code, http: { status: ERROR_STATUS[code] } },
  });
}

/**
 * Reads the protocol error code of a value thrown by route handlers or hooks.
 * @param error - anything thrown
 * @returns the code when `error` came from {@link createWebPushError} or is a protocol
 * validator's `ProtocolError`, else `null`
 */
export function webPushErrorCode(error: unknown): ErrorCode | null {
  if (isProtocolError(error)) return error.code;
  if (typeof error !== 'object' || error === null) return null;
  const extensions = (error as { extensions?: { code?: unknown } }).extensions;
  const code = extensions?.code;
  return typeof code === 'string' && code in ERROR_STATUS ? (code as ErrorCode) : null;
}

/**
 * The body of a refused route request, the GraphQL-over-HTTP error shape.
 * @param code - the refusal's code
 * @param message - text for people
 * @returns `{ errors: [{ message, extensions: { code } }] }`
 */
export function errorBody(code: ErrorCode, message: string): ErrorResponse {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * The GraphQL error for a refusal thrown as a protocol validator's `ProtocolError`, or the error
 * itself when it already is one of ours.
 * @param error - a value {@link webPushErrorCode} knows
 * @returns a GraphQL error with the code and status
 */
export function asWebPushError(error: unknown): GraphQLError {
  if (isProtocolError(error)) return createWebPushError(error.code, error.message);
  return error as GraphQLError;
}

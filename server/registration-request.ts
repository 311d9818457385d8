import type { GraphQLParams } from 'graphql-yoga';
import { ErrorCode, REGISTRATION_HEADER, REGISTRATION_HEADER_VALUE } from '../protocol/index.js';
import { createWebPushError } from './errors.js';
import type { RequestGuard } from './guard.js';
import { readJsonBody } from './routes/body.js';

/**
 * True when the request says, in its {@link REGISTRATION_HEADER}, that it is a registration.
 * @param request - any request to the GraphQL endpoint
 * @returns whether the header is present with its value
 */
export function isMarkedRegistration(request: Request): boolean {
  return request.headers.get(REGISTRATION_HEADER) === REGISTRATION_HEADER_VALUE;
}

/**
 * Reads a marked registration request, in place of Yoga's own request parsers.
 *
 * @param request - a request carrying {@link REGISTRATION_HEADER}
 * @param guard - the CSRF guard
 * @param maxBodyBytes - the body limit
 * @returns the GraphQL params, with `extensions.webPush` still to be checked
 * @throws WEB_PUSH_METHOD_NOT_ALLOWED (405) for anything but POST: registering stores state, and
 * a GET can be triggered by a link or an image; WEB_PUSH_UNSUPPORTED_MEDIA_TYPE (415) unless the
 * body is JSON; WEB_PUSH_FORBIDDEN_ORIGIN (403) for another site; WEB_PUSH_TOO_LARGE (413) when
 * `Content-Length` is over the limit (nothing is read then) or the body turns out to be;
 * WEB_PUSH_BAD_REQUEST (400) for a body that is not a GraphQL request
 */
export async function readRegistrationRequest(
  request: Request,
  guard: RequestGuard,
  maxBodyBytes: number,
): Promise<GraphQLParams> {
  if (request.method !== 'POST') {
    throw createWebPushError(ErrorCode.MethodNotAllowed, 'Register with POST');
  }
  guard.check(request);
  const body = await readJsonBody(request, maxBodyBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw createWebPushError(ErrorCode.BadRequest, 'A registration is one GraphQL request object');
  }
  const { query, variables, operationName, extensions } = body as Record<string, unknown>;
  if (typeof query !== 'string') {
    throw createWebPushError(ErrorCode.BadRequest, 'A registration needs the query text');
  }
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    throw createWebPushError(ErrorCode.BadRequest, 'operationName must be a string');
  }
  if (typeof extensions !== 'object' || extensions === null || Array.isArray(extensions)) {
    throw createWebPushError(ErrorCode.BadRequest, 'A registration needs extensions.webPush');
  }
  return {
    query,
    ...(variables === undefined ? {} : { variables: variables as Record<string, unknown> }),
    ...(typeof operationName === 'string' ? { operationName } : {}),
    extensions: extensions as Record<string, unknown>,
  };
}

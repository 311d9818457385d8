/**
 * The server's checks beyond the protocol's shapes (those live in `protocol/`, shared with the
 * link): keys that must be points on the curve, and the limits on stored variables.
 */
import {
  createProtocolError,
  ErrorCode,
  type PushSubscriptionData,
  parsePushSubscription as parsePushSubscriptionShape,
} from '../protocol/index.js';
import { parseSubscriptionKeys } from './push/index.js';

const bad = (message: string) => createProtocolError(ErrorCode.BadRequest, message);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a `PUT …/subscriptions` body: the protocol's shape, and a `p256dh` that is a point on
 * P-256 (encryption would refuse it on every message later).
 * @param value - the parsed JSON body
 * @returns a clean copy (endpoint normalised, keys without padding)
 * @throws a protocol error WEB_PUSH_BAD_REQUEST
 */
export function parsePushSubscription(value: unknown): PushSubscriptionData {
  const data = parsePushSubscriptionShape(value);
  try {
    parseSubscriptionKeys(data.keys);
  } catch {
    throw bad('keys.p256dh is not a point on P-256');
  }
  return data;
}

/** Limits on a registration's variables. */
export interface VariablesLimits {
  /** Most UTF-8 bytes of the variables as JSON. */
  maxBytes: number;
  /** Deepest nesting of objects and arrays (`{}` is 1). */
  maxDepth: number;
}

/**
 * How deeply `value` nests objects and arrays, counted without recursion so that a hostile
 * value cannot overflow the stack.
 * @param value - a parsed JSON value
 * @param stopAbove - counting stops once the depth exceeds this
 * @returns the depth (0 for a scalar), or a number above `stopAbove`
 */
export function jsonDepth(value: unknown, stopAbove: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

/**
 * Checks a registration's variables, which are stored with it and replayed on adoption.
 * @param variables - the request's variables (anything)
 * @param limits - see {@link VariablesLimits}
 * @returns the variables, `null` when absent
 * @throws WEB_PUSH_BAD_REQUEST (400) when they are not an object or nest deeper than
 * `maxDepth`; WEB_PUSH_TOO_LARGE (413) when their JSON is over `maxBytes`
 */
export function checkVariables(
  variables: unknown,
  limits: VariablesLimits,
): Record<string, unknown> | null {
  if (variables === undefined || variables === null) return null;
  if (!isObject(variables)) throw bad('variables must be a JSON object');
  if (jsonDepth(variables, limits.maxDepth) > limits.maxDepth) {
    throw bad(`variables nest deeper than ${limits.maxDepth} levels`);
  }
  if (Buffer.byteLength(JSON.stringify(variables), 'utf8') > limits.maxBytes) {
    throw createProtocolError(
      ErrorCode.TooLarge,
      `variables are larger than ${limits.maxBytes} bytes`,
    );
  }
  return variables;
}

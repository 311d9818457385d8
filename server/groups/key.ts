import { createHash } from 'node:crypto';

/** What decides whether two registrations may share one execution. */
export interface GroupKeyInput {
  query: string;
  operationName: string | null;
  variables: Record<string, unknown> | null;
  /**
   * Whose context the execution runs with: by default the kept headers (the same context an
   * adoption would rebuild), or what the operator's `executionKey` declared.
   */
  executionKey: string;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` give one key. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The key of an execution group.
 * @param input - document, operation name, variables and execution key
 * @returns a digest (base64url, 128 bits): equal inputs, equal keys
 * @remarks The document is compared as sent: two spellings of one query are two groups, which
 * costs an execution, never correctness.
 */
export function groupKey(input: GroupKeyInput): string {
  return createHash('sha256')
    .update(canonical([input.query, input.operationName, input.variables, input.executionKey]))
    .digest('base64url')
    .slice(0, 22);
}

/**
 * The default execution key: the kept headers, sorted, so that registrations share an
 * execution only when an adoption would rebuild the same context for each of them.
 * @param headers - the headers kept of the registering request
 * @returns their canonical text
 */
export function headersExecutionKey(headers: Record<string, string>): string {
  return canonical(headers);
}

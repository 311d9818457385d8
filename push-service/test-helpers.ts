/**
 * Fixtures of the tests that run both sides together (the service and the Node user agent).
 * The service's own fixtures are in `service/test-helpers.ts`.
 */
import { within } from './service/test-helpers.js';
import type { UserAgent } from './user-agent/user-agent.js';

/**
 * Collects the next `count` messages of a user agent as UTF-8 text.
 * @returns the texts in arrival order
 */
export function nextMessages(ua: UserAgent, count: number, ms = 3000): Promise<string[]> {
  const texts: string[] = [];
  let stop = () => {};
  const done = new Promise<string[]>((resolve) => {
    stop = ua.onMessage((data) => {
      texts.push(Buffer.from(data).toString('utf8'));
      if (texts.length === count) resolve(texts);
    });
  });
  return within(done, ms, `${count} messages (got ${texts.length})`).finally(() => stop());
}

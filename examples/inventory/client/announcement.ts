/** Marks the service worker's announcement messages to tabs. */
export const ANNOUNCEMENT_SOURCE = 'inventory-announcement';

/**
 * A push that is not a graphql-web-push envelope, passed on by the service worker: the example
 * treats it as a shop-wide announcement.
 */
export interface AnnouncementMessage {
  source: typeof ANNOUNCEMENT_SOURCE;
  /** The push's data: parsed JSON, text, or null. */
  data: unknown;
}

/**
 * Reads the text of an announcement: `{ "text": "…" }`, or a plain string.
 * @param data - the push's data
 * @returns the text, or null when there is none
 */
export function announcementText(data: unknown): string | null {
  if (typeof data === 'string') return data;
  if (typeof data === 'object' && data !== null && 'text' in data) {
    const { text } = data as { text: unknown };
    if (typeof text === 'string') return text;
  }
  return null;
}

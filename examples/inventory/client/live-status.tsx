import { type RegistrationStatus, useLiveStats } from './live-stats.js';

const STATUS_TEXT: Record<RegistrationStatus, string> = {
  idle: 'Not watching',
  registering: 'Connecting…',
  live: 'Live',
  error: 'Error',
};

/**
 * A small status bar: which tab this is, whether its subscription is live, how many push
 * messages reached it. Handy for a person comparing tabs, and for the browser tests.
 * @returns the status bar
 */
export function LiveStatus() {
  const { tabId, registration, pushes, watching } = useLiveStats();
  return (
    <aside className="live-status" aria-label="Live status">
      <span className={`status-dot status-${registration}`} aria-hidden="true" />
      <span data-testid="status-registration" data-status={registration}>
        {STATUS_TEXT[registration]}
        {watching ? ` · ${watching}` : ''}
      </span>
      <span className="status-sep" aria-hidden="true" />
      <span title={tabId}>
        Tab <code data-testid="status-tab">{tabId.slice(0, 8)}</code>
      </span>
      <span className="status-sep" aria-hidden="true" />
      <span>
        <strong data-testid="status-pushes">{pushes}</strong> {pushes === 1 ? 'push' : 'pushes'}
      </span>
    </aside>
  );
}

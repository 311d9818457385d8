import type { ClientMode } from '../../../link/index.js';
import { type RegistrationStatus, useLiveStats } from './live-stats.js';

const STATUS_TEXT: Record<RegistrationStatus, string> = {
  idle: 'Not watching',
  registering: 'Connecting…',
  live: 'Live',
  error: 'Error',
};

const MODE_TEXT: Record<ClientMode, string> = {
  connecting: 'connecting…',
  stream: 'over the live stream',
  push: 'by Web Push',
  offline: 'offline: catching up when back',
};

/**
 * A small status bar: whether this tab's subscription is live and how updates reach it (the
 * stream, or Web Push). Tab id and push counts are in the details, for a person comparing tabs
 * and for the browser tests.
 * @returns the status bar
 */
export function LiveStatus() {
  const { tabId, registration, mode, pushes, watching, resyncs, pushError } = useLiveStats();
  const live = registration === 'live';
  return (
    <aside className="live-status" aria-label="Live status">
      <span
        className={`status-dot status-${live && mode === 'offline' ? 'error' : registration}`}
        aria-hidden="true"
      />
      <span data-testid="status-registration" data-status={registration}>
        {STATUS_TEXT[registration]}
        {watching ? ` · ${watching}` : ''}
      </span>
      <span className="status-sep" aria-hidden="true" />
      <span data-testid="status-mode" data-mode={mode}>
        Updates {MODE_TEXT[mode]}
      </span>
      <details className="status-details">
        <summary>Details</summary>
        <dl>
          <dt>Tab</dt>
          <dd>
            <code data-testid="status-tab" title={tabId}>
              {tabId.slice(0, 8)}
            </code>
          </dd>
          <dt>Push messages</dt>
          <dd data-testid="status-pushes">{pushes}</dd>
          <dt>Resyncs</dt>
          <dd data-testid="status-resyncs">{resyncs}</dd>
          {pushError && (
            <>
              <dt>Push</dt>
              <dd data-testid="status-push-error">{pushError.code}</dd>
            </>
          )}
        </dl>
      </details>
    </aside>
  );
}

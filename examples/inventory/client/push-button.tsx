import { useState } from 'react';
import { LinkErrorCode } from '../../../link/index.js';
import { pushLink, useLiveStats } from './live-stats.js';

/** What to tell a person when push could not be turned on, by error code. */
const REFUSALS: Record<string, string> = {
  [LinkErrorCode.PermissionDenied]:
    'Notifications are blocked for this site. Live updates go on while the page is open.',
  [LinkErrorCode.PermissionDefault]:
    'No answer to the notification request. Live updates go on while the page is open.',
  [LinkErrorCode.Unsupported]:
    'This browser cannot receive background updates (on an iPhone, add the site to the home screen first).',
  [LinkErrorCode.SubscribeTimeout]:
    'The browser’s push service did not answer. Live updates go on over the stream.',
  [LinkErrorCode.PushServiceUnreachable]:
    'The browser’s push service cannot be reached. Live updates go on over the stream.',
  [LinkErrorCode.PushRefused]: 'The shop cannot push to this browser right now.',
};

/** Props of {@link PushButton}. */
export interface PushButtonProps {
  /** True once the background alert runs: the button gives way to a note. */
  active: boolean;
  /** Called once push is on, to start the background alert. */
  onEnabled?: () => void;
}

/**
 * Turns on Web Push from a click: the browser asks for the notification permission (it refuses
 * to ask without a click), and the page's registrations move from the stream to push.
 * @param props - see {@link PushButtonProps}
 * @returns the button, or a note once push and the alert are on
 */
export function PushButton({ active, onEnabled }: PushButtonProps) {
  const { mode } = useLiveStats();
  const [state, setState] = useState<{ busy: boolean; refusal: string | null }>({
    busy: false,
    refusal: null,
  });
  if (active && mode === 'push') {
    return (
      <p className="push-note" data-testid="push-on">
        Background updates are on: this tab holds no connection, and a notification tells you when
        the stock changes while the shop is closed.
      </p>
    );
  }
  const enable = async () => {
    setState({ busy: true, refusal: null });
    const result = await pushLink().enablePush();
    if (result.ok) onEnabled?.();
    setState({
      busy: false,
      refusal: result.ok ? null : (REFUSALS[result.error.code] ?? result.error.message),
    });
  };
  return (
    <div className="push-offer">
      <button
        type="button"
        className="button"
        data-testid="enable-push"
        disabled={state.busy}
        onClick={() => void enable()}
      >
        Notify me in the background
      </button>
      {state.refusal && (
        <p className="notice" role="status" data-testid="push-refusal">
          {state.refusal}
        </p>
      )}
    </div>
  );
}

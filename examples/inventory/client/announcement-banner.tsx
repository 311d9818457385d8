import { announcementText } from './announcement.js';
import { dismissAnnouncement, useLiveStats } from './live-stats.js';

/**
 * Shows the oldest shop announcement (a push that was not a GraphQL result) until dismissed.
 * @returns the banner, or nothing
 */
export function AnnouncementBanner() {
  const { announcements } = useLiveStats();
  if (announcements.length === 0) return null;
  const text = announcementText(announcements[0]) ?? 'The shop sent a notice.';
  return (
    <div className="announcement" role="status" data-testid="announcement">
      <span>{text}</span>
      <button type="button" className="announcement-close" onClick={dismissAnnouncement}>
        Dismiss
      </button>
    </div>
  );
}

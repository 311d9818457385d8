/** What the link does when the page changes state. */
export interface PageEventHandlers {
  /** The page became visible: check for messages missed while hidden. */
  onVisible(): void;
  /** The page is going away (reload, navigation, back/forward cache). */
  onPageHide(): void;
  /** The page came back from the back/forward cache. */
  onRestored(): void;
}

/**
 * Listens to `document` `visibilitychange` and `window` `pagehide`/`pageshow`, where they
 * exist (not in Node or workers).
 * @param handlers - see {@link PageEventHandlers}.
 * @returns a function that removes the listeners.
 */
export function listenToPage({ onVisible, onPageHide, onRestored }: PageEventHandlers): () => void {
  const removers: (() => void)[] = [];
  const doc = (globalThis as { document?: Document }).document;
  if (doc) {
    const onVisibility = () => {
      if (doc.visibilityState === 'visible') onVisible();
    };
    doc.addEventListener('visibilitychange', onVisibility);
    removers.push(() => doc.removeEventListener('visibilitychange', onVisibility));
  }
  const win = (globalThis as { window?: Window }).window;
  if (win) {
    const onHide = () => onPageHide();
    const onShow = (event: PageTransitionEvent) => {
      if (event.persisted) onRestored();
    };
    win.addEventListener('pagehide', onHide);
    win.addEventListener('pageshow', onShow);
    removers.push(() => {
      win.removeEventListener('pagehide', onHide);
      win.removeEventListener('pageshow', onShow);
    });
  }
  return () => {
    for (const remove of removers.splice(0)) remove();
  };
}

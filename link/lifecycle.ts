/** What the client does when the page changes state. */
export interface LifecycleHandlers {
  /** The page was hidden (another tab, minimised) or shown again. */
  onVisibility(hidden: boolean): void;
  /**
   * The page is going away: `persisted` when it goes into the back/forward cache (it may come
   * back, frozen meanwhile), else unloading (reload, navigation, close).
   */
  onPageHide(persisted: boolean): void;
  /** The page came back: from the back/forward cache, or from being frozen. */
  onResume(): void;
  /** The browser's network went up or down. */
  onNetwork(online: boolean): void;
}

/** True when the page is hidden now (`document.visibilityState`), false outside pages. */
export function pageHidden(): boolean {
  const doc = (globalThis as { document?: Document }).document;
  return doc?.visibilityState === 'hidden';
}

/** False only when a browser says it is offline (`navigator.onLine`). */
export function networkOnline(): boolean {
  const nav = (globalThis as { navigator?: Partial<Navigator> }).navigator;
  return nav?.onLine !== false;
}

/**
 * Listens to the page's lifecycle: `visibilitychange`, `pagehide`/`pageshow`, `freeze`/`resume`
 * (Chrome's Page Lifecycle) and `online`/`offline`, where they exist (not in Node or workers).
 * @param handlers - see {@link LifecycleHandlers}
 * @returns a function that removes the listeners
 */
export function listenToLifecycle(handlers: LifecycleHandlers): () => void {
  const removers: (() => void)[] = [];
  const on = (target: EventTarget | undefined, type: string, listener: (event: Event) => void) => {
    if (!target) return;
    target.addEventListener(type, listener);
    removers.push(() => target.removeEventListener(type, listener));
  };
  const doc = (globalThis as { document?: Document }).document;
  const win = (globalThis as { window?: Window }).window;
  on(doc, 'visibilitychange', () => handlers.onVisibility(doc?.visibilityState === 'hidden'));
  on(doc, 'resume', () => handlers.onResume());
  on(win, 'pagehide', (event) =>
    handlers.onPageHide((event as PageTransitionEvent).persisted === true),
  );
  on(win, 'pageshow', (event) => {
    if ((event as PageTransitionEvent).persisted) handlers.onResume();
  });
  on(win, 'online', () => handlers.onNetwork(true));
  on(win, 'offline', () => handlers.onNetwork(false));
  return () => {
    for (const remove of removers.splice(0)) remove();
  };
}

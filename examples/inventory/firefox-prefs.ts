/**
 * Firefox preferences that point its push client at a local push service, and nothing else: the
 * notification permission stays "ask", as for a first-time visitor. Shared by `npm run firefox`
 * and the browser tests.
 * @param pushServiceWsUrl - WebSocket URL of the push service (`ws://127.0.0.1:PORT/`).
 * @returns prefs for a profile's `user.js` or puppeteer's `extraPrefsFirefox`.
 * @remarks `dom.push.connection.enabled` is off under the remote agent's defaults.
 */
export function firefoxPushServicePrefs(
  pushServiceWsUrl: string,
): Record<string, string | number | boolean> {
  return {
    'dom.push.serverURL': pushServiceWsUrl,
    'dom.push.testing.allowInsecureServerURL': true,
    'dom.push.connection.enabled': true,
    // Headless machines have no D-Bus notification daemon.
    'alerts.useSystemBackend': false,
    // Keep a fresh profile quiet: no first-run pages, no update checks.
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.homepage_override.mstone': 'ignore',
    'datareporting.policy.dataSubmissionEnabled': false,
    'app.update.enabled': false,
  };
}

/**
 * The push service prefs plus a granted notification permission, for the suites about the push
 * path only: without a prompt nobody answers, `subscribe()` would wait forever. The quota is
 * raised because those suites send many silent pushes while no tab of the origin is visible.
 * @param pushServiceWsUrl - WebSocket URL of the push service.
 * @returns prefs for puppeteer's `extraPrefsFirefox`.
 */
export function firefoxGrantedPushPrefs(
  pushServiceWsUrl: string,
): Record<string, string | number | boolean> {
  return {
    ...firefoxPushServicePrefs(pushServiceWsUrl),
    'dom.push.testing.ignorePermission': true,
    'permissions.default.desktop-notification': 1,
    'dom.push.maxQuotaPerSubscription': 1000,
  };
}

import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import {
  firefoxGrantedPushPrefs,
  firefoxPushServicePrefs,
} from '../../examples/inventory/firefox-prefs.js';

/** Where Debian's `firefox-esr` package puts its binary. */
export const FIREFOX_PATH = '/usr/bin/firefox-esr';

/** Options of {@link launchFirefox}. */
export interface LaunchFirefoxOptions {
  /** WebSocket URL of the local push service (`dom.push.serverURL`). */
  pushServiceWsUrl: string;
  /**
   * `granted`: the notification permission is granted up front (the push-path suites only);
   * `ask`: Firefox's default, as for a first-time visitor; `denied`: blocked.
   * @defaultValue 'granted'
   */
  permission?: 'granted' | 'ask' | 'denied';
  /** More prefs, over these. */
  prefs?: Record<string, string | number | boolean>;
  /**
   * Run without a window.
   * @defaultValue true
   */
  headless?: boolean;
}

/**
 * Starts Firefox over WebDriver BiDi with a fresh profile whose push client talks to the given
 * push service.
 * @param options - see {@link LaunchFirefoxOptions}.
 * @returns the puppeteer browser; close it when done.
 * @remarks Throws when the binary is missing instead of skipping: a browser suite that does not
 * run must fail loudly.
 */
export async function launchFirefox({
  pushServiceWsUrl,
  headless = true,
  permission = 'granted',
  prefs = {},
}: LaunchFirefoxOptions): Promise<Browser> {
  if (!existsSync(FIREFOX_PATH)) {
    throw new Error(
      `Firefox not found at ${FIREFOX_PATH}. Install it with: apt-get install -y firefox-esr`,
    );
  }
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless,
    extraPrefsFirefox: {
      ...(permission === 'granted'
        ? firefoxGrantedPushPrefs(pushServiceWsUrl)
        : firefoxPushServicePrefs(pushServiceWsUrl)),
      ...(permission === 'denied' ? { 'permissions.default.desktop-notification': 2 } : {}),
      ...prefs,
    },
  });
}

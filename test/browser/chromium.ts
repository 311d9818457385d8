import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

/** Where Debian's `chromium` package puts its binary. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /**
   * Run without a window.
   * @defaultValue true
   */
  headless?: boolean;
}

/**
 * Starts Chromium over the DevTools Protocol with a fresh user data dir, removed on close.
 * @param options - see {@link LaunchChromiumOptions}.
 * @returns the puppeteer browser; close it when done.
 * @remarks Offline, Chromium cannot create a push subscription (its push service is Google's), so
 * tests inject pushes with `ServiceWorker.deliverPushMessage`. Throws when the binary is missing.
 */
export async function launchChromium({
  headless = true,
}: LaunchChromiumOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it with: apt-get install -y chromium`,
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'gwp-chromium-'));
  const browser = await puppeteer.launch({
    browser: 'chrome',
    executablePath: CHROMIUM_PATH,
    headless,
    userDataDir,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Chromium writes to its profile until the process is gone, so clean up on exit, not on
  // disconnect.
  browser.process()?.once('exit', () => {
    try {
      rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // A leftover temporary directory is not worth failing a test run for.
    }
  });
  return browser;
}

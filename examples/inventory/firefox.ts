/**
 * `npm run firefox`: opens a visible Firefox with a fresh profile whose push client talks to the
 * example's local push service, at the example's URL. Start `npm start` first. Without a display
 * it says what works instead: the browser suites, `MOZ_HEADLESS=1`, or forwarding the ports.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firefoxPushServicePrefs } from './firefox-prefs.js';

const FIREFOX = '/usr/bin/firefox-esr';
const port = Number(process.env.PORT ?? 4000);
const pushPort = Number(process.env.PUSH_PORT ?? 4001);
const url = `http://localhost:${port}/`;

if (!existsSync(FIREFOX)) {
  console.error(`Firefox not found at ${FIREFOX}. Install it with: apt-get install -y firefox-esr`);
  process.exit(1);
}

// Firefox without a display exits with "no DISPLAY environment variable specified"; say what
// works on a machine without a screen instead. MOZ_HEADLESS is Firefox's own switch.
const headless = Boolean(process.env.MOZ_HEADLESS);
if (!headless && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  console.error(
    [
      'No display (DISPLAY and WAYLAND_DISPLAY are unset), and `npm run firefox` opens a window.',
      'Without a screen:',
      '  npx vitest run test/browser/firefox.test.ts',
      '      headless Firefox driven through this example, the push path included, with assertions',
      '  MOZ_HEADLESS=1 npm run firefox',
      '      Firefox without a window on the page: live on the stream, but nobody can click',
      '      "Notify me in the background", which the push path needs',
      'To click through it, forward both ports from a machine with a screen, and run',
      '`npm run firefox` in a checkout there:',
      `  ssh -L ${port}:localhost:${port} -L ${pushPort}:localhost:${pushPort} <this machine>`,
    ].join('\n'),
  );
  process.exit(1);
}

// A fresh profile: the push prefs apply to it alone, and nothing is left behind.
const profile = mkdtempSync(join(tmpdir(), 'inventory-firefox-'));
// As a first-time visitor: the page asks for the notification permission when you click.
const prefs = firefoxPushServicePrefs(`ws://127.0.0.1:${pushPort}/`);
writeFileSync(
  join(profile, 'user.js'),
  Object.entries(prefs)
    .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});`)
    .join('\n'),
);

console.log(`Opening ${url} in ${headless ? 'headless ' : ''}Firefox (profile ${profile})`);
const firefox = spawn(FIREFOX, ['--no-remote', '--profile', profile, '--new-instance', url], {
  stdio: 'inherit',
});
const cleanUp = () => rmSync(profile, { recursive: true, force: true });
firefox.on('exit', (code) => {
  cleanUp();
  process.exit(code ?? 0);
});
process.on('SIGINT', () => firefox.kill('SIGTERM'));

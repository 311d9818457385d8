/**
 * `npm run firefox`: opens a visible Firefox with a fresh profile whose push client talks to the
 * example's local push service, at the example's URL. Start `npm start` first.
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

console.log(`Opening ${url} in Firefox (profile ${profile})`);
const firefox = spawn(FIREFOX, ['--no-remote', '--profile', profile, '--new-instance', url], {
  stdio: 'inherit',
});
const cleanUp = () => rmSync(profile, { recursive: true, force: true });
firefox.on('exit', (code) => {
  cleanUp();
  process.exit(code ?? 0);
});
process.on('SIGINT', () => firefox.kill('SIGTERM'));

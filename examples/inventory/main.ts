/**
 * `npm start`: the live-inventory example on fixed ports, with a local push service and VAPID
 * keys kept in `.vapid.json` beside this file.
 */
import { fileURLToPath } from 'node:url';
import { startPushService } from '../../push-service/index.js';
import { exitIfBusy } from './busy-port.js';
import { startInventoryServer } from './server.js';

/** Port of the page and GraphQL endpoint. */
const port = Number(process.env.PORT ?? 4000);
/** Port of the local push service; `npm run firefox` points Firefox's push client at it. */
const pushPort = Number(process.env.PUSH_PORT ?? 4001);

const pushService = await startPushService({ port: pushPort }).catch(
  exitIfBusy('PUSH_PORT', pushPort),
);
const server = await startInventoryServer({
  port,
  pushService,
  vapidFile: fileURLToPath(new URL('./.vapid.json', import.meta.url)),
}).catch(exitIfBusy('PORT', port));

console.log(`Live inventory: ${server.url}`);
console.log(`Push service:   ${pushService.url} (Firefox connects to ${pushService.wsUrl})`);
console.log('');
console.log('Open it in a Firefox whose push client uses this push service:');
console.log('  npm run firefox');
console.log('Then open a product, open the same product in a second tab, and buy one.');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  await pushService.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/**
 * `npm run start:cluster`: the live-inventory example as two instances on the Redis store
 * (`REDIS_URL`, redis://127.0.0.1:6379 by default) behind a round-robin balancer on `PORT`, with
 * one local push service on `PUSH_PORT`: scale-out, seen locally.
 */
import { fileURLToPath } from 'node:url';
import { startPushService } from '../../push-service/index.js';
import { exitIfBusy } from './busy-port.js';
import { startCluster } from './cluster.js';
import { loadOrCreateVapid } from './vapid-file.js';

const COMMAND = 'npm run start:cluster';
const port = Number(process.env.PORT ?? 4000);
const pushPort = Number(process.env.PUSH_PORT ?? 4001);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The keys of `npm start`: a browser subscribed there stays subscribed here.
const vapid = await loadOrCreateVapid(fileURLToPath(new URL('./.vapid.json', import.meta.url)));
const pushService = await startPushService({ port: pushPort }).catch(
  exitIfBusy('PUSH_PORT', pushPort, COMMAND),
);
const cluster = await startCluster({ vapid, pushService, redisUrl, port })
  .catch(exitIfBusy('PORT', port, COMMAND))
  .catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });

const [first] = cluster.instances;
console.log(`Live inventory on ${cluster.instances.length} instances: ${cluster.url}`);
for (const instance of cluster.instances) {
  console.log(`  instance ${instance.name}: ${instance.url} (pid ${instance.pid})`);
}
console.log(`Push service: ${pushService.url} (Firefox connects to ${pushService.wsUrl})`);
console.log(`Stock, registrations and events are in Redis at ${redisUrl}.`);
console.log('');
console.log('The balancer sends each request to the next instance; the x-inventory-instance');
console.log('response header says which answered. Open a product in two tabs and buy one; then');
console.log(`  kill -9 ${first?.pid ?? '<pid>'}`);
console.log('and buy again: the other instance adopts the registrations within the lease (5 s),');
console.log('and the tabs stay live. `npm run firefox` opens a Firefox for push.');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await cluster.close();
  await pushService.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
